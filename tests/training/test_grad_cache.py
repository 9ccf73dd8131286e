"""GradCache (wavlink/training/grad_cache.py): the chunked step gives the uncached step's loss and gradients."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
import torch.nn.functional as F
from helpers import make_clip

from wavlink.families import get_family
from wavlink.remote_code.losses import build_loss
from wavlink.training import TrainingConfig, apply_training_mode, train
from wavlink.training.grad_cache import RngState, chunk_bounds, grad_cache_backward
from wavlink.training.synthetic import make_toy_dataset
from wavlink.training.trainer import DualEncoderModule

CAPTIONS = ["a dog barks twice", "rain on a tin roof", "a bell rings", "footsteps on gravel", "a kettle whistles"]


def _batch(processor):
    audio = processor(audio=[make_clip(1.0, seed=i) for i in range(len(CAPTIONS))], sampling_rate=16000,
                      return_tensors="pt")
    text = processor(text=CAPTIONS, return_tensors="pt")
    return dict(audio), dict(text)


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}


@pytest.mark.parametrize(("family", "preset"), [("wavlink", "tiny-random"), ("omni", "tiny-random")])
@pytest.mark.parametrize("chunk_size", [1, 2, 5])
def test_cached_step_equals_the_uncached_step(family, preset, chunk_size):
    """Full finetuning, CLIP+SigLIP with Matryoshka dims and an extra audio-only term (as label distillation
    adds): loss and every parameter's gradient equal the one-pass step's, for chunks that do not divide the
    batch (2 of 5) as well as 1 and the whole batch."""
    torch.manual_seed(0)
    model, processor = get_family(family).create(preset, seed=0)
    dims = list(model.config.matryoshka_dims)
    model = apply_training_mode(model, "full", "both", loss_type="clip+siglip").train()
    module = DualEncoderModule(model, "clip+siglip")
    loss_fn = build_loss("clip+siglip", matryoshka_dims=dims)
    audio_inputs, text_inputs = _batch(processor)
    target = torch.randn(dims[0])

    def loss_of(audio, text, scales):
        contrastive = loss_fn(audio, text, **scales)
        extra = ((audio @ target) ** 2).mean()
        return contrastive + 0.3 * extra, {"contrastive_loss": contrastive.detach()}

    audio, text, scales = module(audio_inputs, text_inputs)
    reference_loss, _ = loss_of(audio, text, scales)
    (reference_loss * 0.5).backward()
    reference = _grads(model)
    model.zero_grad(set_to_none=True)

    loss, parts, _ = grad_cache_backward(module, audio_inputs, text_inputs, loss_of, chunk_size, scale=0.5)
    cached = _grads(model)
    assert torch.allclose(loss, reference_loss.detach(), atol=1e-6)
    assert "contrastive_loss" in parts
    assert set(cached) == set(reference) and len(reference) > 10
    for name, grad in reference.items():
        assert torch.allclose(cached[name], grad, atol=1e-5, rtol=1e-4), (name, (cached[name] - grad).abs().max())


def test_rng_replay_repeats_dropout_and_leaves_the_generator_as_it_was():
    x = torch.ones(1000)
    state = RngState()
    first = F.dropout(x, 0.5)
    after_first = torch.get_rng_state()
    with state.replay():
        again = F.dropout(x, 0.5)
    assert torch.equal(first, again)
    assert torch.equal(torch.get_rng_state(), after_first)  # the replay does not rewind the run's generator


def test_chunk_bounds_and_bad_sizes():
    assert chunk_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert chunk_bounds(4, 8) == [(0, 4)]
    with pytest.raises(ValueError, match="chunk size"):
        chunk_bounds(4, 0)
    with pytest.raises(ValueError, match="grad_cache_chunk_size"):
        TrainingConfig(preset="tiny-random", train_data=["x"], grad_cache_chunk_size=0).validate()


def test_trainer_with_grad_cache_follows_the_same_trajectory(tmp_path):
    """Two optimiser steps of the real trainer (batch 4, chunks of 2, equal-length clips) land on the same
    weights as without GradCache."""
    toy = make_toy_dataset(tmp_path / "toy", per_kind=1, val_per_kind=0, seconds=(0.6, 0.6))
    runs = {}
    for name, chunk in (("plain", None), ("cached", 2)):
        cfg = TrainingConfig(preset="tiny-random", train_data=[str(toy)], output_dir=str(tmp_path / name),
                             batch_size=4, lr=3e-3, max_steps=2, num_workers=0, progress=False, seed=1,
                             mode="full", grad_cache_chunk_size=chunk, eval_every=0)
        result = train(cfg)
        runs[name] = {n: p.detach().clone() for n, p in result.model.named_parameters() if p.requires_grad}
    assert set(runs["plain"]) == set(runs["cached"])
    worst = max(float((runs["plain"][n] - runs["cached"][n]).abs().max()) for n in runs["plain"])
    assert worst < 1e-5, worst
    initial = dict(get_family("wavlink").create("tiny-random", seed=1)[0].named_parameters())
    moved = max(float((runs["plain"][n] - initial[n].detach()).abs().max()) for n in runs["plain"] if n in initial)
    assert moved > 1e-3  # the two steps did train (so equality is not that of two untouched models)


def test_two_process_ddp_with_grad_cache(tmp_path):
    """Under 2-process gloo DDP (find_unused_parameters off) the chunked backward synchronises once per step and
    reaches every trainable parameter: full finetuning runs its steps."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    toy = make_toy_dataset(tmp_path / "toy", per_kind=1, val_per_kind=0, seconds=(0.5, 0.7))
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(dict(preset="tiny-random", train_data=[str(toy)], mode="full", max_steps=2,
                                      batch_size=4, grad_cache_chunk_size=1, lr=1e-4, num_workers=0,
                                      progress=False, seed=1, output_dir=str(tmp_path / "run"), eval_every=0)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "wavlink", "train",
           "--config", str(config)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records if r["type"] == "train") == 2
