"""Audio probing for manifests: is a clip there, readable, how long (header only unless asked to decode it).
Decoding is `decode_audio` of the remote code, re-exported here, so there is one decoder in the package.
"""

from __future__ import annotations

import io
import os

import numpy as np

from ..remote_code.audio_utils import decode_audio


def probe_audio(data: str | bytes | None, deep: bool = False) -> tuple[float | None, str | None]:
    """(duration in seconds, problem or None), reading only the header unless `deep`."""
    import soundfile as sf

    if data is None:
        return None, "no audio (neither path nor bytes)"
    if isinstance(data, str):
        if not os.path.exists(data):
            return None, "file not found"
        if not os.path.isfile(data):
            return None, "not a file"
        if os.path.getsize(data) == 0:
            return None, "empty file (0 bytes)"
    elif len(data) == 0:
        return None, "empty audio bytes"
    try:
        with sf.SoundFile(io.BytesIO(data) if isinstance(data, bytes) else data) as f:
            frames, rate = f.frames, f.samplerate
            if frames <= 0:
                return None, "zero-length audio"
            if deep:
                wave = f.read(dtype="float32")
                if wave.size == 0:
                    return None, "zero-length audio"
                if not np.isfinite(wave).all():
                    return None, "audio contains NaN or inf"
    except Exception as err:
        return None, f"cannot decode ({str(err).strip() or type(err).__name__})"
    return frames / rate, None


__all__ = ["decode_audio", "probe_audio"]
