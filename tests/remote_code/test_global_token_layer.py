"""`WavLinkConfig.global_token_layer`: where the global token joins the Whisper layers. 0 is the paper (every
layer sees it); a later layer leaves the layers below plain Whisper, so their output can be cached
(`audio_prefix_states` / `get_audio_features_from_prefix`). Every path must give the same embedding."""

from __future__ import annotations

import pytest
import torch
from helpers import audio_inputs, make_clip, tiny_config, tiny_model, tiny_whisper_config

from wavlink import WavLinkConfig, WavLinkModel


def _three_layer(seed: int = 0, **overrides) -> WavLinkModel:
    return tiny_model(seed, audio_config=tiny_whisper_config(encoder_layers=3), **overrides)


def test_negative_index_counts_from_the_end_and_round_trips(tmp_path):
    cfg = tiny_config(audio_config=tiny_whisper_config(encoder_layers=3), global_token_layer=-1)
    assert cfg.global_token_layer == 2
    cfg.save_pretrained(tmp_path)
    assert WavLinkConfig.from_pretrained(tmp_path).global_token_layer == 2
    assert tiny_config().global_token_layer == 0  # the paper's default


@pytest.mark.parametrize("layer", [3, -4, 7])
def test_out_of_range_layer_is_refused(layer):
    with pytest.raises(ValueError, match="global_token_layer"):
        tiny_config(audio_config=tiny_whisper_config(encoder_layers=3), global_token_layer=layer)


@pytest.mark.parametrize("layer", [1, 2])
def test_every_path_gives_the_same_embedding(layer):
    model = _three_layer(global_token_layer=layer)
    clips = [make_clip(2.0, seed=1), make_clip(1.3, seed=2), make_clip(0.7, seed=3)]
    inputs = audio_inputs(model.config, clips)
    reference = model.get_audio_features(**inputs).pooler_output  # autograd on: the training path
    with torch.no_grad():
        fused = model.get_audio_features(**inputs).pooler_output
        fast = model.get_audio_features(**inputs, pooled_only=True).pooler_output
        states, mask = model.audio_prefix_states(**inputs)
        from_prefix = model.get_audio_features_from_prefix(states, mask, pooled_only=True).pooler_output
        alone = model.get_audio_features(**audio_inputs(model.config, clips[2:])).pooler_output
    for other in (fused, fast, from_prefix):
        torch.testing.assert_close(other, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone[0], reference[2], atol=1e-5, rtol=1e-5)  # batch-invariant


def test_a_later_join_changes_the_function_but_not_the_frames_below():
    paper, late = _three_layer(global_token_layer=0), _three_layer(global_token_layer=2)
    late.load_state_dict(paper.state_dict())
    inputs = audio_inputs(paper.config, [make_clip(1.0)])
    with torch.no_grad():
        assert not torch.allclose(paper.get_audio_features(**inputs).pooler_output,
                                  late.get_audio_features(**inputs).pooler_output)
        states, _ = late.audio_prefix_states(**inputs)
        x, mask = paper._stem(inputs["input_features"], inputs["feature_attention_mask"])
        for layer in paper.audio_model.layers[:2]:  # plain Whisper below the join: no token in the sequence
            x = layer(x, None)
    torch.testing.assert_close(states, x, atol=1e-5, rtol=1e-5)


def test_pooled_only_training_path_has_the_same_gradients():
    model = _three_layer(global_token_layer=2).train()
    inputs = audio_inputs(model.config, [make_clip(1.5, seed=4), make_clip(0.9, seed=5)])
    grads = []
    for pooled_only in (False, True):
        model.zero_grad()
        states, mask = model.audio_prefix_states(**inputs)
        model.get_audio_features_from_prefix(states, mask, pooled_only=pooled_only).pooler_output.pow(3).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert set(grads[0]) == set(grads[1]) and "global_token" in grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-5, rtol=1e-4)


def test_prefix_states_refuse_long_audio():
    model = _three_layer(global_token_layer=1, max_audio_seconds=1.0)
    with pytest.raises(ValueError, match="max_audio_seconds"):
        model.audio_prefix_states(**audio_inputs(model.config, [make_clip(2.0)]))
