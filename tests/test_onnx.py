"""`wavlink export-onnx`: both towers run in onnxruntime with dynamic batch / frame / token axes and match
PyTorch to 1e-4 (tiny random model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import make_clip, tiny_model, tiny_processor

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from wavlink.builders.folder import save_model_folder  # noqa: E402
from wavlink.cli import main  # noqa: E402
from wavlink.inference import Embedder  # noqa: E402
from wavlink.onnx_export import MANIFEST, OnnxEmbedder  # noqa: E402

TEXTS = ["a dog barks", "the sound of heavy rain falling on a tin roof", "x"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    model = tiny_model(seed=5)
    folder = save_model_folder(model, tiny_processor(model.config), root / "tiny")
    out = root / "onnx"
    assert main(["export-onnx", str(folder), "--out", str(out)]) == 0
    return folder, out


def test_export_writes_both_graphs_and_the_processor(exported):
    _, out = exported
    manifest = json.loads((out / MANIFEST).read_text())
    assert (out / manifest["audio"]).is_file() and (out / manifest["text"]).is_file()
    assert (out / "processor_config.json").is_file() or (out / "preprocessor_config.json").is_file()
    assert max(manifest["max_abs_difference_vs_pytorch"].values()) < 1e-4


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_onnx_audio_matches_pytorch(exported, batch_size):
    folder, out = exported
    clips = [make_clip(s, seed=i) for i, s in enumerate([3.0, 1.2, 7.5, 0.3, 2.2])]
    onnx = OnnxEmbedder(out, batch_size=batch_size).encode_audio(clips)
    torch_side = Embedder.load(folder, device="cpu", batch_size=batch_size).encode_audio(clips)
    assert np.abs(onnx - torch_side).max() < 1e-4


def test_onnx_is_batch_invariant_and_chunks_long_audio(exported):
    folder, out = exported
    runner = OnnxEmbedder(out, batch_size=4)
    clips = [make_clip(s, seed=i) for i, s in enumerate([65.0, 4.0, 0.8])]
    batch = runner.encode_audio(clips)
    alone = np.concatenate([runner.encode_audio([c]) for c in clips])
    assert np.abs(batch - alone).max() < 1e-4
    reference = Embedder.load(folder, device="cpu").encode_audio(clips, truncate_dim=16)
    assert np.abs(runner.encode_audio(clips, truncate_dim=16) - reference).max() < 1e-4


def test_onnx_text_matches_pytorch(exported):
    folder, out = exported
    runner = OnnxEmbedder(out, batch_size=2)
    reference = Embedder.load(folder, device="cpu")
    assert np.abs(runner.encode_text(TEXTS) - reference.encode_text(TEXTS)).max() < 1e-4
    assert np.abs(runner.encode_text(TEXTS, truncate_dim=16) - reference.encode_text(TEXTS, truncate_dim=16)).max() < 1e-4
    with pytest.raises(ValueError, match="not trained"):
        runner.encode_text(TEXTS, truncate_dim=5)


def test_not_an_export_folder(exported, capsys):
    folder, _ = exported
    with pytest.raises(ValueError, match="not an ONNX export"):
        OnnxEmbedder(folder)


def test_export_keeps_the_model_in_eval_mode_with_dropout(tmp_path):
    """torch.onnx.export restores the wrapper's training flag afterwards; with dropout in both towers a wrapper
    in training mode would turn dropout on in the model (and in the PyTorch side of the check)."""
    from helpers import tiny_clip_text_config, tiny_config, tiny_whisper_config

    from wavlink import WavLinkModel
    from wavlink.onnx_export import export_onnx

    config = tiny_config(audio_config=tiny_whisper_config(dropout=0.3, attention_dropout=0.3),
                         text_config=tiny_clip_text_config(dropout=0.3, attention_dropout=0.3))
    model = WavLinkModel(config).eval()
    out = export_onnx(model, tmp_path / "onnx", processor=tiny_processor(config))
    assert not any(m.training for m in model.modules())
    assert max(json.loads((out / MANIFEST).read_text())["max_abs_difference_vs_pytorch"].values()) < 1e-4
