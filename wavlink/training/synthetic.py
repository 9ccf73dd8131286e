"""A toy captioned-audio set generated on the fly (tones, noise, clicks, sweeps), for tests and demos.

Each kind of sound has a caption that describes it, so a model can learn the pairing in seconds on a CPU;
the random variations (pitch, level, duration, noise seed) keep clips of one kind distinct.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDS = (
    "a low hum",
    "a high beep",
    "white noise",
    "clicks",
    "a rising sweep",
    "a beeping alarm",
    "rumbling low noise",
    "near silence",
)


def synth_clip(kind: str, rng: np.random.Generator, seconds: float, sr: int = 16000) -> np.ndarray:
    """One float32 clip of a kind from `SOUNDS`."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    if kind == "a low hum":
        x = 0.5 * np.sin(2 * np.pi * rng.uniform(90, 130) * t)
    elif kind == "a high beep":
        x = 0.5 * np.sin(2 * np.pi * rng.uniform(2800, 3400) * t)
    elif kind == "white noise":
        x = 0.3 * rng.standard_normal(n)
    elif kind == "clicks":
        x = np.zeros(n)
        x[:: int(sr * rng.uniform(0.08, 0.12))] = 0.9
    elif kind == "a rising sweep":
        f0, f1 = 200.0, 4000.0
        x = 0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))
    elif kind == "a beeping alarm":
        x = 0.5 * np.sin(2 * np.pi * 1000 * t) * ((t * 4) % 1 < 0.5)
    elif kind == "rumbling low noise":
        x = np.cumsum(rng.standard_normal(n))
        x = x - np.convolve(x, np.ones(400) / 400, "same")
        x = 0.3 * x / np.abs(x).max()
    elif kind == "near silence":
        x = 0.001 * rng.standard_normal(n)
    else:
        raise ValueError(f"unknown sound kind {kind!r}; choose from {SOUNDS}")
    return (x * rng.uniform(0.6, 1.0)).astype(np.float32)


def make_toy_dataset(
    root: str | os.PathLike,
    per_kind: int = 6,
    val_per_kind: int = 1,
    kinds: tuple[str, ...] = SOUNDS,
    seconds: tuple[float, float] = (0.8, 1.6),
    seed: int = 0,
    sr: int = 16000,
) -> Path:
    """Write ``root/audio/*.wav`` and ``root/data.csv`` (audio, caption, split); returns the manifest path."""
    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for k, kind in enumerate(kinds):
        for i in range(per_kind + val_per_kind):
            name = f"audio/{k}_{i}.wav"
            sf.write(root / name, synth_clip(kind, rng, float(rng.uniform(*seconds)), sr), sr)
            rows.append({"audio": name, "caption": kind, "split": "validation" if i >= per_kind else "train"})
    manifest = root / "data.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, ["audio", "caption", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


__all__ = ["SOUNDS", "make_toy_dataset", "synth_clip"]
