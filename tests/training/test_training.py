"""Trainer, training modes, configs, checkpoints, and the SIGKILL-resume guarantee (tiny models, CPU)."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from wavlink.training import TrainingConfig, apply_training_mode, list_checkpoints, load_config, train
from wavlink.training.checkpoints import resolve_resume
from wavlink.training.config import parse_override
from wavlink.training.recipe import lora_target_regex, loss_scale_names
from wavlink.training.synthetic import SOUNDS, make_toy_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """8 sound kinds x (3 train + 1 validation) clips of 0.4-0.8 s."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), per_kind=3, val_per_kind=1, seconds=(0.4, 0.8))


def base_config(toy: Path, out: Path, **kw) -> TrainingConfig:
    options = dict(preset="tiny-random", train_data=[str(toy)], output_dir=str(out), batch_size=4, lr=3e-3,
                   epochs=1, num_workers=0, progress=False, seed=1)
    options.update(kw)
    return TrainingConfig(**options)


def trainable(model: nn.Module) -> set[str]:
    return {n.replace("base_model.model.", "") for n, p in model.named_parameters() if p.requires_grad}


# ---------------------------------------------------------------------------------------------- modes


def test_training_modes_freeze_the_right_parameters():
    from wavlink.builders.wavlink import create_model

    head = {"global_token", "audio_projection.weight", "audio_projection.bias", "text_projection.weight",
            "logit_scale"}
    model, _ = create_model("tiny-random")
    assert trainable(apply_training_mode(model, "projector", "both")) == head
    model, _ = create_model("tiny-random")
    assert trainable(apply_training_mode(model, "projector", "audio")) == head - {"text_projection.weight"}

    model, _ = create_model("tiny-random")
    names = trainable(apply_training_mode(model, "full", "audio"))
    assert any(n.startswith("audio_model.") for n in names)
    assert not any(n.startswith(("text_model.", "text_projection")) for n in names)
    model, _ = create_model("tiny-random")
    everything = {n for n, _ in model.named_parameters()}
    assert trainable(apply_training_mode(model, "full", "both")) == everything - {
        "siglip_logit_scale", "siglip_logit_bias",  # the CLIP loss does not use them (DDP would wait)
        "audio_model.embed_positions.weight"}  # Whisper's sinusoidal positions stay fixed, as in transformers

    model, _ = create_model("tiny-random")
    names = trainable(apply_training_mode(model, "lora", "both", lora_r=4))
    lora = {n for n in names if ".lora_" in n}
    assert any(n.startswith("audio_model.layers.0.fc1.") for n in lora)  # Whisper attention + MLP
    assert any(n.startswith("text_model.encoder.layers.0.self_attn.q_proj.") for n in lora)
    assert not any(".mlp." in n for n in lora)  # text tower: attention only
    assert {"global_token", "logit_scale"} <= names
    assert {"audio_projection.modules_to_save.default.weight", "text_projection.modules_to_save.default.weight"} <= names
    assert not names - lora - {"global_token", "logit_scale"} - {n for n in names if "modules_to_save" in n}

    model, _ = create_model("tiny-random")
    names = trainable(apply_training_mode(model, "lora", "audio"))
    assert not any(n.startswith("text_") for n in names)
    with pytest.raises(ValueError, match="do not target it"):
        apply_training_mode(create_model("tiny-random")[0], "lora", "audio", lora_towers="audio,text")

    model, _ = create_model("tiny-random")
    assert loss_scale_names(model, "siglip") == ["siglip_logit_scale", "siglip_logit_bias"]
    names = trainable(apply_training_mode(model, "projector", "both", loss_type="siglip"))
    assert {"siglip_logit_scale", "siglip_logit_bias"} <= names and "logit_scale" not in names


def _family_model(family: str, preset: str):
    from wavlink.families import get_family

    model, processor = get_family(family).create(preset, seed=0)
    return model, processor


FAMILY_PRESETS = [("wavlink", "tiny-random"), ("omni", "tiny-random"), ("omni", "tiny-random-qwen3"),
                  ("omni", "tiny-random-whisper")]


