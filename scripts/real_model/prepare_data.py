"""Prepare the real training and evaluation data of the default WavLink model (issue 7).

Sources (nothing from the Hub):
- ESC-50 subset in ../shared/data/esc50 (40 classes, CC BY-NC 3.0): folds 1-4 train, fold 5 evaluation.
- General MIDI instruments and drum sounds rendered with fluidsynth from two Debian soundfonts:
  FluidR3_GM (fluid-soundfont-gm, MIT) for training, TimGM6mb (timgm6mb-soundfont, GPL-2) for evaluation only.
- Debian sonic-pi-samples (mostly CC0): weakly labelled extra variety, training only.
- The package's bundled CC0 animal clips: zero-shot evaluation only.

Captions come from labels through several templates (seeded, so the data set is reproducible), so the
model does not learn one fixed sentence per class.

    python scripts/real_model/prepare_data.py --out runs/data
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

GM_PROGRAMS = [
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano",
    "electric piano", "electric piano", "harpsichord", "clavinet", "celesta", "glockenspiel", "music box",
    "vibraphone", "marimba", "xylophone", "tubular bells", "dulcimer", "drawbar organ", "percussive organ",
    "rock organ", "church organ", "reed organ", "accordion", "harmonica", "tango accordion",
    "acoustic guitar", "acoustic guitar", "electric guitar", "electric guitar", "electric guitar",
    "overdriven guitar", "distortion guitar", "guitar harmonics", "acoustic bass", "electric bass",
    "electric bass", "fretless bass", "slap bass", "slap bass", "synth bass", "synth bass", "violin", "viola",
    "cello", "contrabass", "tremolo strings", "pizzicato strings", "orchestral harp", "timpani",
    "string ensemble", "string ensemble", "synth strings", "synth strings", "choir aahs", "voice oohs",
    "synth voice", "orchestra hit", "trumpet", "trombone", "tuba", "muted trumpet", "french horn",
    "brass section", "synth brass", "synth brass", "soprano sax", "alto sax", "tenor sax", "baritone sax",
    "oboe", "english horn", "bassoon", "clarinet", "piccolo", "flute", "recorder", "pan flute",
    "blown bottle", "shakuhachi", "whistle", "ocarina", "square wave synth lead", "sawtooth synth lead",
    "calliope", "chiff synth lead", "charang", "synth voice lead", "synth fifths", "bass and lead synth",
    "new age synth pad", "warm synth pad", "polysynth pad", "choir pad", "bowed glass pad", "metallic pad",
    "halo pad", "sweep pad", "rain effect", "soundtrack effect", "crystal effect", "atmosphere effect",
    "brightness effect", "goblins effect", "echoes effect", "sci-fi effect", "sitar", "banjo", "shamisen",
    "koto", "kalimba", "bagpipe", "fiddle", "shanai", "tinkle bell", "agogo", "steel drums", "woodblock",
    "taiko drum", "melodic tom", "synth drum", "reverse cymbal", "guitar fret noise", "breath noise",
    "seashore", "bird tweet", "telephone ring", "helicopter", "applause", "gunshot",
]
GM_DRUMS = {
    35: "bass drum", 36: "bass drum", 37: "side stick", 38: "snare drum", 39: "hand clap", 40: "snare drum",
    41: "floor tom", 42: "closed hi-hat", 43: "floor tom", 44: "pedal hi-hat", 45: "tom drum",
    46: "open hi-hat", 47: "tom drum", 48: "tom drum", 49: "crash cymbal", 50: "tom drum", 51: "ride cymbal",
    52: "chinese cymbal", 53: "ride bell", 54: "tambourine", 55: "splash cymbal", 56: "cowbell",
    57: "crash cymbal", 58: "vibraslap", 59: "ride cymbal", 60: "bongo", 61: "bongo", 62: "conga",
    63: "conga", 64: "conga", 65: "timbale", 66: "timbale", 67: "agogo bell", 68: "agogo bell", 69: "cabasa",
    70: "maracas", 71: "whistle", 72: "whistle", 73: "guiro", 74: "guiro", 75: "claves", 76: "wood block",
    77: "wood block", 78: "cuica", 79: "cuica", 80: "triangle", 81: "triangle",
}
INSTRUMENT_TEMPLATES = [
    "{} playing a melody", "the sound of a {}", "{} notes", "a {} playing", "solo {}",
    "someone playing the {}", "a short {} phrase", "music played on a {}",
]
DRUM_TEMPLATES = ["a {} hit", "the sound of a {}", "{} being struck", "a {} played a few times",
                  "percussion: {}", "someone playing a {}"]
SOUND_TEMPLATES = [
    "the sound of {}", "{} can be heard", "a recording of {}", "{}", "{} in the background",
    "a clip of {}", "{} nearby", "sounds of {}",
]
ESC_NAMES = {  # ESC-50 label -> natural phrase used in captions
    "chirping_birds": "birds chirping", "vacuum_cleaner": "a vacuum cleaner", "thunderstorm": "a thunderstorm",
    "door_wood_knock": "knocking on a wooden door", "can_opening": "a can being opened",
    "crow": "a crow cawing", "clapping": "people clapping", "fireworks": "fireworks", "chainsaw": "a chainsaw",
    "airplane": "an airplane", "mouse_click": "a mouse clicking", "pouring_water": "water being poured",
    "train": "a train", "sheep": "a sheep bleating", "water_drops": "water dripping",
    "church_bells": "church bells ringing", "clock_alarm": "an alarm clock ringing",
    "keyboard_typing": "typing on a keyboard", "wind": "wind blowing", "footsteps": "footsteps",
    "frog": "a frog croaking", "cow": "a cow mooing", "brushing_teeth": "someone brushing teeth",
    "car_horn": "a car horn honking", "crackling_fire": "a crackling fire", "helicopter": "a helicopter",
    "drinking_sipping": "someone sipping a drink", "rain": "rain falling", "insects": "insects buzzing",
    "laughing": "people laughing", "hen": "a hen clucking", "engine": "an engine running",
    "breathing": "someone breathing", "crying_baby": "a baby crying", "hand_saw": "a hand saw cutting",
    "coughing": "someone coughing", "glass_breaking": "glass breaking", "snoring": "someone snoring",
    "toilet_flush": "a toilet flushing", "pig": "a pig oinking", "washing_machine": "a washing machine",
    "clock_tick": "a clock ticking", "sneezing": "someone sneezing", "rooster": "a rooster crowing",
    "sea_waves": "sea waves crashing", "siren": "a siren wailing", "cat": "a cat meowing",
    "door_wood_creaks": "a creaking door", "crickets": "crickets chirping", "dog": "a dog barking",
}
SONIC_PI = {  # sample name prefix -> phrase (weak labels)
    "ambi_choir": "an ambient choir", "ambi_drone": "an ambient drone", "ambi_piano": "ambient piano",
    "ambi_glass": "a glass humming", "ambi_haunted_hum": "a haunted hum", "ambi_swoosh": "a swoosh",
    "ambi_dark_woosh": "a dark whoosh", "ambi_soft_buzz": "a soft buzz", "ambi_lunar_land": "a spacey rumble",
    "bass_": "a synth bass note", "bd_": "a kick drum", "drum_cowbell": "a cowbell",
    "drum_cymbal": "a cymbal", "drum_snare": "a snare drum", "drum_tom": "a tom drum",
    "drum_roll": "a drum roll", "drum_heavy_kick": "a heavy kick drum", "drum_bass": "a bass drum",
    "drum_splash": "a splash cymbal", "elec_": "an electronic blip", "glitch_": "glitchy electronic noise",
    "guit_": "an electric guitar", "loop_amen": "a breakbeat drum loop", "loop_breakbeat": "a breakbeat drum loop",
    "loop_tabla": "a tabla rhythm", "loop_industrial": "an industrial drum loop", "loop_": "a drum loop",
    "mehackit_phone": "a phone ringing", "mehackit_robot": "a robot voice", "misc_burp": "someone burping",
    "misc_crow": "a crow cawing", "misc_cineboom": "a cinematic boom", "perc_bell": "a bell",
    "perc_door": "a door", "perc_snap": "a finger snap", "perc_impact": "an impact", "perc_swoosh": "a swoosh",
    "perc_till": "a cash register", "sn_": "a snare drum", "tabla_": "a tabla", "vinyl_scratch": "a vinyl scratch",
    "vinyl_hiss": "vinyl hiss", "vinyl_": "a vinyl record rewinding",
}
SR = 16000


def _midi_file(program: int | None, notes: list[tuple[int, float, float]], velocity: int, path: Path) -> None:
    """Write a one-track type-0 MIDI file (drums on channel 10 when program is None)."""
    channel = 9 if program is None else 0
    tpq = 480  # ticks per quarter; tempo 120 bpm -> 960 ticks per second
    events: list[tuple[int, bytes]] = []
    if program is not None:
        events.append((0, bytes([0xC0 | channel, program])))
    for pitch, start, dur in notes:
        events.append((int(start * 960), bytes([0x90 | channel, pitch, velocity])))
        events.append((int((start + dur) * 960), bytes([0x80 | channel, pitch, 0])))
    events.sort(key=lambda e: e[0])
    track, last = bytearray(), 0
    for tick, msg in events:
        delta, buf = tick - last, [tick - last & 0x7F]
        delta >>= 7
        while delta:
            buf.insert(0, (delta & 0x7F) | 0x80)
            delta >>= 7
        track += bytes(buf) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track)


def _render(sf2: str, midi: Path, out: Path, seconds: float) -> bool:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(SR), "-F", tmp.name, sf2, str(midi)],
                       check=True, capture_output=True)
        audio, sr = sf.read(tmp.name, dtype="float32", always_2d=True)
    audio = audio.mean(1)[: int(seconds * SR)]
    if sr != SR or np.abs(audio).max() < 1e-3:
        return False
    sf.write(out, audio / max(1.0, np.abs(audio).max()), SR, subtype="PCM_16")
    return True


def render_soundfont(sf2: str, out_dir: Path, rng: random.Random, variants: int) -> list[dict]:
    """Each GM instrument and drum sound, `variants` clips each with different pitches/rhythms."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for program, name in enumerate(GM_PROGRAMS):
            for v in range(variants):
                base = rng.choice([48, 55, 60, 67, 72]) if program not in range(32, 40) else rng.choice([36, 43])
                steps = [rng.choice([0, 2, 4, 5, 7, 9, 12]) for _ in range(rng.randint(3, 6))]
                dur = 3.5 / len(steps)
                notes = [(base + s, i * dur, dur * 0.9) for i, s in enumerate(steps)]
                midi, wav = Path(tmp) / "x.mid", out_dir / f"gm{program:03d}_{v}.wav"
                _midi_file(program, notes, rng.randint(70, 120), midi)
                if _render(sf2, midi, wav, 4.0):
                    rows.append({"audio": str(wav), "label": name, "kind": "instrument"})
        for key, name in GM_DRUMS.items():
            for v in range(max(1, variants - 1)):
                hits = [(key, i * rng.choice([0.25, 0.4, 0.5]), 0.2) for i in range(rng.randint(2, 6))]
                midi, wav = Path(tmp) / "x.mid", out_dir / f"drum{key}_{v}.wav"
                _midi_file(None, hits, rng.randint(70, 120), midi)
                if _render(sf2, midi, wav, 3.0):
                    rows.append({"audio": str(wav), "label": name, "kind": "drum"})
    return rows


