"""`evaluation.mteb_wrapper` without mteb installed, and its protocol and model meta (the run with mteb is
test_mteb_local.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_helpers import tone

from wavlink.inference import Embedder


def test_mteb_wrapper_without_mteb(model_dir: Path) -> None:
    from wavlink.evaluation.mteb_wrapper import WavLinkMTEBEncoder

    enc = WavLinkMTEBEncoder(str(model_dir), revision=None)
    batches = [{"audio": [{"array": tone(0, sr=8000), "sampling_rate": 8000}, {"array": tone(1), "sampling_rate": 16000}]},
               {"audio": [tone(2)]}]
    audio = enc.encode(batches, task_metadata=None, hf_split="test", hf_subset="default")
    text = enc.encode([{"text": ["a dog", "rain"]}], task_metadata=None, hf_split="test", hf_subset="default")
    assert audio.shape == (3, 32) and text.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    assert enc.similarity(text, audio).shape == (2, 3) and enc.similarity_pairwise(audio, audio).shape == (3,)
    direct = Embedder.load(str(model_dir)).encode_audio([tone(2)])
    np.testing.assert_allclose(audio[2], direct[0], atol=1e-5)


@pytest.mark.slow
def test_mteb_protocol_and_model_meta(model_dir: Path) -> None:
    pytest.importorskip("mteb")
    from mteb.models.models_protocols import EncoderProtocol

    from wavlink.evaluation.mteb_wrapper import WavLinkMTEBEncoder, wavlink_model_meta

    meta = wavlink_model_meta("my-org/wavlink-tiny", revision=None, release_date="2026-01-01",
                              model_dir=str(model_dir))
    assert meta.embed_dim == [32, 16, 8, 4] and meta.modalities == ["audio", "text"] and meta.n_parameters > 0
    enc = WavLinkMTEBEncoder(str(model_dir), meta=meta)
    assert isinstance(enc, EncoderProtocol) and enc.mteb_model_meta is meta
