"""Head stage on cached prefix states: the cache (resumable, refuses another model), the composed
distillation loss on a hand-checked case, and the trainer (only head parameters move, the loss falls, a
killed run resumes to the same weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import audio_inputs, make_clip, tiny_model, tiny_whisper_config

from wavlink.remote_code.losses import ComposedDistillationLoss, composed_targets
from wavlink.training.head import HeadConfig, HeadData, HeadTrainer, cache_embeddings, head_parameters
from wavlink.training.prefix_cache import PrefixCache

N = 24


def _model(seed: int = 0):
    return tiny_model(seed, audio_config=tiny_whisper_config(encoder_layers=3), global_token_layer=-1)


def _clips() -> dict[str, np.ndarray]:
    return {f"clip{i:02d}.wav": make_clip(0.5 + 0.1 * (i % 7), seed=i) for i in range(N)}


def _build(model, folder, clips=None, **kw):
    clips = clips or _clips()
    return PrefixCache.build(model, lambda waves: audio_inputs(model.config, waves), list(clips), folder,
                             clips.__getitem__, batch_size=4, progress=False, **kw)


def test_cache_holds_the_prefix_states_of_each_clip(tmp_path):
    model, clips = _model(), _clips()
    cache = _build(model, tmp_path / "c", clips)
    assert len(cache) == N and cache.layer == 2
    with torch.no_grad():
        states, mask = model.audio_prefix_states(**audio_inputs(model.config, [clips["clip05.wav"]]))
    torch.testing.assert_close(torch.from_numpy(cache.states[5].astype(np.float32)), states[0], atol=2e-2, rtol=1e-2)
    with torch.no_grad():  # embeddings from the cache = the model's own, within float16 storage error
        direct = model.get_audio_features(**audio_inputs(model.config, [clips[p] for p in cache.paths])).pooler_output
    cached = cache_embeddings(model, cache, list(range(N)))
    assert F.cosine_similarity(cached, direct).min() > 0.999


def test_cache_resumes_and_refuses_another_model(tmp_path):
    model = _model()
    folder = tmp_path / "c"
    _build(model, folder)
    part = folder / "part-00000.npz"
    before = part.stat().st_mtime_ns
    (folder / "manifest.json").unlink()  # as if killed before the end: finished parts are kept
    again = _build(model, folder)
    assert part.stat().st_mtime_ns == before and len(again) == N
    with pytest.raises(ValueError, match="another model, clip list or precision"):
        _build(_model(seed=1), folder)


def test_composed_targets_by_hand():
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    scores = torch.tensor([[0.5, 0.5], [0.2, 0.0]])
    target = composed_targets(labels, scores)
    s = 2 ** -0.5
    torch.testing.assert_close(target, torch.tensor([[s, s, 0.0], [1.0, 0.0, 0.0]]))
    loss = ComposedDistillationLoss()
    audio = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    torch.testing.assert_close(loss(audio, labels, scores), torch.tensor((1 - s + 0.0) / 2))
    # all-zero scores are skipped; prefixes re-normalise audio and compose the target on the prefix
    torch.testing.assert_close(loss(audio, labels, torch.tensor([[0.0, 0.0], [0.2, 0.0]])), torch.tensor(0.0))
    nested = ComposedDistillationLoss(dims=[3, 1])
    torch.testing.assert_close(nested(audio, labels, scores), torch.tensor(((1 - s) / 2 + 0.0) / 2))


def _trainer(tmp_path, model, cache, epochs, out="head"):
    g = torch.Generator().manual_seed(0)
    captions = F.normalize(torch.randn(6, model.config.projection_dim, generator=g), dim=-1)
    labels = F.normalize(torch.randn(5, model.config.projection_dim, generator=g), dim=-1)
    scores = torch.rand(N, 5, generator=g)
    data = HeadData(rows=list(range(N)), captions=[[i % 6] for i in range(N)], caption_embeds=captions,
                    teacher_scores=scores, label_embeds=labels)
    cfg = HeadConfig(epochs=epochs, batch_size=8, lr=3e-3, warmup_ratio=0.1, output_dir=str(tmp_path / out))
    return HeadTrainer(model, cache, data, cfg)


def test_head_trains_only_head_parameters_and_the_loss_falls(tmp_path):
    model = _model()
    cache = _build(model, tmp_path / "c")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = _trainer(tmp_path, model, cache, epochs=6)
    records = trainer.fit(log=lambda _: None)
    assert records[-1]["loss"] < records[0]["loss"]
    trained = set(head_parameters(model))
    assert {"global_token", "audio_projection.weight", "audio_model.layers.2.fc1.weight"} <= trained
    for name, p in model.named_parameters():
        changed = not torch.equal(p.detach(), before[name])
        assert changed == (name in trained and name != "logit_scale" or (name == "logit_scale" and changed)), name
    assert not any(n.startswith(("audio_model.layers.0.", "audio_model.layers.1.", "text_")) for n in trained)
    assert len((tmp_path / "head" / "log.jsonl").read_text().splitlines()) == 6


def test_killed_head_run_resumes_to_the_same_weights(tmp_path):
    cache = _build(_model(), tmp_path / "c")
    full = _model()
    _trainer(tmp_path, full, cache, epochs=4, out="full").fit(log=lambda _: None)
    killed = _trainer(tmp_path, _model(), cache, epochs=4, out="run")
    step = killed.train_step
    calls = []

    def dies_in_epoch_three(batch, epoch):
        calls.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt  # as a SIGKILL would, after the epoch-2 checkpoint
        return step(batch, epoch)

    killed.train_step = dies_in_epoch_three
    with pytest.raises(KeyboardInterrupt):
        killed.fit(log=lambda _: None)
    resumed = _model()
    trainer = _trainer(tmp_path, resumed, cache, epochs=4, out="run")
    trainer.fit(log=lambda _: None)
    for (name, a), (_, b) in zip(full.named_parameters(), resumed.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)
    assert [json.loads(x)["epoch"] for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="other head settings"):  # other settings never mix into a run
        _trainer(tmp_path, _model(), cache, epochs=5, out="run").resume()


def test_cache_refuses_to_mix_precisions(tmp_path):
    model = _model()
    _build(model, tmp_path / "c")
    with pytest.raises(ValueError, match="precision"):
        _build(model, tmp_path / "c", autocast_dtype=torch.bfloat16)
