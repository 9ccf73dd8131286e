"""The real audio sources of the default model: Debian packages whose sound files carry descriptive names.

Each `Source` is data: the package, the licence its Debian copyright file states for the files used, marker
strings that file must contain (else the source is skipped as "licence unclear"), where the audio lies (a
folder of the package, or a zip archive inside it), which paths to keep, words that every name of the source
shares (stop words), and a cap so that no source dominates. `fetch_package` downloads a .deb with
`apt-get download` (no root needed) and unpacks only audio, archives and the copyright file.

Licences were read from each package's /usr/share/doc/<package>/copyright in Debian 12 (bookworm); where a
package mixes licences, every licence that file lists for the sound assets is named.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_EXTENSIONS = (".wav", ".ogg", ".oga", ".flac", ".mp3")


@dataclass(frozen=True)
class Source:
    name: str
    package: str
    licence: str
    markers: tuple[str, ...]
    root: str  # folder inside the package, or inside `archive`
    archive: str | None = None  # zip file inside the package holding the audio
    include: str = r".*"  # regex on the path relative to `root`
    exclude: str | None = None
    stopwords: tuple[str, ...] = ()
    file_only: bool = False  # caption words from the file name only (folder names are kit / faction names)
    fixed: str | None = None  # one phrase for every clip (names carry no meaning, e.g. key codes)
    music: str | None = None  # regex: these paths are music ("game music" + teacher classes)
    phrases: dict[str, str] = field(default_factory=dict)  # name prefix -> phrase (overrides name words)
    cap: int = 400
    description: str = ""


def _s(*words: str) -> tuple[str, ...]:
    return tuple(w for text in words for w in text.split())


SOURCES: tuple[Source, ...] = (
    Source("scratch", "scratch", "CC-BY-SA-3.0 (Scratch media library) / GPL-2", ("CC-BY-SA-3.0",),
           "usr/share/scratch/Media/Sounds", stopwords=_s("vocals human electronic instruments percussion"),
           music=r"^Music Loops/", description="Scratch 1.4 sound library (Animal, Effects, Human, ...)"),
    Source("minetest", "minetest-data", "CC-BY-SA-3.0 / CC-BY-3.0 / CC0-1.0 (per mod)", ("CC-BY-SA-3.0", "CC0"),
           "usr/share/games/minetest/games/minetest_game/mods", exclude=r"soundstuff",
           stopwords=_s("env xpanes carts tnt doors node nodes dug"), description="Minetest game mods"),
    Source("wesnoth", "wesnoth-1.16-data", "GPL-2+", ("GNU General Public License",),
           "usr/share/games/wesnoth/1.16/data/core/sounds", description="Battle for Wesnoth unit sounds"),
    Source("lmms", "lmms-common", "GPL-2+ / CC-BY-SA-3 / CC-BY-SA-4 (samples)", ("GPL-2+",),
           "usr/share/lmms/samples", stopwords=_s("shapes stringsnpads bassloops beats"),
           description="LMMS sample library"),
    Source("hydrogen", "hydrogen-drumkits", "GPL-2+ / CC-BY-3.0 / CC-BY-SA-3.0 / CC0 (per kit)",
           ("CC-BY-SA-3.0", "GPL-2"), "usr/share/hydrogen/data/drumkits", file_only=True, cap=350,
           stopwords=_s("ee amp nz hardest softest medium vp"), description="Hydrogen drum kits"),
    Source("sonic-pi", "sonic-pi-samples", "CC0 (131 files) / CC-BY-SA-4.0 / MIT", ("CC0",),
           "usr/share/sonic-pi/samples", phrases={
               "ambi_choir": "an ambient choir", "ambi_drone": "an ambient drone", "ambi_piano": "ambient piano",
               "ambi_glass": "a glass humming", "ambi_haunted_hum": "a haunted hum", "ambi_swoosh": "a swoosh",
               "ambi_dark_woosh": "a dark whoosh", "ambi_soft_buzz": "a soft buzz",
               "ambi_lunar_land": "a spacey rumble", "bass_": "a synth bass note", "bd_": "a kick drum",
               "drum_cowbell": "a cowbell", "drum_cymbal": "a cymbal", "drum_snare": "a snare drum",
               "drum_tom": "a tom drum", "drum_roll": "a drum roll", "drum_heavy_kick": "a heavy kick drum",
               "drum_bass": "a bass drum", "drum_splash": "a splash cymbal", "elec_": "an electronic blip",
               "glitch_": "glitchy electronic noise", "guit_": "an electric guitar",
               "loop_amen": "a breakbeat drum loop", "loop_breakbeat": "a breakbeat drum loop",
               "loop_tabla": "a tabla rhythm", "loop_industrial": "an industrial drum loop", "loop_": "a drum loop",
               "mehackit_phone": "a phone ringing", "mehackit_robot": "a robot voice", "misc_burp": "someone burping",
               "misc_crow": "a crow cawing", "misc_cineboom": "a cinematic boom", "perc_bell": "a bell",
               "perc_door": "a door", "perc_snap": "a finger snap", "perc_impact": "an impact",
               "perc_swoosh": "a swoosh", "perc_till": "a cash register", "sn_": "a snare drum", "tabla_": "a tabla",
               "vinyl_scratch": "a vinyl scratch", "vinyl_hiss": "vinyl hiss", "vinyl_": "a vinyl record rewinding",
           }, description="Sonic Pi sample pack"),
    Source("supertuxkart", "supertuxkart-data", "CC-BY-SA-3.0 / CC-BY-3.0 / CC-BY-4.0 / GPL (per file)",
           ("CC-BY-SA-3.0",), "usr/share/games/supertuxkart/data", include=r"^(sfx|music|tracks)/",
           stopwords=_s("sfx tracks karts stk"), music=r"^music/", description="SuperTuxKart sound effects"),
    Source("redeclipse", "redeclipse-data", "CC-BY-SA-3.0 / CC-BY-3.0 / CC0-1.0 (per file)", ("CC-BY-SA-3.0",),
           "usr/share/games/redeclipse/data/sounds", stopwords=_s("primary secondary notify"),
           description="Red Eclipse weapons, voices, announcer"),
    Source("widelands", "widelands-data", "GPL-2+ / CC-BY-SA-3.0", ("GPL-2",), "usr/share/games/widelands/data",
           include=r"^(sound|music|world)/", stopwords=_s("atlanteans barbarians empire frisians world critters"),
           music=r"^music/", description="Widelands animals, crafts, music"),
    Source("megaglest", "megaglest-data", "CC-BY-SA-3.0 / GPL-2+", ("CC-BY-SA-3.0",), "usr/share/games/megaglest",
           cap=500, stopwords=_s("persian magic norsemen indian egypt tech romans data core dr ele"),
           music=r"/music/", description="MegaGlest unit and tileset sounds"),
    Source("warzone2100", "warzone2100-data", "GPL-2+ / CC-BY-SA-3.0 / CC0 (per file)", ("GPL-2",), "audio",
           archive="usr/share/games/warzone2100/base.wz", stopwords=_s("memressp missmesg cmndrvoc sfx interfce"),
           description="Warzone 2100 sound effects and spoken messages"),
    Source("0ad", "0ad-data", "CC-BY-SA-3.0 (art and sound) / GPL-2+", ("CC-BY-SA-3.0",), "audio",
           archive="usr/share/games/0ad/mods/public/public.zip", cap=700,
           stopwords=_s("napatan persian greek latin sp attack actor singlesteps complete"),
           music=r"^music/", description="0 A.D. ambience, fauna, weapons, voices"),
    Source("hedgewars", "hedgewars-data", "GPL-2 / CC-BY-SA-3.0 / GFDL-1.3 (per file)", ("GPL-2",),
           "usr/share/games/hedgewars/Data", include=r"^(Sounds|Music)/", cap=300,
           stopwords=_s("voices default es de"), music=r"^Music/", description="Hedgewars effects and voice packs"),
    Source("lincity-ng", "lincity-ng-data", "GPL-2+", ("GPL-2+",), "usr/share/games/lincity-ng",
           include=r"^(sounds|music)/", music=r"^music/", description="LinCity-NG city sounds"),
    Source("supertux", "supertux-data", "GPL-2+ / GPL-3+ / CC-BY-SA (per file)", ("GPL-2+",),
           "usr/share/games/supertux2", include=r"^(sounds|music)/", music=r"^music/", cap=200,
           description="SuperTux effects and music"),
    Source("wordwarvi", "wordwarvi-sound", "GPL-2.0+ / CC-BY-SA-3.0", ("GPL-2.0+",), "usr/share/wordwarvi/sounds",
           description="Word War vi effects"),
    Source("bucklespring", "bucklespring-data", "GPL-2+", ("GPL-2+",), "usr/share/buckle/wav", cap=60,
           fixed="a mechanical keyboard key click", description="IBM Model M key recordings"),
    Source("oxygen", "oxygen-sounds", "LGPL-3.0-or-later", ("LGPL-3.0",), "usr/share/sounds",
           stopwords=_s("oxygen sys app im kde k3b"), description="KDE Oxygen desktop sounds"),
    Source("freedesktop", "sound-theme-freedesktop", "CC-BY-SA-3.0 / CC-BY-3.0 / GPL-2+", ("CC-BY-SA-3.0",),
           "usr/share/sounds/freedesktop/stereo", stopwords=_s("channel front rear center"),
           description="freedesktop.org sound theme"),
    Source("gnome-audio", "gnome-audio", "CC-BY-SA-2.0 / CC-BY-3.0", ("creativecommons.org/licenses",),
           "usr/share/sounds", stopwords=_s("gtk events panel"), description="GNOME sounds"),
    Source("tuxpaint", "tuxpaint-data", "GPL-2+ / public domain (per file)", ("GPL-2",), "usr/share/tuxpaint/sounds",
           description="Tux Paint tool sounds"),
    Source("frozen-bubble", "frozen-bubble-data", "GPL-2", ("GPL-2",), "usr/share/games/frozen-bubble/snd",
           stopwords=_s("mainzik"), description="Frozen Bubble effects"),
    Source("extremetuxracer", "extremetuxracer-data", "GPL-2+ / CC0", ("GPL-2+",), "usr/share/games/etr",
           include=r"^(sounds|music)/", music=r"^music/", description="Extreme Tux Racer effects"),
    Source("chromium-bsu", "chromium-bsu-data", "Clarified Artistic", ("Clarified-Artistic",),
           "usr/share/games/chromium-bsu/wav", description="Chromium B.S.U. effects"),
    Source("pingus", "pingus-data", "GPL-2+", ("GNU General Public License",), "usr/share/games/pingus/data/sounds",
           description="Pingus effects"),
    Source("nexuiz", "nexuiz-data", "GPL-2+", ("GNU General Public License",), "sound",
           archive="usr/share/games/nexuiz/data/data.pk3", cap=300,
           stopwords=_s("player pyria skadi carni lycan fricka torus ctf"), description="Nexuiz effects and voices"),
)


def fetch_package(package: str, cache: Path, log) -> Path | None:
    """Download (once) and unpack a Debian package's audio, archives and copyright; None when unavailable."""
    debs, tree = cache / "debs", cache / "tree" / package
    done = tree / ".unpacked"
    if done.is_file():
        return tree
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        if shutil.which("apt-get") is None:
            log(f"{package}: skipped: apt-get is not available to download it")
            return None
        run = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if run.returncode or not found:
            log(f"{package}: skipped: apt-get download failed: {run.stderr.strip().splitlines()[-1:]}")
            return None
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    patterns = ["*.wav", "*.ogg", "*.oga", "*.flac", "*.mp3", "*.zip", "*.wz", "*.pk3", "*/copyright",
                "*.txt.gz"]
    tar = subprocess.run(
        f"dpkg-deb --fsys-tarfile '{found[-1]}' | tar -x -C '{tree}' --wildcards " + " ".join(f"'{p}'" for p in patterns),
        shell=True, capture_output=True, text=True)
    if not (tree / "usr/share/doc" / package / "copyright").is_file():
        log(f"{package}: skipped: unpacking gave no copyright file ({tar.stderr.strip()[:200]})")
        return None
    done.write_text(found[-1].name + "\n")
    return tree


