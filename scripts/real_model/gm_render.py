"""General MIDI instruments and drum sounds rendered with fluidsynth from a soundfont (labelled music audio).

FluidR3_GM (Debian fluid-soundfont-gm, MIT) is rendered for training, TimGM6mb (timgm6mb-soundfont, GPL-2) for
evaluation only, so the instrument test measures a soundfont the model never heard. The MIDI files are
written here (type 0, one track): a few notes of a seeded melody per instrument, a few hits per drum sound.
"""

from __future__ import annotations

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
