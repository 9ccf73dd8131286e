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


def load_audio_file(path: str | os.PathLike, sampling_rate: int) -> np.ndarray:
    """Decode a file to mono float32 at `sampling_rate`; clear errors for missing, empty or corrupt files."""
    import soundfile as sf

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"audio file is empty (0 bytes): {path}")
    try:
        data, file_sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise ValueError(f"cannot decode audio file {path}: {err}") from err
    if data.shape[0] == 0:
        raise ValueError(f"audio file has no samples: {path}")
    mono = data.mean(axis=1)
    return prepare_waveform(mono, file_sr, sampling_rate, resample=True, name=path)


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
    """One audio item of any accepted form: path, `{"array", "sampling_rate"}` dict, array, tensor, list."""
    if isinstance(audio, (str, os.PathLike)):
        return load_audio_file(audio, target_rate)
    if isinstance(audio, Mapping):
        if "array" not in audio:
            raise ValueError(f"{name}: an audio dict needs an 'array' key (and 'sampling_rate'), got {list(audio)}")
        if audio.get("path") and audio.get("array") is None:
            return load_audio_file(audio["path"], target_rate)
        return prepare_waveform(
            audio["array"], audio.get("sampling_rate", sampling_rate), target_rate, resample=resample, name=name
        )
    return prepare_waveform(audio, sampling_rate, target_rate, resample=resample, name=name)


def is_batch(audio: Any) -> bool:
    """Whether `audio` is a list of clips rather than one clip."""
    if isinstance(audio, (str, os.PathLike, Mapping)):
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


__all__ = ["coerce_audio", "is_batch", "load_audio_file", "prepare_waveform", "to_mono", "to_numpy"]
