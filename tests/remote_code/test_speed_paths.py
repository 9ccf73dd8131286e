"""The fast inference paths: the fused fp32 encoder path (the default at inference) against transformers'
`WhisperEncoderLayer` path it replaces, its batch invariance, and the opt-in int8 / bf16 options of the
Embedder and the CLI. Tiny random models; behaviour only, never timings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import audio_inputs, make_clip, tiny_config, tiny_model, tiny_processor, tiny_whisper_config
from transformers.models.whisper import modeling_whisper

from wavlink.builders.folder import save_model_folder
from wavlink.inference import Embedder
from wavlink.optimize import default_int8_engine, int8_engine, is_int8, quantize_int8

LENGTHS = [3.0, 1.2, 7.5, 0.3]


def _clips(lengths=LENGTHS):
    return [make_clip(s, seed=i) for i, s in enumerate(lengths)]


def _embed(model, clips, **kwargs) -> torch.Tensor:
    with torch.inference_mode():
        return model.get_audio_features(**audio_inputs(model.config, clips), **kwargs).pooler_output


def _reference(model, clips, **kwargs) -> torch.Tensor:
    model.fused_inference = False
    try:
        return _embed(model, clips, **kwargs)
    finally:
        model.fused_inference = True


@pytest.fixture
def no_whisper_layer_forward(monkeypatch):
    """Fail if transformers' encoder layer runs: the fused path must replace it at inference."""
    def boom(*args, **kwargs):
        raise AssertionError("WhisperEncoderLayer.forward ran on the inference path")

    monkeypatch.setattr(modeling_whisper.WhisperEncoderLayer, "forward", boom)