def package_version(tree: Path) -> str:
    return (tree / ".unpacked").read_text().strip().split("_")[1]


def licence_problem(source: Source, tree: Path) -> str | None:
    """Why the package's licence cannot be confirmed for this source, or None when it is confirmed."""
    path = tree / "usr/share/doc" / source.package / "copyright"
    if not path.is_file():
        return f"no copyright file at /usr/share/doc/{source.package}/copyright"
    text = path.read_text(errors="replace")
    missing = [m for m in source.markers if m.lower() not in text.lower()]
    return f"copyright file does not state {missing}" if missing else None


def audio_members(source: Source, tree: Path) -> Iterator[tuple[str, str | bytes]]:
    """(path relative to the source root, file path or bytes) of every audio file the source keeps."""
    include = re.compile(source.include)
    exclude = re.compile(source.exclude) if source.exclude else None

    def keep(rel: str) -> bool:
        return (rel.lower().endswith(AUDIO_EXTENSIONS) and include.search(rel) is not None
                and not (exclude and exclude.search(rel)))

    if source.archive:
        archive = tree / source.archive
        if not archive.is_file():
            return
        with zipfile.ZipFile(archive) as zf:
            prefix = source.root.rstrip("/") + "/"
            for name in sorted(zf.namelist()):
                if name.startswith(prefix) and keep(name[len(prefix):]):
                    yield name[len(prefix):], zf.read(name)
        return
    root = tree / source.root
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and keep(rel):
            yield rel, str(path)
