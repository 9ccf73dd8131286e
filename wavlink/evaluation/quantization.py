"""Quantised audio embeddings: what an index of clips costs and how much quality it keeps.

The **audio** embeddings (the stored index: one vector per clip) are quantised with
sentence-transformers' ``quantize_embeddings``; the **text** side (captions, class prompts) stays float32
because it is computed at query time. This is the asymmetric set-up sentence-transformers' own quantised
search uses (float query x quantised corpus, its "rescoring" step), and it is what the bytes per clip
describe. Both retrieval directions and zero-shot classification are scored from the same
``text @ audio_hat.T`` matrix, where ``audio_hat`` is the quantised vector mapped back to the float space:

* ``float32`` - the embedding itself: ``4 * d`` bytes per clip.
* ``int8`` - per-dimension scalar quantisation into 256 buckets between the minimum and maximum of each
  dimension, **calibrated on the evaluated clips themselves** (``calibration_embeddings`` = the corpus, as
  one would calibrate an index on the vectors it stores). Scored with each code replaced by its bucket
  centre. ``d`` bytes per clip (+ one shared ``2 x d`` float32 range table).
* ``binary`` - the sign bit of each dimension, packed 8 per byte; scored as the +-1 vector (sign agreement
  weighted by the float query). ``ceil(d / 8)`` bytes per clip.
"""

from __future__ import annotations

import math

import numpy as np

PRECISIONS: tuple[str, ...] = ("float32", "int8", "binary")


def _quantize_embeddings(*args, **kwargs):
    try:
        from sentence_transformers.util.quantization import quantize_embeddings
    except ImportError:  # sentence-transformers < 5.x kept it at the top level
        from sentence_transformers.quantization import quantize_embeddings
    return quantize_embeddings(*args, **kwargs)


def bytes_per_clip(dim: int, precision: str) -> int:
    """Index bytes one clip's embedding takes at ``precision``."""
    if precision == "float32":
        return 4 * dim
    if precision == "int8":
        return dim
    if precision == "binary":
        return math.ceil(dim / 8)
    raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")


def normalize_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("an embedding is the zero vector; cannot normalise")
    return (x / norms).astype(np.float32)


def truncate(embeddings: np.ndarray, dim: int) -> np.ndarray:
    """Matryoshka slice + re-normalisation (what the model returns for ``truncate_dim=dim``)."""
    if dim > embeddings.shape[1]:
        raise ValueError(f"dim {dim} exceeds the embedding width {embeddings.shape[1]}")
    return normalize_rows(embeddings[:, :dim])


def quantize(embeddings: np.ndarray, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, reconstruction)``: the stored codes (from sentence-transformers) and the float32 matrix
    used for scoring (see the module docstring)."""
    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise ValueError(f"expected a non-empty (n, d) matrix, got shape {emb.shape}")
    if precision == "float32":
        return emb, emb
    if precision == "int8":
        if emb.shape[0] < 2:
            raise ValueError("int8 quantisation needs at least two embeddings to calibrate its ranges")
        codes = _quantize_embeddings(emb, precision="int8", calibration_embeddings=emb)
        lo, hi = emb.min(axis=0), emb.max(axis=0)  # the ranges quantize_embeddings derives from calibration
        steps = (hi - lo) / 255
        steps = np.where(steps == 0, 1, steps)
        recon = lo + (codes.astype(np.float32) + 128 + 0.5) * steps
        # a value equal to the maximum falls into bucket 255 by clipping; keep the reconstruction in range
        return codes, np.minimum(recon, hi).astype(np.float32)
    if precision == "binary":
        codes = _quantize_embeddings(emb, precision="binary")
        bits = np.unpackbits((codes.astype(np.int16) + 128).astype(np.uint8), axis=-1)[:, : emb.shape[1]]
        return codes, (bits.astype(np.float32) * 2 - 1)
    raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")


__all__ = ["PRECISIONS", "bytes_per_clip", "normalize_rows", "quantize", "truncate"]
