"""End to end on CPU: LoRA finetuning on generated captioned sounds raises validation R@1; the adapter and the
merged model reload in a fresh process (peft, sentence-transformers, AutoModel) with the same embeddings."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from wavlink.training import finetune, load_adapter
from wavlink.training.dataset import AudioCaptionDataset
from wavlink.training.synthetic import make_toy_dataset
from wavlink.training.validation import embed_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny random WavLink model saved as a model folder.

    With Whisper's 0.02 init the random conv stem's output is drowned by the sinusoidal positions, so every clip
    embeds alike (cosine 0.998) and nothing but a full finetune can separate them. A pretrained Whisper
    does not have that problem; scaling the random stem by 10 gives the tiny model the same property.
    """
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random", seed=0)
    with torch.no_grad():
        model.audio_model.conv1.weight.mul_(10)
        model.audio_model.conv2.weight.mul_(10)
    return save_model_folder(model, processor, tmp_path_factory.mktemp("base") / "tiny")


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """8 sound kinds ('a low hum', 'white noise', 'clicks', ...) x (6 train + 1 validation) clips."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), per_kind=6, val_per_kind=1, seed=0)


RELOAD = textwrap.dedent("""
    import json, sys
    import numpy as np, soundfile as sf, torch
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoProcessor

    base, adapter, merged, out = sys.argv[1:5]
    items = json.load(open(out + ".json"))
    waves = [sf.read(p, dtype="float32")[0] for p in items["audio"]]
    texts = items["text"]
    result = {}
    with torch.no_grad():
        proc = AutoProcessor.from_pretrained(adapter, trust_remote_code=True)
        for name, model in [
            ("peft", PeftModel.from_pretrained(AutoModel.from_pretrained(base, trust_remote_code=True), adapter)),
            ("merged", AutoModel.from_pretrained(merged, trust_remote_code=True)),
        ]:
            model.eval()
            result[name + "_audio"] = np.concatenate([
                model.get_audio_features(**proc(audio=[w], sampling_rate=16000, return_tensors="pt")).pooler_output
                for w in waves])
            result[name + "_text"] = model.get_text_features(**proc(text=texts, return_tensors="pt")).pooler_output
    st = SentenceTransformer(adapter, trust_remote_code=True)
    result["st_audio"] = st.encode(waves, batch_size=1)
    result["st_text"] = st.encode(texts)
    np.savez(out, **{k: np.asarray(v) for k, v in result.items()})
