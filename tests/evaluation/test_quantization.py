"""`evaluation.quantization`: Matryoshka truncation as the model does it, int8 / binary codes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import tone

from wavlink.evaluation.quantization import bytes_per_clip, quantize, truncate
from wavlink.inference import Embedder


def test_truncation_matches_model_truncate_dim(model_dir: Path) -> None:
    """The runner caches full-width embeddings and slices them; that must equal the model's truncate_dim."""
    emb = Embedder.load(str(model_dir))
    clips = [tone(i) for i in range(3)]
    full = emb.encode_audio(clips)
    for d in (16, 8):
        np.testing.assert_allclose(truncate(full, d), emb.encode_audio(clips, truncate_dim=d), atol=1e-5)
    text = emb.encode_text(["a dog", "rain"])
    np.testing.assert_allclose(truncate(text, 4), emb.encode_text(["a dog", "rain"], truncate_dim=4), atol=1e-5)


def test_quantize_codes_and_reconstruction() -> None:
    from sentence_transformers.util.quantization import quantize_embeddings

    rng = np.random.default_rng(0)
    emb = rng.standard_normal((50, 20)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    codes, recon = quantize(emb, "int8")
    np.testing.assert_array_equal(codes, quantize_embeddings(emb, "int8", calibration_embeddings=emb))
    step = (emb.max(0) - emb.min(0)) / 255
    assert np.all(np.abs(recon - emb) <= step / 2 + 1e-6)
    codes, recon = quantize(emb, "binary")
    assert codes.shape == (50, 3) and codes.dtype == np.int8
    np.testing.assert_array_equal(recon, np.where(emb > 0, 1.0, -1.0))
    assert [bytes_per_clip(d, p) for d, p in [(512, "float32"), (512, "int8"), (512, "binary"), (20, "binary")]] == [
        2048, 512, 64, math.ceil(20 / 8)]
    with pytest.raises(ValueError, match="unknown precision"):
        bytes_per_clip(8, "int4")
