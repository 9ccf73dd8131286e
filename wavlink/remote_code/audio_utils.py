"""Audio decoding and validation shared by the processors (soundfile + soxr; no torchaudio).

This file is copied into remote-code model folders, so it imports only numpy, soundfile, soxr and the
standard library.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_CHANNELS = 16


def decode_audio(
    source: str | os.PathLike | bytes,
    sampling_rate: int,
    *,
    max_seconds: float | None = None,
    start_fraction: float | None = None,
    name: str | None = None,
) -> np.ndarray:
    """Decode a file path or encoded bytes to mono float32 at `sampling_rate`: the one decoder of the package
    (processors, training, evaluation and inference all come here). Clear errors for missing, empty or
    corrupt input and NaN samples.

    With `max_seconds`, only a window of that length is read: at the start (`start_fraction=None`, the
    deterministic choice used at inference and evaluation), or at `start_fraction` of the slack (training crops).
    """
    import io

    import soundfile as sf

    if isinstance(source, (bytes, bytearray)):
        name = name or "audio bytes"
        if len(source) == 0:
            raise ValueError(f"{name}: empty audio bytes")
        opened: Any = io.BytesIO(source)
    else:
        path = os.fspath(source)
        where = f"{name}: " if name and name != path else ""  # e.g. the manifest row the path came from
        name = name or path
        if not os.path.isfile(path):
            raise ValueError(f"{where}audio file not found: {path}")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{where}audio file is empty (0 bytes): {path}")
        opened = path
    try:
        with sf.SoundFile(opened) as f:
            total, rate = f.frames, f.samplerate
            start, frames = 0, total
            if max_seconds is not None:
                window = int(round(max_seconds * rate))
                if total > window:
                    frames = window
                    if start_fraction is not None:
                        start = min(max(int(start_fraction * (total - window + 1)), 0), total - window)
            if start:
                f.seek(start)
            data = f.read(frames, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise ValueError(f"cannot decode audio {name}: {err}") from err
    if data.shape[0] == 0:
        raise ValueError(f"audio has no samples: {name}")
    return prepare_waveform(data.mean(axis=1), rate, sampling_rate, resample=True, name=name)


def load_audio_file(path: str | os.PathLike, sampling_rate: int) -> np.ndarray:
    """Decode a whole file (see `decode_audio`)."""
    return decode_audio(path, sampling_rate)


def to_numpy(audio: Any) -> np.ndarray:
    """Convert a torch tensor, list or array to a float32 numpy array without importing torch."""
    if hasattr(audio, "detach") and hasattr(audio, "cpu"):
        audio = audio.detach().cpu().float().numpy()
    arr = np.asarray(audio)
    if arr.dtype == object:
        raise ValueError("audio must be a numeric array, not a ragged list or objects")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"audio must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        # PCM integers: scale to [-1, 1] as decoders do.
        info = np.iinfo(arr.dtype)
        arr = arr.astype(np.float32) / max(abs(info.min), info.max)
    return arr.astype(np.float32, copy=False)


def to_mono(arr: np.ndarray, name: str = "audio") -> np.ndarray:
    """Mix (channels, samples) or (samples, channels) to mono; the smaller axis is taken as channels."""
    if arr.ndim == 1:
        return arr
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 1-D waveform or 2-D (channels, samples) array, got shape {tuple(arr.shape)}"
        )
    channel_axis = 0 if arr.shape[0] <= arr.shape[1] else 1
    if arr.shape[channel_axis] > MAX_CHANNELS:
        raise ValueError(f"{name}: array of shape {tuple(arr.shape)} does not look like multi-channel audio")
    return arr.mean(axis=channel_axis)


def prepare_waveform(
    audio: Any,
    source_rate: int | None,
    target_rate: int,
    *,
    resample: bool = True,
    name: str = "audio",
) -> np.ndarray:
    """Validate one waveform and bring it to mono float32 at `target_rate`."""
    arr = to_mono(to_numpy(audio), name)
    if arr.size == 0:
        raise ValueError(f"{name}: zero-length audio")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: audio contains NaN or inf values")
    source_rate = target_rate if source_rate is None else int(source_rate)
    if source_rate <= 0:
        raise ValueError(f"{name}: invalid sampling rate {source_rate}")
    if source_rate != target_rate:
        if not resample:
            raise ValueError(
                f"{name}: sampling rate {source_rate} Hz differs from the model's {target_rate} Hz and "
                "resampling is disabled; resample the audio or pass resample=True"
            )
        import soxr

        arr = soxr.resample(arr, source_rate, target_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(arr, dtype=np.float32)


def coerce_audio(
    audio: Any, sampling_rate: int | None, target_rate: int, *, resample: bool = True, name: str = "audio"
) -> np.ndarray:
    """One audio item of any accepted form: path, encoded bytes, `{"array", "sampling_rate"}` or `datasets`
    `{"bytes", "path"}` dict, array, tensor, list."""
    if isinstance(audio, (str, os.PathLike, bytes, bytearray)):
        return decode_audio(audio, target_rate, name=None if isinstance(audio, (str, os.PathLike)) else name)
    if isinstance(audio, Mapping):
        if audio.get("array") is None and audio.get("bytes") is not None:  # an undecoded `datasets` Audio cell
            return decode_audio(audio["bytes"], target_rate, name=audio.get("path") or name)
        if "array" not in audio:
            raise ValueError(f"{name}: an audio dict needs an 'array' key (and 'sampling_rate'), got {list(audio)}")
        if audio.get("path") and audio.get("array") is None:
            return decode_audio(audio["path"], target_rate)
        return prepare_waveform(
            audio["array"], audio.get("sampling_rate", sampling_rate), target_rate, resample=resample, name=name
        )
    return prepare_waveform(audio, sampling_rate, target_rate, resample=resample, name=name)


def is_batch(audio: Any) -> bool:
    """Whether `audio` is a list of clips rather than one clip."""
    if isinstance(audio, (str, os.PathLike, bytes, bytearray, Mapping)):
        return False
    if isinstance(audio, (list, tuple)):
        if len(audio) == 0:
            return True
        first = audio[0]
        return not isinstance(first, (int, float, np.integer, np.floating))
    ndim = getattr(audio, "ndim", None)
    if ndim == 3:
        raise ValueError(
            f"audio array of shape {tuple(audio.shape)} is 3-D; pass a list of 1-D waveforms or 2-D "
            "(channels, samples) arrays"
        )
    return False


__all__ = ["coerce_audio", "decode_audio", "is_batch", "load_audio_file", "prepare_waveform", "to_mono", "to_numpy"]