""")


def test_lora_finetune_end_to_end(tmp_path, base, toy):
    out = tmp_path / "adapter"
    result = finetune(
        str(base), toy, out, lora_r=8, epochs=8, lr=1e-2, batch_size=8, merge=True,
        num_workers=0, warmup_ratio=0.1, eval_at_start=True, eval_every=0, progress=False, seed=0,
    )
    before, after = result.initial_metrics, result.final_metrics
    print(f"validation R@1 before/after: t2a {before['t2a_R@1']:.3f} -> {after['t2a_R@1']:.3f}, "
          f"a2t {before['a2t_R@1']:.3f} -> {after['a2t_R@1']:.3f}")
    # chance is 1/8: the untrained model sits there, the finetuned one retrieves most sounds by their caption
    assert before["t2a_R@1"] <= 0.25 and before["a2t_R@1"] <= 0.25
    assert after["t2a_R@1"] >= 0.75 and after["a2t_R@1"] >= 0.75
    assert after["t2a_R@1"] - before["t2a_R@1"] >= 0.5

    # the adapter folder: peft files + processor + sentence-transformers files, pointing at the base
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base.resolve()) and config["r"] == 8
    assert sorted(config["modules_to_save"]) == ["audio_projection", "text_projection"]
    for name in ("adapter_model.safetensors", "processor_config.json", "tokenizer.json", "modules.json",
                 "sentence_bert_config.json", "wavlink_adapter.json", "README.md", "merged/config.json"):
        assert (out / name).exists(), name
    assert not (out / "checkpoints").exists()  # removed once the adapter is written (finetune default)

    # fresh process: peft on the base, sentence-transformers on the adapter folder, AutoModel on the merge
    val = AudioCaptionDataset.from_manifest(toy, split="validation")
    val.validate()
    audio, text, _ = embed_dataset(result.model, result.processor, val)
    clips, captions, _ = val.retrieval_items()
    spec = tmp_path / "emb"
    (tmp_path / "emb.json").write_text(json.dumps({"audio": [val.clips[c].path for c in clips], "text": captions}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-c", RELOAD, str(base), str(out), str(out / "merged"), str(spec)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = np.load(f"{spec}.npz")
    for name in ("peft", "merged", "st"):
        np.testing.assert_allclose(got[f"{name}_audio"], audio.numpy(), atol=2e-5, err_msg=name)
        np.testing.assert_allclose(got[f"{name}_text"], text.numpy(), atol=2e-5, err_msg=name)
    assert not np.allclose(got["peft_audio"], got["st_audio"][::-1])  # distinct clips embed differently


def test_default_settings_learn_a_small_set(tmp_path, base, capsys):
    """36 clips of 4 distinct sounds with DEFAULT flags (`wavlink finetune`): the step budget runs far more than
    three epochs' 6 steps, the validation clips are retrieved by their captions, and the command prints the
    validation metrics before and after training."""
    from wavlink.cli import main
    from wavlink.training.finetune import MIN_STEPS

    kinds = ("a low hum", "white noise", "clicks", "a rising sweep")
    data = make_toy_dataset(tmp_path / "four", per_kind=8, val_per_kind=1, kinds=kinds, seed=0)
    assert len(data.read_text().splitlines()) == 1 + 36
    assert main(["finetune", "--model", str(base), "--data", str(data), "--out", str(tmp_path / "adapter"),
                 "--num-workers", "0"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"):])
    assert summary["steps"] == MIN_STEPS
    assert summary["validation"]["t2a_R@1"] == 1.0 and summary["validation"]["a2t_R@1"] == 1.0
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("t2a_R@1"))
    before, after = (float(x) for x in line.split()[1::2])
    assert before <= 0.5 and after == 1.0


def test_adapter_on_a_wrong_base_is_a_clear_error(tmp_path, base, toy):
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    finetune(str(base), toy, tmp_path / "adapter", max_steps=1, batch_size=8, num_workers=0, progress=False)
    model, processor = load_adapter(tmp_path / "adapter")  # recorded base: fine
    assert type(model).__name__ == "PeftModel" and processor is not None
    other = save_model_folder(*create_model("tiny-random", projection_dim=16), tmp_path / "other")
    with pytest.raises(ValueError, match="different architecture"):
        load_adapter(tmp_path / "adapter", base=other)
    with pytest.raises(ValueError, match="not an adapter folder"):
        load_adapter(base)


def test_finetune_cli_errors(tmp_path, base, capsys):
    from wavlink.cli import main

    code = main(["finetune", "--model", str(base), "--data", str(tmp_path / "missing.csv"), "--out",
                 str(tmp_path / "o")])
    assert code == 2 and "manifest not found" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("audio,description\nx.wav,hello\n")
    assert main(["finetune", "--model", str(base), "--data", str(tmp_path / "bad.csv"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "missing column(s) 'caption'" in capsys.readouterr().err
    assert main(["finetune", "--model", str(base), "--data", str(tmp_path / "bad.csv"), "--out",
                 str(tmp_path / "o"), "--targets", "video"]) == 2
    capsys.readouterr()
    # a mistyped model path says so (not a Hub repo-id error), an adapter folder is not a model
    assert main(["finetune", "--model", str(tmp_path / "no" / "such"), "--data", str(tmp_path / "bad.csv"),
                 "--out", str(tmp_path / "o")]) == 2
    assert f"model folder not found: {tmp_path / 'no' / 'such'}" in capsys.readouterr().err
    (tmp_path / "ad").mkdir()
    (tmp_path / "ad" / "adapter_config.json").write_text("{}")
    assert main(["finetune", "--model", str(tmp_path / "ad"), "--data", str(tmp_path / "bad.csv"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "is a LoRA adapter folder, not a model" in capsys.readouterr().err


def test_omni_family_through_the_same_code_path(tmp_path, toy):
    """`finetune` on an OmniAudioEmbedder folder: same function, LoRA in the Qwen backbone, and the adapter loads
    with peft (via `load_adapter`) and with sentence-transformers, giving the trained model's embeddings."""
    pytest.importorskip("wavlink.builders.omni")
    from sentence_transformers import SentenceTransformer

    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.omni import create_omni

    base = save_model_folder(*create_omni("tiny-random"), tmp_path / "omni-base")
    result = finetune(str(base), toy, tmp_path / "omni", max_steps=2, batch_size=4, num_workers=0, progress=False)
    assert type(result.model.get_base_model()).__name__ == "OmniAudioEmbedder"
    assert result.final_metrics is not None and result.adapter_dir is not None
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert "language_model" in config["target_modules"] and "o_proj" in config["target_modules"]
    reloaded, processor = load_adapter(result.adapter_dir)
    val = AudioCaptionDataset.from_manifest(toy, split="validation")
    val.validate()
    a1, t1, _ = embed_dataset(result.model, result.processor, val)
    a2, t2, _ = embed_dataset(reloaded, processor, val)
    torch.testing.assert_close(a1, a2, atol=1e-5, rtol=0)
    torch.testing.assert_close(t1, t2, atol=1e-5, rtol=0)
    from transformers import AutoModel

    _, base_text, _ = embed_dataset(AutoModel.from_pretrained(base, trust_remote_code=True), processor, val)
    assert not torch.allclose(base_text, t1, atol=1e-4)  # the adapter changed the model (not a no-op)
    st = SentenceTransformer(str(result.adapter_dir), trust_remote_code=True)
    _, captions, _ = val.retrieval_items()
    np.testing.assert_allclose(st.encode(captions), t1.numpy(), atol=1e-5)
