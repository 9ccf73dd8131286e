"""Teacher label distillation and training-time augmentation: the loss on hand-checked cases, the score table,
deterministic augmented examples, and the trainer running both with an exact resume (tiny models, CPU)."""

from __future__ import annotations

import csv
import json
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from wavlink.remote_code.losses import LabelDistillationLoss, teacher_distribution
from wavlink.training import TrainingConfig, list_checkpoints, train
from wavlink.training.augment import AugmentConfig, add_at_snr, augment_wave, join_captions, pitch_shift
from wavlink.training.dataset import AudioCaptionDataset
from wavlink.training.distill import DistillConfig, TeacherScores
from wavlink.training.synthetic import SOUNDS, make_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """The synthetic sound kinds, 3 train + 1 validation clips each, and a teacher that knows each kind."""
    manifest = make_toy_dataset(tmp_path_factory.mktemp("toy"), per_kind=3, val_per_kind=1, seconds=(0.4, 0.8))
    with open(manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train"]
    labels = list(SOUNDS)
    scores = np.full((len(rows), len(labels)), 0.02, dtype=np.float32)
    for i, r in enumerate(rows):
        scores[i, labels.index(r["caption"])] = 0.9
    # relative paths, as build_data.py writes them: resolved against the score file's folder
    np.savez(manifest.parent / "teacher.npz", audio=np.array([r["audio"] for r in rows]), scores=scores,
             labels=np.array(labels))
    return manifest


# ---------------------------------------------------------------------------------------------- the loss


def test_teacher_distribution_top_k_power_and_empty_rows():
    scores = torch.tensor([[0.6, 0.3, 0.1, 0.0], [0.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(teacher_distribution(scores), torch.tensor([[0.6, 0.3, 0.1, 0.0], [0.0] * 4]))
    torch.testing.assert_close(teacher_distribution(scores, top_k=2)[0], torch.tensor([2 / 3, 1 / 3, 0.0, 0.0]))
    torch.testing.assert_close(teacher_distribution(scores, power=2.0)[0],
                               torch.tensor([0.36, 0.09, 0.01, 0.0]) / 0.46)


def test_label_distillation_loss_matches_a_hand_computed_kl():
    labels = torch.eye(3)  # three orthogonal label texts
    audio = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    loss = LabelDistillationLoss(temperature=0.5)(audio, labels, target)
    # row 1: logits (2, 0, 0) -> KL = -log q0 = log(1 + 2 e^-2); row 2: cosines (0, .707, .707) / 0.5
    z = math.sqrt(0.5) / 0.5
    q = math.exp(z) / (1 + 2 * math.exp(z))
    expected = (math.log(1 + 2 * math.exp(-2)) + (0.5 * math.log(0.5 / q) * 2)) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # a student that agrees with the teacher's ranking has the lower loss
    assert float(LabelDistillationLoss(0.5)(labels[[1, 2]], labels, target)) > float(loss)


def test_label_distillation_loss_masks_matryoshka_and_gradients():
    torch.manual_seed(0)
    audio = torch.randn(4, 8, requires_grad=True)
    labels = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)
    scores = torch.rand(4, 5)
    loss_fn = LabelDistillationLoss(0.1, top_k=3)
    full = loss_fn(audio, labels, scores)
    masked = loss_fn(audio, labels, scores, mask=torch.tensor([True, True, False, False]))
    torch.testing.assert_close(masked, loss_fn(audio[:2], labels, scores[:2]))
    nothing = loss_fn(audio, labels, scores, mask=torch.zeros(4, dtype=torch.bool))
    assert float(nothing.detach()) == 0.0 and nothing.requires_grad
    nested = LabelDistillationLoss(0.1, top_k=3, dims=[8, 4])(audio, labels, scores)
    torch.testing.assert_close(nested, (full + loss_fn(audio[:, :4], labels[:, :4], scores)) / 2)
    nested.backward()
    assert audio.grad is not None and audio.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"teacher scores must be \(B, C\)"):
        loss_fn(audio, labels, scores[:, :3])
    with pytest.raises(ValueError, match="temperature"):
        LabelDistillationLoss(0.0)


# ---------------------------------------------------------------------------------------------- the table


def test_teacher_scores_load_lookup_and_bad_files(tmp_path, toy):
    table = TeacherScores.load(toy.parent / "teacher.npz")
    assert table.labels == list(SOUNDS)
    assert table.row(str(toy.parent / "audio" / "0_0.wav")) == 0
    assert table.row(str(toy.parent / "audio" / "0_3.wav")) == -1  # a validation clip: not scored
    np.savez(tmp_path / "bad.npz", audio=np.array(["a.wav"]), scores=np.array([[-1.0]]), labels=np.array(["x"]))
    with pytest.raises(ValueError, match="non-negative"):
        TeacherScores.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "wrong.npz", clips=np.array(["a.wav"]))
    with pytest.raises(ValueError, match="not a teacher score file"):
        TeacherScores.load(tmp_path / "wrong.npz")
    with pytest.raises(ValueError, match="not found"):
        TeacherScores.load(tmp_path / "missing.npz")
    # a data folder reached through a symlink still finds its scores
    (tmp_path / "link").symlink_to(toy.parent, target_is_directory=True)
    assert TeacherScores.load(tmp_path / "link" / "teacher.npz").row(str(toy.parent / "audio" / "0_0.wav")) == 0
    assert table.row(str(tmp_path / "link" / "audio" / "0_0.wav")) == 0
    with pytest.raises(ValueError, match="exactly once"):
        DistillConfig(teacher="t.npz", templates=["no placeholder"])
    with pytest.raises(ValueError, match="unknown distill option"):
        DistillConfig.from_dict({"teacher": "t.npz", "weigth": 1.0})


# ---------------------------------------------------------------------------------------------- augmentation


def test_augment_primitives():
    rng = np.random.default_rng(0)
    wave = np.sin(np.linspace(0, 200 * np.pi, 16000)).astype(np.float32) * 0.5
    noise = rng.standard_normal(16000).astype(np.float32)
    mixed = add_at_snr(wave, noise, 10.0)
    residual = mixed - wave
    assert 10 * np.log10(np.mean(wave**2) / np.mean(residual**2)) == pytest.approx(10.0, abs=0.01)
    up = pitch_shift(wave, 12.0, 16000)
    assert len(up) == pytest.approx(8000, abs=2)  # an octave up halves the length (tape speed)
    assert join_captions("the sound of rain.", "A dog barking.") == "the sound of rain and a dog barking"
    assert join_captions("rain", "TV static") == "rain and TV static"
    cfg = AugmentConfig(gain_db=6, noise_p=1.0, pitch_p=1.0)
    a = augment_wave(wave, cfg, np.random.default_rng([1, 2]), 16000)
    b = augment_wave(wave, cfg, np.random.default_rng([1, 2]), 16000)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 1.0 and not np.allclose(a[: len(wave)], wave[: len(a)])
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(noise_p=1.5)
    with pytest.raises(ValueError, match="unknown augment option"):
        AugmentConfig.from_dict({"gain": 3})


def test_dataset_examples_are_deterministic_and_mixing_joins_captions_and_scores(toy):
    teacher = TeacherScores.load(toy.parent / "teacher.npz")

    def dataset(**augment):
        ds = AudioCaptionDataset.from_sources([str(toy)], split="train", train=True, seed=3,
                                              augment=AugmentConfig(**augment))
        ds.attach_teacher(teacher)
        return ds

    plain, mixing = dataset(), dataset(mix_p=1.0, gain_db=3.0, noise_p=0.5)
    item = plain[0]
    assert item["caption"] in SOUNDS and item["has_teacher"]
    assert item["teacher_scores"].argmax() == SOUNDS.index(item["caption"])
    mixed = mixing[0]
    first, second = mixed["caption"].split(" and ")
    assert first == item["caption"] and second in SOUNDS and second != first
    expected = np.maximum(teacher.scores[teacher.row(mixing.clips[0].path)],
                          teacher.scores[SOUNDS.index(second) * 3])  # each kind's teacher rows share scores
    np.testing.assert_allclose(mixed["teacher_scores"], expected)
    again = dataset(mix_p=1.0, gain_db=3.0, noise_p=0.5)[0]  # same seed, epoch and index: the same example
    np.testing.assert_array_equal(again["audio"], mixed["audio"])
    assert again["caption"] == mixed["caption"]
    mixing.set_epoch(1)
    assert not np.array_equal(mixing[0]["audio"][:100], mixed["audio"][:100])
    evaluation = AudioCaptionDataset.from_sources([str(toy)], split="validation", train=False,
                                                  augment=AugmentConfig(mix_p=1.0, gain_db=6.0))
    reference = AudioCaptionDataset.from_sources([str(toy)], split="validation", train=False)
    np.testing.assert_array_equal(evaluation[0]["audio"], reference[0]["audio"])  # never at evaluation


# ---------------------------------------------------------------------------------------------- the trainer


def _config(toy: Path, out: Path, **kw) -> TrainingConfig:
    options = dict(preset="tiny-random", train_data=[str(toy)], output_dir=str(out), batch_size=4, lr=3e-3,
                   epochs=2, num_workers=0, progress=False, seed=1, mode="lora", scope="audio",
                   matryoshka_dims=[32, 16], save_every=3, keep_last=5,
                   augment={"gain_db": 3.0, "noise_p": 0.5, "mix_p": 0.5},
                   distill={"teacher": str(toy.parent / "teacher.npz"), "temperature": 0.2, "top_k": 3,
                            "templates": ["{}", "the sound of {}."]})
    options.update(kw)
    return TrainingConfig(**options)


def test_trainer_distils_the_teacher_and_resumes_exactly(tmp_path, toy):
    reference = train(_config(toy, tmp_path / "reference"))
    records = [json.loads(x) for x in reference.log_path.read_text().splitlines()]
    steps = [r for r in records if r["type"] == "train"]
    assert len(steps) == 12
    for r in steps:  # the logged total is the sum of its parts (weight 1)
        assert r["loss"] == pytest.approx(r["contrastive_loss"] + r["distill_loss"], rel=1e-5)
        assert r["distill_loss"] > 0
    checkpoint = list_checkpoints(tmp_path / "reference")[0]
    assert (checkpoint / "label_embeds.pt").is_file()

    # resume from the step-3 checkpoint of a copy: same log and the same final weights
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(tmp_path / "reference", out)
    for name in ("final", "adapter", "log.jsonl"):
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for ckpt in list_checkpoints(out)[1:]:
        shutil.rmtree(ckpt)
    lines = reference.log_path.read_text().splitlines()
    (out / "log.jsonl").write_text("".join(x + "\n" for x in lines if json.loads(x).get("step", 0) <= 3))
    resumed = train(_config(toy, out), resume=str(list_checkpoints(out)[0]))
    assert resumed.step == 12
    got = [json.loads(x) for x in resumed.log_path.read_text().splitlines() if json.loads(x)["type"] == "train"]
    assert [r["distill_loss"] for r in got] == pytest.approx([r["distill_loss"] for r in steps], rel=1e-5)
    a, b = load_file(str(out / "final/model.safetensors")), load_file(str(tmp_path / "reference/final/model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_distillation_needs_a_teacher_that_scores_the_training_clips(tmp_path, toy):
    np.savez(tmp_path / "other.npz", audio=np.array(["/nowhere/x.wav"]), scores=np.ones((1, 2), np.float32),
             labels=np.array(["a", "b"]))
    cfg = _config(toy, tmp_path / "run", distill={"teacher": str(tmp_path / "other.npz")})
    with pytest.raises(ValueError, match="scores none of the"):
        train(cfg)


def test_trainer_adds_the_composed_term_and_can_drop_the_kl(tmp_path, toy):
    teacher = str(toy.parent / "teacher.npz")
    both = train(_config(toy, tmp_path / "both", epochs=1,
                         distill={"teacher": teacher, "weight": 1.0, "composed_weight": 2.0}))
    for r in (json.loads(x) for x in both.log_path.read_text().splitlines()):
        if r["type"] == "train":
            assert 0 < r["composed_loss"] <= 2
            assert r["loss"] == pytest.approx(r["contrastive_loss"] + r["distill_loss"] + 2 * r["composed_loss"],
                                              rel=1e-5)
    only = train(_config(toy, tmp_path / "only", epochs=1,
                         distill={"teacher": teacher, "weight": 0.0, "composed_weight": 1.0}))
    steps = [json.loads(x) for x in only.log_path.read_text().splitlines() if json.loads(x)["type"] == "train"]
    assert all("distill_loss" not in r and r["composed_loss"] > 0 for r in steps)
    with pytest.raises(ValueError, match="both 0"):
        _config(toy, tmp_path / "none", distill={"teacher": teacher, "weight": 0.0})
