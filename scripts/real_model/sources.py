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
    archive: str | None = None  # archive(s) inside the package holding the audio (a glob for several)
    archive_format: str = "zip"  # zip (also .pk3 / .wz) | rcc (Qt resources) | cat (OpenTTD sound bank)
    include: str = r".*"  # regex on the path relative to `root`
    exclude: str | None = None
    stopwords: tuple[str, ...] = ()
    file_only: bool = False  # caption words from the file name only (folder names are kit / faction names)
    fixed: str | None = None  # one phrase for every clip (names carry no meaning, e.g. key codes)
    music: str | None = None  # regex: these paths are music ("game music" + teacher classes)
    phrases: dict[str, str] = field(default_factory=dict)  # name prefix -> phrase (overrides name words)
    cap: int = 3000  # clips (windows); the build also caps every source's share of the hours
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
           ("CC-BY-SA-3.0", "GPL-2"), "usr/share/hydrogen/data/drumkits", file_only=True, cap=600,
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
           cap=1500, stopwords=_s("persian magic norsemen indian egypt tech romans data core dr ele"),
           music=r"/music/", description="MegaGlest unit and tileset sounds"),
    Source("warzone2100", "warzone2100-data", "GPL-2+ / CC-BY-SA-3.0 / CC0 (per file)", ("GPL-2",), "audio",
           archive="usr/share/games/warzone2100/base.wz", stopwords=_s("memressp missmesg cmndrvoc sfx interfce"),
           description="Warzone 2100 sound effects and spoken messages"),
    Source("0ad", "0ad-data", "CC-BY-SA-3.0 (art and sound) / GPL-2+", ("CC-BY-SA-3.0",), "audio",
           archive="usr/share/games/0ad/mods/public/public.zip", cap=3000,
           stopwords=_s("napatan persian greek latin sp attack actor singlesteps complete"),
           music=r"^music/", description="0 A.D. ambience, fauna, weapons, voices"),
    Source("hedgewars", "hedgewars-data", "GPL-2 / CC-BY-SA-3.0 / GFDL-1.3 (per file)", ("GPL-2",),
           "usr/share/games/hedgewars/Data", include=r"^(Sounds|Music)/", cap=1000,
           stopwords=_s("voices default es de"), music=r"^Music/", description="Hedgewars effects and voice packs"),
    Source("lincity-ng", "lincity-ng-data", "GPL-2+", ("GPL-2+",), "usr/share/games/lincity-ng",
           include=r"^(sounds|music)/", music=r"^music/", description="LinCity-NG city sounds"),
    Source("supertux", "supertux-data", "GPL-2+ / GPL-3+ / CC-BY-SA (per file)", ("GPL-2+",),
           "usr/share/games/supertux2", include=r"^(sounds|music)/", music=r"^music/", cap=600,
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
           archive="usr/share/games/nexuiz/data/data.pk3", cap=1000,
           stopwords=_s("player pyria skadi carni lycan fricka torus ctf"), description="Nexuiz effects and voices"),
    # --- added for the teacher-distilled default model (issue 24): more named sound libraries and music
    Source("openarena", "openarena-data", "GPL-2+", ("GPL-2",), "sound",
           archive="usr/share/games/openarena/baseoa/pak0.pk3", stopwords=_s("feedback items movers misc"),
           description="OpenArena weapons, items, world and player sounds"),
    Source("trigger-rally", "trigger-rally-data", "CC0 / CC-BY-3.0 / CC-BY-SA-3.0 / GPL-2+ (per file)", ("CC0",),
           "sounds", archive="usr/share/games/trigger-rally/data.zip", stopwords=_s("codriver ab paula tim"),
           description="Trigger Rally engine, skid and co-driver voice sounds"),
    Source("flightgear", "flightgear-data-base", "GPL-2+", ("GPL-2",), "usr/share/games/flightgear",
           include=r"(^|/)Sounds/", stopwords=_s("sounds aircraft c172p instruments 3d mk viii female glider"),
           description="FlightGear aircraft, engine, weather and cockpit sounds"),
    Source("freedroidrpg", "freedroidrpg-data", "GPL-2+ / CC0-1.0 / CC-BY-SA (per file)", ("GPL-2",),
           "usr/share/freedroidrpg/data/sound", music=r"^music/",
           stopwords=_s("effects bot sounds samples tux ingame comments item"), description="FreedroidRPG sounds"),
    Source("tuxtype", "tuxtype-data", "GPL-2 / public domain (per file)", ("GPL-2",), "usr/share/tuxtype/sounds",
           music=r"(chiptune|raindrops|tuxi|music)", description="Tux Typing effects and music"),
    Source("wesnoth-music", "wesnoth-1.16-music", "GPL-2+", ("GPL-2",), "usr/share/games/wesnoth/1.16/data/core/music",
           music=r".", description="Battle for Wesnoth music"),
    Source("asterisk-moh", "asterisk-moh-opsound-wav", "CC-BY-SA-3.0 (opsound.org music on hold)",
           ("Creative Commons Attribution-ShareAlike",), "usr/share/asterisk/moh", music=r".",
           description="Asterisk music on hold (opsound.org)"),
    Source("simutrans", "simutrans-pak64", "Artistic-1.0", ("Artistic",), "usr/share/games/simutrans/pak/sound",
           description="Simutrans pak64 vehicle and industry sounds"),
    Source("xmoto", "xmoto-data", "GPL-2+", ("GPL-2",), "usr/share/games/xmoto/Textures/Musics", music=r".",
           description="X-Moto music"),
    Source("openttd", "openttd-opensfx", "CC-BY-SA-3.0 / CC-BY-3.0 / CC0 (per sound, named in the bank)",
           ("CC-BY-SA-3.0",), "", archive="usr/share/games/openttd/baseset/opensfx/opensfx.cat", archive_format="cat",
           description="OpenSFX: OpenTTD trains, vehicles, ships, aircraft and industry sounds"),
    Source("gcompris", "gcompris-qt-data", "CC-BY-SA-3.0 / CC-BY-SA-4.0 / CC-BY / GPL-3+ / public domain (per file)",
           ("CC-BY-SA-3.0",), "gcompris/src/activities", archive="usr/share/gcompris-qt/rcc/*.rcc",
           archive_format="rcc", stopwords=_s("resource resources sounds sound"),
           description="GCompris activities: animals, instruments, world music, everyday sounds"),
    Source("naev", "naev-data", "CC-BY-3.0 / CC-BY-SA-3.0 / GPL-3 (per file)", ("CC-BY-SA-3.0",),
           "usr/share/naev/dat/snd", music=r"^music/", stopwords=_s("sounds"), description="Naev space effects, music"),
    Source("flare", "flare-game", "CC-BY-SA-3.0 / GPL-3+", ("CC-BY-SA-3.0",),
           "usr/share/games/flare/mods/fantasycore", include=r"^(soundfx|music)/", music=r"^music/",
           stopwords=_s("soundfx powers"), description="Flare RPG creatures, steps, spells, environment"),
    Source("freeorion", "freeorion-data", "CC-BY-SA-3.0 / GPL-2", ("CC-BY-SA-3.0",),
           "usr/share/games/freeorion/default/data/sound", description="FreeOrion interface and combat sounds"),
    Source("freeciv", "freeciv-data", "GPL-2+ / CC0-1.0 / public domain (per file)", ("GPL-2",),
           "usr/share/games/freeciv", include=r"^(stdsounds|stdmusic)/", music=r"^stdmusic/",
           stopwords=_s("stdsounds"), description="Freeciv unit and event sounds"),
    Source("sound-icons", "sound-icons", "GPL-2+", ("GPL-2",), "usr/share/sounds/sound-icons",
           description="sound icons for speech interfaces"),
    Source("freedink", "freedink-data", "GPL-3 / Artistic / free (per file)", ("GPL-3",),
           "usr/share/games/dink/dink/Sound", description="FreeDink effects"),
    Source("enigma", "enigma-data", "GPL-2+", ("GNU General Public License",), "usr/share/games/enigma",
           include=r"^(soundsets|music)/", music=r"^music/", stopwords=_s("soundsets enigma"),
           description="Enigma puzzle game sounds and music"),
    Source("boswars", "boswars-data", "GPL-2+", ("GPL-2",), "usr/share/games/boswars",
           stopwords=_s("units sounds"), music=r"^music/", description="Bos Wars unit and building sounds"),
    Source("marsshooter", "marsshooter-data", "GPL-3+ / CC-BY-SA-3.0 / CC0-1.0 (per file)", ("GPL-3",),
           "usr/share/games/marsshooter/audio", music=r"^music/", stopwords=_s("toon"),
           description="M.A.R.S. effects, announcer and music"),
    Source("pinball", "pinball-data", "GPL-2 / CC0 (per file)", ("GPL-2",), "usr/share/games/pinball",
           stopwords=_s("tux professor"), description="Emilia Pinball table sounds"),
    Source("freecol", "freecol", "GPL-2+ / CC-BY-SA-3.0 / CC0-1.0 (per file)", ("GPL-2",),
           "usr/share/games/freecol/default/resources", include=r"^(sound|music)/", music=r"^(music|sound/anthem)/",
           stopwords=_s("sound event"), description="FreeCol event, attack and anthem sounds, music"),
    Source("ardentryst", "ardentryst", "GPL-3.0+ / CC-BY-SA-3.0", ("CC-BY-SA-3.0",), "usr/share/games/ardentryst",
           include=r"^(Sounds|Music)/", music=r"^Music/", stopwords=_s("sounds nyx pyr"),
           description="Ardentryst action RPG sounds and music"),
    Source("torcs", "torcs-data", "GPL-2+", ("GPL-2",), "usr/share/games/torcs/data", include=r"^(sound|music)/",
           music=r"^music/", stopwords=_s("sound"), description="TORCS engines, skids, crashes"),
    Source("sauerbraten", "cube2-data", "CC-BY-3.0 / CC0-1.0 / public domain / ZLIB (per pack)", ("CC-BY-3.0",),
           "usr/share/games/cube2/packages/sounds", stopwords=_s("q009 aard 0ad"),
           description="Cube 2: Sauerbraten weapon, item and player sounds"),
    Source("warmux", "warmux-data", "GPL-2+", ("GPL-2",), "usr/share/games/warmux/sound",
           stopwords=_s("default"), music=r"^music/", description="Warmux weapons, voices, effects"),
    Source("scorched3d", "scorched3d-data", "GPL-2+ / CC-BY-SA-3 (per file)", ("GPL-2",),
           "usr/share/games/scorched3d/data", include=r"/wav/", stopwords=_s("globalmods none apoc data wav misc"),
           description="Scorched 3D weapons, explosions, ambience"),
    Source("pokerth", "pokerth-data", "GPL-3+ / GPL-2+ (per file)", ("GPL-3",), "usr/share/games/pokerth/sounds",
           stopwords=_s("default"), description="PokerTH card and chip sounds"),
    Source("powermanga", "powermanga-data", "GPL-3+", ("GPL-3",), "usr/share/games/powermanga",
           include=r"^sounds?/", stopwords=_s("handheld console"), description="Powermanga effects"),
    Source("tuxmath", "tuxmath-data", "GPL-3+ / CC-BY-SA-3.0 / public domain (per file)", ("GPL-3",),
           "usr/share/tuxmath/sounds", music=r"(tuxi|game|music)", description="TuxMath effects and music"),
    Source("tuxfootball", "tuxfootball", "GPL-2+", ("GPL-2",), "usr/share/games/tuxfootball/sound",
           description="Tux Football crowd, whistle and kick sounds"),
    Source("amoebax", "amoebax-data", "GPL-2+", ("GPL-2",), "usr/share/games/amoebax", include=r"^(music|sfx)/",
           music=r"^music/", description="Amoebax effects and music"),
    Source("bzflag", "bzflag-data", "LGPL-2.1 / GPL-2+ / public domain (per file)", ("LGPL-2.1",),
           "usr/share/games/bzflag", description="BZFlag tank game effects"),
    Source("abe", "abe-data", "GPL-2+", ("GPL-2",), "usr/share/games/abe/sounds", description="Abe's Amazing Adventure"),
    Source("atanks", "atanks-data", "GPL-2+ / CC0-1.0 (per file)", ("GPL-2",), "usr/share/games/atanks/sound",
           description="Atomic Tanks weapons and explosions"),
    Source("funnyboat", "funnyboat", "GPL-2 / public domain (per file)", ("GPL-2",), "usr/share/games/funnyboat/data",
           music=r"(music|theme|title)", description="Funny Boat effects and music"),
    Source("holotz-castle", "holotz-castle-data", "GPL-2+", ("GPL-2",), "usr/share/games/holotz-castle/game/sound",
           description="Holotz's Castle effects"),
    Source("glob2", "glob2-data", "GPL-3", ("GPL-3",), "usr/share/games/glob2/data/zik", music=r".",
           description="Globulation 2 music"),
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
    patterns = ["*.wav", "*.ogg", "*.oga", "*.flac", "*.mp3", "*.zip", "*.wz", "*.pk3", "*.rcc", "*.cat",
                "*/copyright", "*.txt.gz"]
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
        from archives import READERS

        archives = sorted(tree.glob(source.archive))
        prefix = source.root.rstrip("/") + "/" if source.root else ""
        for archive in archives:
            want = lambda name: name.startswith(prefix) and keep(name[len(prefix):])  # noqa: E731
            for name, blob in READERS[source.archive_format](archive, want):
                yield name[len(prefix):], blob
        return
    root = tree / source.root
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and keep(rel):
            yield rel, str(path)