# a head width whose 1/sqrt is not a power of two (24 -> 0.204...), so scaling q first or inside SDPA differ
CONFIGS = {
    "global_token": {},
    "mean": {"audio_pooling": "mean"},
    "learned_position": {"global_token_position": "learned"},
    "head_dim_24": {"audio_config": tiny_whisper_config(d_model=48, encoder_attention_heads=2, encoder_ffn_dim=96)},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fused_path_matches_the_whisper_layer_path(name):
    model = tiny_model(seed=3, **CONFIGS[name])
    if name == "learned_position":
        torch.nn.init.normal_(model.global_token_position, std=0.5)
    clips = _clips()
    reference = _reference(model, clips)
    fast = _embed(model, clips)
    assert torch.allclose(fast, reference, atol=1e-5), (fast - reference).abs().max()
    assert F.cosine_similarity(fast, reference).min() > 0.99999


def test_inference_does_not_run_the_transformers_layers(no_whisper_layer_forward):
    model = tiny_model()
    out = _embed(model, _clips())
    assert torch.isfinite(out).all()


def test_training_and_autograd_keep_the_reference_path():
    model = tiny_model()
    calls = []
    layer = model.audio_model.layers[0]
    layer.register_forward_hook(lambda *a: calls.append(1))
    inputs = audio_inputs(model.config, _clips())
    model.get_audio_features(**inputs).pooler_output.sum().backward()  # grad enabled, eval mode
    assert calls, "with autograd on, the transformers layers must run (gradient checkpointing, hooks, LoRA)"
    assert model.global_token.grad is not None


@pytest.mark.parametrize("name", ["global_token", "mean"])
def test_fused_path_is_batch_invariant(name):
    model = tiny_model(seed=1, **CONFIGS[name])
    clips = _clips()
    batch = _embed(model, clips)
    alone = torch.cat([_embed(model, [c]) for c in clips])  # unpadded: the mask-free branch
    assert (batch - alone).abs().max() < 1e-4
    same_length = _clips([2.0, 2.0, 2.0])  # an unpadded batch of several clips
    assert (_embed(model, same_length) - torch.cat([_embed(model, [c]) for c in same_length])).abs().max() < 1e-4


def test_long_audio_chunks_match_the_reference():
    model = tiny_model()
    clips = _clips([65.0, 4.0])  # three windows (30 + 30 + 5 s) next to a short clip
    assert torch.allclose(_embed(model, clips), _reference(model, clips), atol=1e-5)
    assert torch.allclose(_embed(model, clips, truncate_dim=16), _reference(model, clips, truncate_dim=16), atol=1e-5)


def test_int8_quantises_every_linear_and_stays_close():
    model = tiny_model(seed=2)
    clips = _clips()
    fp32 = _embed(model, clips)
    engine_before = torch.backends.quantized.engine
    quantize_int8(model)
    assert is_int8(model) and int8_engine(model) == default_int8_engine()
    assert torch.backends.quantized.engine == engine_before  # the process-wide setting is left alone
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    assert not linears, f"{len(linears)} float Linear layers left"
    dynamic = [m for m in model.modules() if "dynamic" in type(m).__module__ and "Linear" in type(m).__name__]
    assert dynamic
    int8 = _embed(model, clips)
    assert int8.shape == fp32.shape and torch.isfinite(int8).all()
    assert F.cosine_similarity(int8, fp32).min() > 0.98
    # activations are quantised per call, so a clip's vector depends slightly on its batch: close, not equal
    alone = torch.cat([_embed(model, [c]) for c in clips])
    assert F.cosine_similarity(alone, int8).min() > 0.98


def test_int8_refuses_non_fp32_weights():
    model = tiny_model().to(torch.bfloat16)
    with pytest.raises(ValueError, match="fp32"):
        quantize_int8(model)


@pytest.mark.parametrize("engine", [e for e in ("x86", "fbgemm", "onednn")
                                    if e in torch.backends.quantized.supported_engines])
def test_int8_engines_agree(engine):
    """The engine only chooses how the int8 weights are packed (kernels); the numbers stay the same."""
    clips = _clips()
    default = _embed(quantize_int8(tiny_model(seed=2)), clips)
    other = _embed(quantize_int8(tiny_model(seed=2), engine=engine), clips)
    assert F.cosine_similarity(default, other).min() > 0.999


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    model = tiny_model(seed=4)
    return save_model_folder(model, tiny_processor(model.config), tmp_path_factory.mktemp("speed") / "tiny")


def test_embedder_int8_and_bf16_options(tiny_folder):
    clips = _clips()
    texts = ["a dog barks", "rain on a roof"]
    fp32 = Embedder.load(tiny_folder, device="cpu", batch_size=2)
    int8 = Embedder.load(tiny_folder, device="cpu", batch_size=2, int8=True)
    bf16 = Embedder.load(tiny_folder, device="cpu", batch_size=2, dtype="bfloat16")
    assert int8.load_options == {"int8": f"dynamic-{default_int8_engine()}"} and is_int8(int8.model)
    assert bf16.load_options == {"dtype": "bfloat16"}
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    ref_a, ref_t = fp32.encode_audio(clips), fp32.encode_text(texts)
    for emb in (int8, bf16):
        a, t = emb.encode_audio(clips), emb.encode_text(texts)
        assert a.dtype == np.float32 and np.isfinite(a).all()
        assert (a * ref_a).sum(1).min() > 0.98
        assert (t * ref_t).sum(1).min() > 0.98
    with pytest.raises(ValueError, match="cannot be combined"):
        Embedder.load(tiny_folder, device="cpu", int8=True, dtype="bfloat16")
    with pytest.raises(ValueError, match="CPU only"):
        Embedder.load(tiny_folder, device="cuda", int8=True)


def test_cli_embed_int8(tiny_folder, tmp_path):
    import soundfile as sf

    from wavlink.cli import main

    wav = tmp_path / "a.wav"
    sf.write(wav, make_clip(1.5), 16000)
    out = tmp_path / "e.npy"
    assert main(["embed", str(wav), "--model", str(tiny_folder), "--device", "cpu", "--int8", "--out", str(out)]) == 0
    got = np.load(out)
    ref = Embedder.load(tiny_folder, device="cpu").encode_audio([str(wav)])
    assert got.shape == ref.shape and (got * ref).sum(1).min() > 0.98
    assert main(["embed", str(wav), "--model", str(tiny_folder), "--int8", "--dtype", "bfloat16",
                 "--out", str(out)]) == 2


def test_files_are_decoded_batch_by_batch(tiny_folder, tmp_path, monkeypatch):
    """A file set is streamed: each processor call decodes at most one batch of paths (memory stays that of
    one batch, however many files), and the clips are never decoded up front."""
    import soundfile as sf

    paths = []
    for i in range(7):
        paths.append(tmp_path / f"{i}.wav")
        sf.write(paths[-1], make_clip(0.5 + 0.1 * i, seed=i), 16000)
    embedder = Embedder.load(tiny_folder, device="cpu", batch_size=3)
    seen = []
    real = embedder.processor
    plain = real.__call__

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def __call__(self, audio=None, **kwargs):
            seen.append(list(audio))
            return plain(audio=audio, **kwargs)

    embedder.processor = Spy()
    out = embedder.encode_audio([str(p) for p in paths])
    assert out.shape[0] == 7
    assert [len(b) for b in seen] == [3, 3, 1]
    assert all(isinstance(x, str) for b in seen for x in b)  # paths: decoded inside the batch's call


def test_features_are_cast_to_the_encoder_dtype():
    """`get_audio_features` reads the dtype from the conv stem (a quantised projection has no `.weight`)."""
    model = tiny_model().to(torch.bfloat16)
    out = _embed(model, _clips())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    assert tiny_config().audio_config.d_model == model.audio_model.conv1.weight.shape[0]


@pytest.mark.parametrize("name", ["global_token", "mean", "learned_position"])
def test_pooled_only_gives_the_same_embeddings(name):
    """`pooled_only` runs the last layer for the global token alone: same vectors, no encoder states."""
    model = tiny_model(seed=6, **CONFIGS[name])
    clips = _clips()
    inputs = audio_inputs(model.config, clips)
    with torch.inference_mode():
        full = model.get_audio_features(**inputs, pooled_only=False)
        short = model.get_audio_features(**inputs, pooled_only=True)
        alone = torch.cat([model.get_audio_features(**audio_inputs(model.config, [c]), pooled_only=True).pooler_output
                           for c in clips])
    assert full.last_hidden_state is not None and short.last_hidden_state is None
    assert torch.allclose(short.pooler_output, full.pooler_output, atol=1e-5)
    assert torch.allclose(short.pooler_output, _reference(model, clips), atol=1e-5)
    assert (alone - short.pooler_output).abs().max() < 1e-4


@pytest.mark.parametrize("name", ["global_token", "mean", "learned_position"])
def test_the_default_is_the_pooled_only_path_at_inference(name):
    """A plain `get_audio_features(**inputs)` at inference takes the fast path: the same vectors (1e-5) as the
    frame-states path, no encoder states; they stay available through output_hidden_states / pooled_only=False."""
    model = tiny_model(seed=7, **CONFIGS[name])
    inputs = audio_inputs(model.config, _clips())
    seen = []
    model.audio_model.layers[-1].fc1.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    with torch.inference_mode():
        default = model.get_audio_features(**inputs)
        fast_calls = list(seen)
        states = model.get_audio_features(**inputs, output_hidden_states=True)
        also = model.get_audio_features(**inputs, pooled_only=False)
        through_forward = model(**inputs).audio_embeds
    assert default.last_hidden_state is None
    if name != "mean":  # global-token pooling: the last layer ran for one position per clip
        assert fast_calls == [1]
    assert states.last_hidden_state is not None and torch.equal(states.last_hidden_state, also.last_hidden_state)
    assert states.last_hidden_state.shape[:2] == (len(LENGTHS), seen[1])  # every position (global token last)
    assert torch.allclose(default.pooler_output, states.pooler_output, atol=1e-5)
    assert torch.allclose(default.pooler_output, _reference(model, _clips()), atol=1e-5)
    assert torch.allclose(through_forward, default.pooler_output, atol=1e-6)
    with pytest.raises(ValueError, match="pooled_only"):
        model.get_audio_features(**inputs, pooled_only=True, output_hidden_states=True)


def test_the_default_keeps_the_states_in_training_and_under_autograd():
    model = tiny_model(seed=8)
    inputs = audio_inputs(model.config, _clips([1.0, 2.0]))
    assert model.get_audio_features(**inputs).last_hidden_state is not None  # eval mode, grad enabled
    model.train()
    assert model.get_audio_features(**inputs).last_hidden_state is not None
    assert model.get_audio_features(**inputs, pooled_only=True).last_hidden_state is None


def test_pooled_only_skips_the_last_layer_work():
    model = tiny_model()
    seen = []
    last = model.audio_model.layers[-1]
    last.fc1.register_forward_hook(lambda mod, args, out: seen.append(tuple(args[0].shape)))
    with torch.inference_mode():
        model.get_audio_features(**audio_inputs(model.config, _clips([2.0, 1.0])), pooled_only=True)
    assert seen == [(2, 1, model.config.audio_config.d_model)]  # one position per clip: the global token


def test_embedder_asks_for_pooled_only_when_the_model_has_it(tiny_folder, monkeypatch):
    embedder = Embedder.load(tiny_folder, device="cpu")
    assert embedder._audio_kwargs == {"pooled_only": True}
    calls = []
    plain = embedder.model.get_audio_features
    monkeypatch.setattr(embedder.model, "get_audio_features", lambda **kw: calls.append(kw) or plain(**kw))
    embedder.encode_audio(_clips([1.0]))
    assert calls and calls[0]["pooled_only"] is True

    class Legacy(torch.nn.Module):  # a model whose code predates the flag (an older saved folder)
        config = embedder.model.config

        def get_audio_features(self, input_features, feature_attention_mask=None, truncate_dim=None, **kwargs):
            raise NotImplementedError

    assert Embedder(Legacy(), embedder.processor, device="cpu")._audio_kwargs == {}


def test_long_audio_windows_in_passes_give_the_same_embedding():
    """A long clip's windows go through the encoder a few at a time (bounded memory); same vectors."""
    model = tiny_model()
    clips = _clips([95.0, 3.0])  # 4 windows + a short clip
    everything = _embed(model, clips)
    model.max_windows_per_pass = 1
    try:
        assert torch.allclose(_embed(model, clips), everything, atol=1e-5)
    finally:
        model.max_windows_per_pass = 8