@pytest.mark.parametrize("mode", ["projector", "lora", "full"])
@pytest.mark.parametrize(("family", "preset"), FAMILY_PRESETS)
def test_every_trainable_parameter_receives_a_gradient(family, preset, mode):
    """DDP without find_unused_parameters stalls on a trainable weight the forward never uses (Qwen2.5-Omni's
    audio_bos_eos_token did): in every family, mode, scope and loss, each trainable parameter gets a gradient."""
    from helpers import make_clip

    from wavlink.remote_code.losses import build_loss
    from wavlink.training.recipe import loss_scale_kwargs

    for scope in ("both", "audio"):
        for loss_type in ("clip", "siglip", "clip+siglip"):
            torch.manual_seed(0)
            model, processor = _family_model(family, preset)
            model = apply_training_mode(model, mode, scope, loss_type=loss_type).train()
            inputs = {**processor(text=["a dog barks twice", "rain on a tin roof"], return_tensors="pt"),
                      **processor(audio=[make_clip(1.2, seed=1), make_clip(0.8, seed=2)], sampling_rate=16000,
                                  return_tensors="pt")}
            out = model(**inputs)
            build_loss(loss_type)(out.audio_embeds, out.text_embeds,
                                  **loss_scale_kwargs(model, loss_type)).backward()
            missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
            assert not missing, (scope, loss_type, missing)


@pytest.mark.parametrize(("family", "preset"), [("wavlink", "tiny-random"), ("omni", "tiny-random-whisper")])
def test_full_mode_keeps_whisper_positions_fixed(family, preset):
    """transformers keeps Whisper's sinusoidal embed_positions frozen; full finetuning must too."""
    model, _ = _family_model(family, preset)
    model = apply_training_mode(model, "full", "both")
    positions = [n for n, _ in model.named_parameters() if n.endswith("embed_positions.weight")]
    assert positions
    assert not any(dict(model.named_parameters())[n].requires_grad for n in positions)
    assert all(p.requires_grad for n, p in model.named_parameters() if ".layers.0." in n)


