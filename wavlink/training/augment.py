"""Training-time audio augmentation: gain, additive noise, pitch shift, and mixing two clips.

All of it is off by default and never runs at evaluation or inference. Every random choice comes from the
example's generator (seed, epoch, index), so a resumed run sees exactly the augmented audio an uninterrupted one
would, whatever the number of DataLoader workers.

* gain: a uniform gain in ``[-gain_db, +gain_db]`` dB (Whisper's log-mel is not gain-invariant);
* noise: with probability ``noise_p``, white or pink noise at an SNR drawn from ``noise_snr_db``;
* pitch: with probability ``pitch_p``, resampling by ``2 ** (s / 12)`` for s uniform in
  ``[-pitch_semitones, +pitch_semitones]`` (pitch and tempo move together, as tape speed does);
* mix: with probability ``mix_p``, another training clip is added at a relative level from ``mix_snr_db`` and
  the captions are joined ("rain" + "a dog barking" -> "rain and a dog barking"); teacher scores of the two
  clips combine by element-wise maximum (both sounds are present).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

FIELDS_HELP = "gain_db, noise_p, noise_snr_db, pitch_p, pitch_semitones, mix_p, mix_snr_db"


@dataclass
class AugmentConfig:
    gain_db: float = 0.0
    noise_p: float = 0.0
    noise_snr_db: tuple[float, float] = (10.0, 30.0)
    pitch_p: float = 0.0
    pitch_semitones: float = 2.0
    mix_p: float = 0.0
    mix_snr_db: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self) -> None:
        self.noise_snr_db = _pair(self.noise_snr_db, "noise_snr_db")
        self.mix_snr_db = _pair(self.mix_snr_db, "mix_snr_db")
        for name in ("noise_p", "pitch_p", "mix_p"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"augment.{name} must be a probability in [0, 1], got {value}")
            setattr(self, name, value)
        for name in ("gain_db", "pitch_semitones"):
            value = float(getattr(self, name))
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"augment.{name} must be a non-negative number, got {value}")
            setattr(self, name, value)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | AugmentConfig | None) -> AugmentConfig:
        if isinstance(data, AugmentConfig):
            return data
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown augment option(s) {unknown}; valid: {FIELDS_HELP}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @property
    def active(self) -> bool:
        return bool(self.gain_db or self.noise_p or self.pitch_p or self.mix_p)


def _pair(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"augment.{name} must be a [low, high] pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"augment.{name} must be a finite [low, high] pair with low <= high, got {value!r}")
    return lo, hi


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if wave.size else 0.0


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise by shaping white noise's spectrum (unit RMS)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return noise / max(_rms(noise), 1e-12)


def add_at_snr(signal: np.ndarray, other: np.ndarray, snr_db: float) -> np.ndarray:
    """signal + other scaled so that RMS(signal) / RMS(other) = snr_db (other tiled or cut to the length)."""
    if other.size == 0 or signal.size == 0:
        return signal
    if len(other) < len(signal):
        other = np.tile(other, int(np.ceil(len(signal) / len(other))))
    other = other[: len(signal)]
    level = _rms(other)
    if level < 1e-9:
        return signal
    target = max(_rms(signal), 1e-4) / (10 ** (snr_db / 20))
    return signal + other * (target / level)


def pitch_shift(wave: np.ndarray, semitones: float, sampling_rate: int) -> np.ndarray:
    """Play `wave` 2**(semitones/12) times faster (higher and shorter for positive semitones)."""
    factor = 2 ** (semitones / 12)
    return soxr.resample(wave, sampling_rate * factor, sampling_rate).astype(np.float32)


def augment_wave(wave: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, sampling_rate: int) -> np.ndarray:
    """Gain, pitch and noise of one clip (mixing is done by the dataset, which knows the other clips)."""
    wave = np.asarray(wave, dtype=np.float32)
    if cfg.pitch_p and rng.random() < cfg.pitch_p and len(wave) > 1:
        wave = pitch_shift(wave, float(rng.uniform(-cfg.pitch_semitones, cfg.pitch_semitones)), sampling_rate)
    if cfg.gain_db:
        wave = wave * np.float32(10 ** (rng.uniform(-cfg.gain_db, cfg.gain_db) / 20))
    if cfg.noise_p and rng.random() < cfg.noise_p:
        noise = rng.standard_normal(len(wave)) if rng.random() < 0.5 else pink_noise(len(wave), rng)
        wave = add_at_snr(wave, noise.astype(np.float32), float(rng.uniform(*cfg.noise_snr_db)))
    return clip_peak(wave)


def mix_clips(wave: np.ndarray, other: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`other` added to `wave` at `snr_db` (RMS of the two sounds themselves): a shorter `other` starts at a
    random offset, a longer one is cut to `wave`'s length."""
    other = np.asarray(other, dtype=np.float32)[: len(wave)]
    if other.size == 0 or _rms(other) < 1e-9:
        return wave
    level = _rms(other)
    start = int(rng.integers(0, len(wave) - len(other) + 1))
    placed = np.zeros_like(wave)
    placed[start:start + len(other)] = other * np.float32(max(_rms(wave), 1e-4) / (10 ** (snr_db / 20)) / level)
    return clip_peak(wave + placed)


def clip_peak(wave: np.ndarray) -> np.ndarray:
    """Scale down (never up) so that the waveform stays within [-1, 1]."""
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    return (wave / peak if peak > 1.0 else wave).astype(np.float32)


def join_captions(first: str, second: str) -> str:
    """'the sound of rain' + 'A dog barking.' -> 'the sound of rain and a dog barking'."""
    first, second = first.strip().rstrip("."), second.strip().rstrip(".")
    if second[:1].isupper() and not second[1:2].isupper():
        second = second[:1].lower() + second[1:]
    return f"{first} and {second}"


__all__ = [
    "AugmentConfig", "add_at_snr", "augment_wave", "clip_peak", "join_captions", "mix_clips", "pink_noise",
    "pitch_shift",
]
