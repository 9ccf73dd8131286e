"""Audio probing for manifests: is a clip there, readable, how long (header only unless asked to decode it).
Decoding is `decode_audio` of the remote code, re-exported here, so there is one decoder in the package.
"""

from __future__ import annotations

import io
import os

import numpy as np
import soundfile as sf

from ..remote_code.audio_utils import decode_audio, truncation_problem

DEEP_BLOCK = 1 << 16  # frames per block of a deep probe


def probe_audio(data: str | bytes | None, deep: bool = False) -> tuple[float | None, str | None]:
    """(duration in seconds, problem or None), reading only the header (and, for WAV / AIFF, checking that the
    file holds as many samples as the header declares) unless `deep`: then every sample is decoded and checked
    for NaN / inf and for a short count."""
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
    problem = truncation_problem(data)
    if problem:
        return None, problem
    try:
        with sf.SoundFile(io.BytesIO(data) if isinstance(data, bytes) else data) as f:
            frames, rate = f.frames, f.samplerate
            if frames <= 0:
                return None, "zero-length audio"
            if deep:  # decode it all, a block at a time (bounded memory for long files)
                seen = 0
                for block in f.blocks(blocksize=DEEP_BLOCK, dtype="float32", always_2d=True):
                    if not np.isfinite(block).all():
                        return None, f"audio contains NaN or inf (at {seen / rate:.2f} s)"
                    seen += block.shape[0]
                if seen == 0:
                    return None, "zero-length audio"
                if seen < frames and f.format not in ("MPEG", "OGG"):
                    return None, f"truncated file: {frames:,} frames expected from its header, {seen:,} decoded"
    except Exception as err:
        return None, f"cannot decode ({str(err).strip() or type(err).__name__})"
    return frames / rate, None


__all__ = ["decode_audio", "probe_audio", "truncation_problem"]