def caption(label: str, kind: str, rng: random.Random) -> str:
    templates = {"instrument": INSTRUMENT_TEMPLATES, "drum": DRUM_TEMPLATES}.get(kind, SOUND_TEMPLATES)
    return rng.choice(templates).format(label)


def sonic_pi_rows(folder: str = "/usr/share/sonic-pi/samples") -> list[dict]:
    rows = []
    if not os.path.isdir(folder):
        return rows
    for name in sorted(os.listdir(folder)):
        stem = name.rsplit(".", 1)[0]
        phrase = next((v for k, v in SONIC_PI.items() if stem.startswith(k)), None)
        if phrase and name.endswith(".flac"):
            rows.append({"audio": os.path.join(folder, name), "label": phrase, "kind": "sound"})
    return rows


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(f"{path}: {len(rows)} rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/data")
    ap.add_argument("--esc50", default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "esc50"))
    ap.add_argument("--variants", type=int, default=3)
    ap.add_argument("--captions-per-clip", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    esc = Path(args.esc50)
    with open(esc / "manifest.csv") as f:
        esc_rows = [{"audio": str(esc / r["audio"]), "label": ESC_NAMES[r["label"]], "kind": "sound",
                     "fold": int(r["fold"]), "esc_label": r["label"]} for r in csv.DictReader(f)]
    train = [r for r in esc_rows if r["fold"] != 5]
    test = [r for r in esc_rows if r["fold"] == 5]
    train += render_soundfont("/usr/share/sounds/sf2/FluidR3_GM.sf2", out / "fluidr3", rng, args.variants)
    train += sonic_pi_rows()
    timgm = render_soundfont("/usr/share/sounds/sf2/TimGM6mb.sf2", out / "timgm6mb", random.Random(1), 1)

    train_caps = [{"audio": r["audio"], "caption": caption(r["label"], r["kind"], rng), "split": "train"}
                  for r in train for _ in range(args.captions_per_clip)]
    # validation: a slice of ESC fold 4 clips with fresh captions, to watch retrieval during training. These
    # clips are ALSO training clips (with other captions), so the number it gives is optimistic: it monitors
    # optimisation only. The held-out evaluation sets are fold 5, the TimGM6mb renders and the CC0 animals.
    val = [r for r in esc_rows if r["fold"] == 4][::4]
    train_caps += [{"audio": r["audio"], "caption": caption(r["label"], "sound", rng), "split": "validation"}
                   for r in val]
    write_csv(out / "train.csv", train_caps, ["audio", "caption", "split"])
    write_csv(out / "esc50_fold5_zeroshot.csv", [{"audio": r["audio"], "label": r["esc_label"]} for r in test],
              ["audio", "label"])
    write_csv(out / "esc50_fold5_retrieval.csv",
              [{"audio": r["audio"], "caption": caption(r["label"], "sound", rng)} for r in test],
              ["audio", "caption"])
    write_csv(out / "timgm6mb_instruments.csv",
              [{"audio": r["audio"], "label": r["label"]} for r in timgm if r["kind"] == "instrument"],
              ["audio", "label"])
    sounds = Path(__file__).resolve().parents[2] / "wavlink" / "assets" / "sounds"
    write_csv(out / "animals_cc0.csv",
              [{"audio": str(p), "label": p.stem} for p in sorted(sounds.glob("*.flac"))], ["audio", "label"])


if __name__ == "__main__":
    main()