def test_two_process_ddp_full_finetuning_of_qwen2_5_omni(tmp_path, toy):
    """Full mode of the Qwen2.5-Omni family under 2-process gloo DDP (find_unused_parameters off) runs past the
    second step: no trainable weight is left without a gradient."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    config = tmp_path / "omni.json"
    config.write_text(json.dumps(dict(family="omni", preset="tiny-random", train_data=[str(toy)], mode="full",
                                      max_steps=3, batch_size=2, lr=1e-4, num_workers=0, progress=False,
                                      seed=1, output_dir=str(tmp_path / "run"))))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "wavlink", "train",
           "--config", str(config)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = [r["step"] for r in _records(tmp_path / "run" / "log.jsonl") if r["type"] == "train"]
    assert max(steps) == 3


class FakeOmni(nn.Module):
    """The shape of the Omni family: audio encoder + LLM backbone with Qwen2 Linear names, a projection."""

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(model_type="omni_audio_embedder")
        lin = lambda: nn.Linear(4, 4)  # noqa: E731
        self.audio_encoder = nn.ModuleDict({"layers": nn.ModuleList([nn.ModuleDict(
            {"q_proj": lin(), "out_proj": lin(), "fc1": lin(), "conv": nn.Conv1d(4, 4, 3)})])})
        self.language_model = nn.ModuleDict({"layers": nn.ModuleList([nn.ModuleDict(
            {"q_proj": lin(), "o_proj": lin(), "gate_proj": lin(), "down_proj": lin(), "embed": nn.Embedding(3, 4)})])})
        self.audio_projection = lin()
        self.logit_scale = nn.Parameter(torch.tensor(1.0))


def test_lora_targets_per_family():
    regex = lora_target_regex(FakeOmni(), ["audio", "text"])
    assert regex == (r"(audio_encoder\..*\.(fc1|out_proj|q_proj)|"
                     r"language_model\..*\.(down_proj|gate_proj|o_proj|q_proj))")
    model = apply_training_mode(FakeOmni(), "lora", "both")
    names = trainable(model)
    assert "language_model.layers.0.down_proj.lora_A.default.weight" in names
    assert "logit_scale" in names and "audio_projection.modules_to_save.default.weight" in names
    assert not any("embed" in n or "conv" in n for n in names)
    with pytest.raises(ValueError, match="LoRA targets"):
        apply_training_mode(FakeOmni(), "lora", "both", lora_towers="video")


# ---------------------------------------------------------------------------------------------- configs


def test_shipped_configs_load_and_stage_checks(tmp_path):
    configs = sorted((ROOT / "scripts" / "configs").glob("wavlink-*-stage*.yaml"))
    assert {c.name for c in configs} >= {f"wavlink-{s}-stage{n}.yaml" for s in ("base", "small", "large")
                                         for n in (1, 2)}
    for path in configs:
        stage = 1 if "stage1" in path.name else 2
        cfg = load_config(path, stage=stage)
        assert (cfg.stage, cfg.lr, cfg.warmup_ratio, cfg.epochs, cfg.mixed_precision, cfg.loss) == (
            stage, 1e-4, 0.05, 3, "bf16", "clip")
        assert (cfg.model and "stage1" in cfg.model) if stage == 2 else (cfg.init_audio and cfg.init_text)
        with pytest.raises(ValueError, match=f"stage-{stage} config but --stage {3 - stage}"):
            load_config(path, stage=3 - stage)
        # the paper's global contrastive batch of 768 on 8 GPUs; anything else is warned about
        assert (cfg.batch_size * 8, cfg.recipe_global_batch) == (768, 768), path.name
        assert cfg.global_batch_warning(8) is None
        assert "differs from the recipe's 768" in cfg.global_batch_warning(4)
        assert "use batch_size=192" in cfg.global_batch_warning(4)
    (tmp_path / "m.csv").write_text("audio,caption\n")
    both = {"preset": "tiny-random", "train_data": ["m.csv"], "stages": {1: {"lr": 1e-4}, 2: {"lr": 5e-5}}}
    (tmp_path / "two.json").write_text(json.dumps(both))
    assert load_config(tmp_path / "two.json", stage=2).lr == 5e-5
    assert load_config(tmp_path / "two.json", stage=1).train_data == [str(tmp_path / "m.csv")]  # config-relative
    with pytest.raises(ValueError, match="choose one with --stage"):
        load_config(tmp_path / "two.json")
    (tmp_path / "bad.yaml").write_text("preset: tiny-random\ntrain_data: [m.csv]\nlearning_rate: 1\n")
    with pytest.raises(ValueError, match=r"unknown training option\(s\) \['learning_rate'\]"):
        load_config(tmp_path / "bad.yaml")
    assert parse_override("trackers=[tensorboard]") == ("trackers", ["tensorboard"])
    assert parse_override("lr=3e-4") == ("lr", 3e-4)
    with pytest.raises(ValueError, match="exactly one model source"):
        TrainingConfig(train_data=["x.csv"])
    with pytest.raises(ValueError, match="mode='half'"):
        TrainingConfig(preset="tiny-random", train_data=["x.csv"], mode="half")


def test_cli_train_dry_run_and_errors(tmp_path, toy, capsys):
    from wavlink.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"stage: 1\npreset: tiny-random\ntrain_data: [{toy}]\n")
    assert main(["train", "--config", str(cfg), "--stage", "1", "--dry-run", "--set", "mode=lora",
                 "--out", str(tmp_path / "o")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["mode"] == "lora" and printed["output_dir"] == str(tmp_path / "o")
    assert main(["train", "--config", str(cfg), "--stage", "2"]) == 2
    assert "stage-1 config but --stage 2" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- training runs


def test_short_run_writes_log_checkpoints_and_a_loadable_model(tmp_path, toy):
    from transformers import AutoModel

    out = tmp_path / "run"
    result = train(base_config(toy, out, mode="full", epochs=2, save_every=2, keep_last=2, eval_at_start=True))
    assert result.step == 12  # 24 clips / batch 4 = 6 steps per epoch
    records = [json.loads(line) for line in result.log_path.read_text().splitlines()]
    steps = [r for r in records if r["type"] == "train"]
    evals = [r for r in records if r["type"] == "eval"]
    assert [r["step"] for r in steps] == list(range(1, 13))
    assert all(r["loss"] > 0 and r["lr"] >= 0 for r in steps)
    assert steps[0]["lr"] == 0  # warmup starts at 0 (5% of 12 steps -> 1 warmup step)
    import math

    cosine = [3e-3 * 0.5 * (1 + math.cos(math.pi * (k - 1) / 11)) for k in range(1, 12)]
    assert [r["lr"] for r in steps[1:]] == pytest.approx(cosine)  # then cosine decay from the peak lr
    assert [r["step"] for r in evals] == [0, 6, 12]  # at start and each epoch end
    assert set(evals[-1]) >= {"t2a_R@1", "t2a_R@5", "t2a_R@10", "a2t_R@1", "a2t_R@5", "a2t_R@10", "t2a_R@1@4"}
    assert result.final_metrics == {k: v for k, v in evals[-1].items() if k not in ("type", "step", "epoch")}
    assert [p.name for p in list_checkpoints(out)] == ["step-00000010", "step-00000012"]
    ckpt = list_checkpoints(out)[-1]
    # accelerate's save_state (model.safetensors, optimizer.bin, random_states_0.pkl) + the trainer's own files
    assert {p.name for p in ckpt.iterdir()} == {"model.safetensors", "optimizer.bin", "random_states_0.pkl",
                                                 "scheduler.pt", "rng_state_0.pt", "trainer_state.json"}
    from safetensors import safe_open

    with safe_open(str(ckpt / "model.safetensors"), "pt") as f:  # trainable weights only, not the frozen towers
        saved = set(f.keys())
    trained = {n for n, p in result.model.named_parameters() if p.requires_grad}
    assert saved == {f"model.{n}" for n in trained}
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert (state["step"], state["epoch"], state["step_in_epoch"]) == (12, 2, 0)
    assert json.loads((out / "data_report.json").read_text())[0]["n_pairs"] == 24
    # the final folder is a complete model: same embeddings after a reload
    reloaded = AutoModel.from_pretrained(result.final_model_dir, trust_remote_code=True).eval()
    inputs = result.processor(text=["clicks", "white noise"], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded.get_text_features(**inputs).pooler_output,
                                   result.model.eval().get_text_features(**inputs).pooler_output)
    # a fresh run must not silently mix with an old run's checkpoints
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(base_config(toy, out, mode="full", max_steps=1))


def test_several_eval_sets_are_reported_apart(tmp_path, toy):
    """Two evaluation manifests (AudioCaps and Clotho in stage 2) give one set of retrieval metrics each, equal to
    evaluating each set alone, never one pooled ranking."""
    import csv

    from wavlink.training.dataset import AudioCaptionDataset
    from wavlink.training.validation import eval_set_labels, evaluate_retrieval

    rows = [r for r in csv.DictReader(toy.open()) if r["split"] == "validation"]
    for name, part in (("audiocaps", rows[:4]), ("clotho", rows[4:])):
        (tmp_path / name).mkdir()
        with open(tmp_path / name / "val.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, ["audio", "caption"])
            writer.writeheader()
            writer.writerows({"audio": str(toy.parent / r["audio"]), "caption": r["caption"]} for r in part)
    sets = [str(tmp_path / "audiocaps" / "val.csv"), str(tmp_path / "clotho" / "val.csv")]
    assert eval_set_labels(sets) == ["audiocaps", "clotho"]
    assert eval_set_labels(["a/b.csv", "c/b.csv", {"manifest": "x/val.csv", "name": "mine"}]) == ["b1", "b2", "mine"]
    result = train(base_config(toy, tmp_path / "run", mode="projector", max_steps=1, eval_data=sets))
    metrics = result.final_metrics
    assert {k.split("/")[0] for k in metrics} == {"audiocaps", "clotho"}
    for label, path in zip(("audiocaps", "clotho"), sets):
        alone = evaluate_retrieval(result.model, result.processor,
                                   AudioCaptionDataset.from_sources([path], split="validation",
                                                                    default_split="validation", train=False))
        assert {k: metrics[f"{label}/{k}"] for k in alone} == pytest.approx(alone)


def test_checkpointing_precision_and_accumulation_options(tmp_path, toy):
    plain = train(base_config(toy, tmp_path / "a", mode="full", max_steps=2, eval_every=0))
    ckpt = train(base_config(toy, tmp_path / "b", mode="full", max_steps=2, eval_every=0,
                             gradient_checkpointing=True))
    losses = [[json.loads(x)["loss"] for x in r.log_path.read_text().splitlines() if '"train"' in x]
              for r in (plain, ckpt)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)  # recomputation changes memory, not maths
    mixed = train(base_config(toy, tmp_path / "c", mode="lora", max_steps=2, eval_every=0, batch_size=3,
                              grad_accum_steps=2, mixed_precision="bf16", trackers=["not-a-tracker"]))
    assert mixed.step == 2 and mixed.final_metrics is not None
    with pytest.raises(ValueError, match="cannot fill grad_accum_steps=7"):
        train(base_config(toy, tmp_path / "d", grad_accum_steps=7))
    with pytest.raises(ValueError, match=r"batch size 32 x 1 process\(es\) = 32 is larger than data.csv"):
        train(base_config(toy, tmp_path / "e", batch_size=32))


def test_clip_logit_scale_parameter_is_clamped_after_each_step(tmp_path, toy):
    """The loss caps exp(logit_scale) at 100 with zero gradient above the cap, so the trainer clamps the
    parameter itself (CLIP / open_clip): a scale initialised above the cap is brought back after one step."""
    import math

    result = train(base_config(toy, tmp_path / "hot", mode="projector", max_steps=1, eval_every=0,
                               config_overrides={"logit_scale_init": 6.0}))
    assert result.model.logit_scale.item() == pytest.approx(math.log(100.0))
    cold = train(base_config(toy, tmp_path / "cold", mode="projector", max_steps=1, eval_every=0,
                             config_overrides={"logit_scale_init": -1.0}))
    assert cold.model.logit_scale.item() == 0.0
    # SigLIP's scale has no cap (as in SigLIP): it is left alone
    free = train(base_config(toy, tmp_path / "siglip", mode="projector", max_steps=1, eval_every=0, loss="siglip",
                             config_overrides={"siglip_logit_scale_init": 6.0}))
    assert free.model.siglip_logit_scale.item() > math.log(100.0)


def test_training_on_a_saved_datasets_folder_with_only_a_train_split(tmp_path, toy):
    """A `datasets` DatasetDict (Audio column) without a validation split: the trainer holds out clips instead
    of failing on the missing split or evaluating on its training rows."""
    import csv

    datasets = pytest.importorskip("datasets")
    rows = [r for r in csv.DictReader(open(toy)) if r["split"] == "train"]
    table = {"audio": [str(toy.parent / r["audio"]) for r in rows], "caption": [r["caption"] for r in rows]}
    folder = tmp_path / "hf"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(table).cast_column("audio", datasets.Audio())}
                         ).save_to_disk(str(folder))
    result = train(base_config(toy, tmp_path / "run", train_data=[str(folder)], val_fraction=0.25, max_steps=1))
    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report[0]["n_pairs"] == 24 and result.final_metrics is not None
    assert "t2a_R@1" in result.final_metrics


def test_resume_refuses_a_checkpoint_of_another_training_mode(tmp_path, toy):
    """The checkpoint holds the trainable weights only: resuming a LoRA run's checkpoint in projector mode (another
    set of trainable weights) fails naming the mismatch instead of silently loading nothing."""
    out = tmp_path / "run"
    train(base_config(toy, out, mode="lora", max_steps=2, save_every=2, eval_every=0))
    with pytest.raises(ValueError, match="does not match this model / mode"):
        train(base_config(toy, out, mode="projector", max_steps=3, save_every=2, eval_every=0), resume="latest")


def test_checkpoints_of_the_previous_format_still_resume(tmp_path, toy):
    """Checkpoints written before save_state (trainable.safetensors without the module prefix + optimizer.pt) resume
    to the same weights as the current format."""
    import shutil

    from safetensors.torch import save_file

    out = tmp_path / "run"
    train(base_config(toy, out, mode="lora", max_steps=2, save_every=2, eval_every=0))
    ckpt = list_checkpoints(out)[-1]
    legacy_out = tmp_path / "legacy"
    legacy = legacy_out / "checkpoints" / ckpt.name
    shutil.copytree(ckpt, legacy)
    weights = load_file(str(legacy / "model.safetensors"))
    save_file({k.removeprefix("model."): v for k, v in weights.items()}, str(legacy / "trainable.safetensors"))
    (legacy / "model.safetensors").unlink()
    (legacy / "optimizer.bin").rename(legacy / "optimizer.pt")
    (legacy / "random_states_0.pkl").unlink()
    runs = {}
    for name, folder in (("current", out), ("legacy", legacy_out)):
        result = train(base_config(toy, folder, mode="lora", max_steps=4, save_every=2, eval_every=0),
                       resume="latest")
        runs[name] = {n: p.detach().clone() for n, p in result.model.named_parameters() if p.requires_grad}
    for key, value in runs["current"].items():
        torch.testing.assert_close(runs["legacy"][key], value, rtol=0, atol=0)


def test_checkpoint_listing_ignores_unfinished_saves(tmp_path):
    root = tmp_path / "checkpoints"
    for name, complete in [("step-00000002", True), ("step-00000010", True), (".tmp-step-00000012", True),
                           ("step-00000011", False)]:
        (root / name).mkdir(parents=True)
        if complete:
            (root / name / "trainer_state.json").write_text("{}")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000002", "step-00000010"]
    assert resolve_resume("latest", tmp_path).name == "step-00000010"
    assert resolve_resume("latest", tmp_path / "empty") is None  # nothing yet: a fresh start
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        resolve_resume(str(root / "step-00000011"), tmp_path)


# ---------------------------------------------------------------------------------------------- kill -9 + resume


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sigkill_then_resume_latest_matches_an_uninterrupted_run(tmp_path, toy):
    """A run killed with SIGKILL after its first checkpoint, resumed with `--resume latest`, ends with the
    same weights and the same loss log as a run that was never interrupted (LoRA with dropout, so the RNG
    state matters; the kill lands mid-epoch, so the sampler position matters)."""
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    base = save_model_folder(*create_model("tiny-random", seed=3), tmp_path / "base")
    options = dict(model=str(base), train_data=[str(toy)], mode="lora", lora_dropout=0.1, epochs=2,
                   batch_size=4, lr=3e-3, num_workers=0, progress=False, seed=1, save_every=2, keep_last=2,
                   eval_every=3)
    reference = train(TrainingConfig(**options, output_dir=str(tmp_path / "reference")))

    out = tmp_path / "killed"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**options, "output_dir": str(out)}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "wavlink", "train", "--config", str(config), "--debug-step-delay", "0.5"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            log = out / "log.jsonl"
            steps = [r["step"] for r in _records(log) if r["type"] == "train"] if log.exists() else []
            if list_checkpoints(out) and steps and max(steps) > 2:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    killed_at = max(r["step"] for r in _records(out / "log.jsonl") if r["type"] == "train")
    assert killed_at < 12 and not (out / "adapter").exists()

    # resume in this process: what matters is that the killed process left only complete checkpoints
    resumed = train(TrainingConfig.from_dict(json.loads(config.read_text())), resume="latest")
    assert resumed.step == 12

    got, want = _records(out / "log.jsonl"), _records(reference.log_path)
    assert [(r["type"], r["step"]) for r in got] == [(r["type"], r["step"]) for r in want]  # no duplicates
    for a, b in zip(got, want):
        for key in ("loss", "lr", "grad_norm", "t2a_R@1", "a2t_R@1"):
            if key in b:
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), (a, b)
    for name in ("adapter/adapter_model.safetensors", "final/model.safetensors"):
        a, b = load_file(str(out / name)), load_file(str(tmp_path / "reference" / name))
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_toy_sounds_are_distinct():
    assert len(set(SOUNDS)) == len(SOUNDS) == 8


@pytest.mark.slow
def test_two_process_cpu_ddp_kill_and_resume(tmp_path, toy):
    """torchrun with 2 CPU processes (gloo): features gathered across ranks, per-rank RNG in checkpoints; all
    processes SIGKILLed after the first checkpoint, resumed, equal to an uninterrupted 2-process run."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "wavlink", "train"]
    options = dict(preset="tiny-random", train_data=[str(toy)], mode="lora", lora_dropout=0.1, epochs=2,
                   batch_size=2, lr=3e-3, num_workers=1, progress=False, seed=1, save_every=2, eval_every=3)
    configs = {}
    for name in ("reference", "killed"):
        configs[name] = tmp_path / f"{name}.json"
        configs[name].write_text(json.dumps({**options, "output_dir": str(tmp_path / name)}))
    done = subprocess.run(torchrun + ["--config", str(configs["reference"])], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen(torchrun + ["--config", str(configs["killed"]), "--debug-step-delay", "0.5"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list_checkpoints(out):
        time.sleep(0.05)
    workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    for pid in [proc.pid, *map(int, workers.split())]:
        os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "adapter").exists()
    done = subprocess.run(torchrun + ["--config", str(configs["killed"]), "--resume", "latest"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    got, want = _records(out / "log.jsonl"), _records(tmp_path / "reference" / "log.jsonl")
    assert [(r["type"], r["step"]) for r in got] == [(r["type"], r["step"]) for r in want]
    assert [r.get("loss", 0) for r in got] == pytest.approx([r.get("loss", 0) for r in want], rel=1e-5)
    a = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "reference" / "adapter" / "adapter_model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_bench_train_measures_the_three_modes(monkeypatch):
    """scripts/bench_train.py's per-mode measurement (run in-process on the tiny preset): LoRA and the frozen
    encoders cut the gradient + AdamW memory, the frozen encoders also the activations kept for backward."""
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "scripts" / "bench_train.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = {}
    for mode in bench.MODES:
        args = argparse.Namespace(child=mode, preset="tiny-random", batch_size=2, seconds=0.5, steps=1,
                                  device="cpu", bf16=False, gradient_checkpointing=False, grad_cache=1)
        rows[mode] = bench.run_child(args)
    rows["cached"] = bench.run_child(argparse.Namespace(**{**vars(args), "child": "full@gc", "batch_size": 4}))
    rows["uncached"] = bench.run_child(argparse.Namespace(**{**vars(args), "child": "full", "batch_size": 4}))
    full, lora, frozen = rows["full"], rows["lora"], rows["projector"]
    # full: everything but the two SigLIP scalars the CLIP loss does not use and Whisper's fixed positions
    from wavlink.builders.presets import preset_config

    positions = preset_config("tiny-random").audio_config
    fixed = 2 + positions.max_source_positions * positions.d_model
    assert full["total_m"] - full["trainable_m"] == pytest.approx(fixed / 1e6) and lora["total_m"] > full["total_m"]
    assert full["trainable_m"] > lora["trainable_m"] > frozen["trainable_m"] > 0
    assert full["grads_optimizer_mib"] > lora["grads_optimizer_mib"] > frozen["grads_optimizer_mib"] > 0
    assert full["activations_mib"] > frozen["activations_mib"]
    assert all(r["samples_per_s"] > 0 and r["peak_mib"] > 0 for r in rows.values())
    # GradCache, 1 clip a chunk of 4: a quarter of the activations alive at once (one chunk's graph)
    assert rows["cached"]["mode"].startswith("full + GradCache")
    assert rows["cached"]["activations_mib"] == pytest.approx(rows["uncached"]["activations_mib"] / 4, rel=0.15)
