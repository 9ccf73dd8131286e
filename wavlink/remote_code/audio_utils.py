"""Audio decoding and validation shared by the processors (soundfile + soxr; no torchaudio).

This file is copied into remote-code model folders, so it imports only numpy, soundfile, soxr and the
standard library.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_CHANNELS = 16
HEADER_BYTES = 1 << 16  # how much of a file the truncation check reads


def _riff_data_sizes(head: bytes, size: int) -> tuple[int, int] | None:
    """(declared, present) bytes of the ``data`` chunk of a RIFF/RF64 WAVE file, or None if unknown."""
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        return None
    pos, ds64 = 12, None
    while pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if chunk == b"ds64" and pos + 32 <= len(head):
            ds64 = struct.unpack("<Q", head[pos + 16:pos + 24])[0]  # riff size, data size, sample count
        if chunk == b"data":
            declared = ds64 if head[:4] == b"RF64" and length == 0xFFFFFFFF else length
            if declared in (0, 0xFFFFFFFF, None):  # streamed files leave the size unset
                return None
            return declared, size - (pos + 8)
        pos += 8 + length + (length & 1)
    return None


def _aiff_frames(head: bytes, size: int) -> tuple[int, int] | None:
    """(declared, present) sample frames of an AIFF/AIFC file, or None if unknown."""
    if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    pos, frames, frame_bytes = 12, None, None
    while pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], struct.unpack(">I", head[pos + 4:pos + 8])[0]
        if chunk == b"COMM" and pos + 16 <= len(head):
            channels, frames, bits = struct.unpack(">hIh", head[pos + 8:pos + 16])
            frame_bytes = channels * ((bits + 7) // 8)
        if chunk == b"SSND" and frames is not None and frame_bytes and pos + 16 <= len(head):
            offset = struct.unpack(">I", head[pos + 8:pos + 12])[0]
            if head[8:12] == b"AIFC" and head.find(b"NONE", 12, pos) < 0 and head.find(b"sowt", 12, pos) < 0:
                return None  # compressed AIFC: bytes do not map to frames
            return frames, max(0, size - (pos + 16 + offset)) // frame_bytes
        pos += 8 + length + (length & 1)
    return None


def truncation_problem(source: str | os.PathLike | bytes | bytearray) -> str | None:
    """A sentence when a WAV or AIFF file holds fewer samples than its header declares (a cut-short download or
    copy; libsndfile then quietly reports and decodes only what is there), else None."""
    if isinstance(source, (bytes, bytearray)):
        head, size = bytes(source[:HEADER_BYTES]), len(source)
    else:
        try:
            with open(source, "rb") as f:
                head = f.read(HEADER_BYTES)
            size = os.path.getsize(source)
        except OSError:
            return None  # missing / unreadable files are reported by the decoder
    wav = _riff_data_sizes(head, size)
    if wav is not None and wav[1] < wav[0]:
        return (f"truncated file: its header declares {wav[0]:,} bytes of audio but only {max(wav[1], 0):,} are "
                "there (an interrupted copy or download?)")
    aiff = _aiff_frames(head, size)
    if aiff is not None and aiff[1] < aiff[0]:
        return f"truncated file: its header declares {aiff[0]:,} sample frames but only {aiff[1]:,} are there"
    return None


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
    problem = truncation_problem(source)
    if problem:
        raise ValueError(f"{name}: {problem}")
    try:
        with sf.SoundFile(opened) as f:
            total, rate = f.frames, f.samplerate
            exact_count = f.format not in ("MPEG", "OGG")
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
    if data.shape[0] < frames and exact_count:  # compressed streams (MP3, Ogg) only estimate their length
        raise ValueError(f"{name}: truncated file: {frames:,} frames were expected from its header but only "
                         f"{data.shape[0]:,} could be decoded")
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


__all__ = ["coerce_audio", "decode_audio", "truncation_problem", "is_batch", "load_audio_file", "prepare_waveform", "to_mono", "to_numpy"]
