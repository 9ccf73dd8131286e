"""WavLinkModel / WavLinkConfig: config round trips, parity with transformers' own modules, batch invariance,
variable length, long-audio policies, gradients, Matryoshka truncation, presets and zero-shot use."""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from helpers import (
    PROJ,
    SR,
    audio_inputs,
    make_clip,
    text_ids,
    tiny_bert_config,
    tiny_clip_text_config,
    tiny_config,
    tiny_model,
    tiny_processor,
    tiny_whisper_config,
)
from transformers import (
    BertModel,
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    ModernBertConfig,
    RobertaConfig,
    WhisperConfig,
    WhisperModel,
    pipeline,
)
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from wavlink import WavLinkConfig, WavLinkModel, WavLinkOutput
from wavlink.builders.components import build_from_components
from wavlink.builders.presets import PRESETS, preset_config


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


@pytest.fixture(scope="module")
def model() -> WavLinkModel:
    return tiny_model(seed=0)


@pytest.fixture(scope="module")
def clips() -> dict[str, object]:
    return {"short": make_clip(3.0, seed=1), "mid": make_clip(7.3, seed=2), "long": make_clip(12.0, seed=3)}


# ----------------------------------------------------------------------------------------------- config
def test_config_round_trip(tmp_path: Path) -> None:
    cfg = tiny_config(text_pooling="eos", long_audio_policy="truncate", max_audio_seconds=10)
    assert cfg.matryoshka_dims == [PROJ, PROJ // 2, PROJ // 4, PROJ // 8]
    cfg.save_pretrained(tmp_path)
    back = WavLinkConfig.from_pretrained(tmp_path)
    assert isinstance(back.audio_config, WhisperConfig)
    assert isinstance(back.text_config, CLIPTextConfig)
    assert back.text_config.model_type == "clip_text_model"
    assert back.to_dict() == cfg.to_dict()
    assert back.max_audio_frames == 1000

    bert = tiny_config(text_config=tiny_bert_config(), projection_dim=64)
    assert bert.matryoshka_dims == [64, 32, 16, 8]
    assert bert.resolved_text_pooling == "cls" and cfg.resolved_text_pooling == "eos"
    back = WavLinkConfig.from_dict(bert.to_dict())
    assert back.text_config.model_type == "bert"
    assert back.text_config.hidden_size == 24
    assert back.to_dict() == bert.to_dict()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text_pooling", "max"),
        ("long_audio_policy", "random_crop"),
        ("audio_padding", "shortest"),
        ("audio_pooling", "attention"),
        ("loss_type", "triplet"),
        ("global_token_position", "first"),
        ("matryoshka_dims", [PROJ, 48]),
        ("matryoshka_dims", [16, 8]),
        ("max_audio_seconds", 31),
        ("max_audio_seconds", 0),
        ("max_audio_seconds", -5),
        ("sampling_rate", 0),
    ],
)
def test_config_rejects_invalid_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


# ----------------------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_encoder_parity_with_whisper_encoder(attn: str) -> None:
    """Mean pooling, a full 30 s window: our masked encoder loop == WhisperEncoder.forward."""
    model = tiny_model(audio_pooling="mean", attn_implementation=attn)
    assert model.audio_model.config._attn_implementation == attn
    inputs = audio_inputs(model.config, [make_clip(30.0, seed=5)])
    feats, mask = inputs["input_features"], inputs["feature_attention_mask"]
    assert feats.shape == (1, 80, 3000) and bool(mask.all())
    with torch.no_grad():
        pooled, hidden = model._encode_windows(feats, mask)
        ref = model.audio_model(feats).last_hidden_state
    assert hidden.shape == ref.shape == (1, 1500, 32)
    assert max_diff(hidden, ref) <= 1e-5
    assert max_diff(pooled, ref.mean(1)) <= 1e-5


def test_variable_length_parity_with_a_shorter_whisper_encoder() -> None:
    """A 10 s clip, alone or padded in a batch, == WhisperEncoder built for 500 positions (the notes' option a)."""
    model = tiny_model(audio_pooling="mean")
    ref = WhisperEncoder(tiny_whisper_config(max_source_positions=500)).eval()
    state = dict(model.audio_model.state_dict())
    state["embed_positions.weight"] = state["embed_positions.weight"][:500]
    ref.load_state_dict(state)
    ten, longer = make_clip(10.0, seed=6), make_clip(13.0, seed=7)
    alone = audio_inputs(model.config, [ten])
    batch = audio_inputs(model.config, [longer, ten])
    with torch.no_grad():
        expected = ref(alone["input_features"]).last_hidden_state
        _, hidden = model._encode_windows(alone["input_features"], alone["feature_attention_mask"])
        _, hidden_b = model._encode_windows(batch["input_features"], batch["feature_attention_mask"])
    assert hidden.shape == expected.shape == (1, 500, 32)
    assert max_diff(hidden, expected) <= 1e-5
    assert hidden_b.shape == (2, 650, 32)
    assert max_diff(hidden_b[1, :500], expected[0]) <= 1e-4


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny pretrained-looking checkpoints on disk, some of them deliberately broken."""
    root = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(11)
    WhisperModel(tiny_whisper_config()).save_pretrained(root / "whisper")
    WhisperEncoder(tiny_whisper_config()).save_pretrained(root / "whisper_encoder_only")
    clip = CLIPTextModelWithProjection(tiny_clip_text_config())
    clip.save_pretrained(root / "clip")
    clip.save_pretrained(root / "clip_broken")
    weights = root / "clip_broken" / "model.safetensors"
    state = safetensors.torch.load_file(weights)
    del state["text_model.final_layer_norm.weight"]
    safetensors.torch.save_file(state, weights, metadata={"format": "pt"})
    BertModel(tiny_bert_config()).save_pretrained(root / "bert_st")
    (root / "bert_st" / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},'
        ' {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]'
    )
    (root / "bert_st" / "1_Pooling").mkdir()
    (root / "bert_st" / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 24, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true}'
    )
    return {p.name: p for p in root.iterdir()}


def test_from_pretrained_components_clip_text_parity(checkpoints: dict[str, Path]) -> None:
    model = build_from_components(whisper=checkpoints["whisper"], text=checkpoints["clip"]).eval()
    assert model.config.projection_dim == PROJ and model.config.resolved_text_pooling == "eos"
    whisper = WhisperModel.from_pretrained(checkpoints["whisper"])
    for key, value in whisper.encoder.state_dict().items():
        assert torch.equal(model.audio_model.state_dict()[key], value), key
    clip = CLIPTextModelWithProjection.from_pretrained(checkpoints["clip"]).eval()
    assert torch.equal(model.text_projection.weight, clip.text_projection.weight)

    inputs = text_ids(["a dog barks", "rain on a tin roof at night", "x"])
    with torch.no_grad():
        ours = model.get_text_features(**inputs).pooler_output
        ref = F.normalize(clip(**inputs).text_embeds, dim=-1)
    assert ours.shape == (3, PROJ)
    assert max_diff(ours, ref) <= 1e-5


def test_from_pretrained_components_refuses_missing_weights(checkpoints: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="lacks"):
        build_from_components(whisper=checkpoints["whisper"], text=checkpoints["clip_broken"])
    with pytest.raises(ValueError, match="encoder weights"):
        build_from_components(
            whisper=checkpoints["whisper_encoder_only"], text=checkpoints["clip"]
        )


def test_from_pretrained_components_bert_reads_sentence_transformers_pooling(checkpoints: dict[str, Path]) -> None:
    model = build_from_components(
        whisper=checkpoints["whisper"], text=checkpoints["bert_st"], projection_dim=PROJ
    ).eval()
    assert model.config.text_config.model_type == "bert"
    assert model.config.text_pooling == "mean"
    bert = BertModel.from_pretrained(checkpoints["bert_st"]).eval()
    for key, value in model.text_model.state_dict().items():
        assert torch.equal(bert.state_dict()[key], value), key


def _bert_inputs() -> dict[str, torch.Tensor]:
    ids = torch.tensor([[101, 7, 8, 9, 102, 0, 0], [101, 11, 12, 13, 14, 15, 102]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_bert_text_tower_pooling(pooling: str) -> None:
    model = tiny_model(text_config=tiny_bert_config(), text_pooling=pooling)
    inputs = _bert_inputs()
    with torch.no_grad():
        emb = model.get_text_features(**inputs).pooler_output
        hidden = model.text_model(**inputs).last_hidden_state
        alone = model.get_text_features(input_ids=inputs["input_ids"][:1, :5]).pooler_output
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        w = inputs["attention_mask"][..., None].float()
        pooled = (hidden * w).sum(1) / w.sum(1)
    expected = F.normalize(model.text_projection(pooled), dim=-1)
    assert max_diff(emb, expected) <= 1e-6
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-6)
    assert max_diff(alone[0], emb[0]) <= 1e-5  # padding does not leak into either pooling


@pytest.mark.parametrize("tower", ["modernbert", "roberta"])
def test_other_text_towers_build_save_and_load(tower: str, tmp_path: Path) -> None:
    if tower == "modernbert":
        text_config = ModernBertConfig(
            vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
            max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1,
            sep_token_id=2, global_attn_every_n_layers=1, local_attention=16,
        )
    else:
        text_config = RobertaConfig(vocab_size=300, hidden_size=24, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=48, max_position_embeddings=70, pad_token_id=1)
    model = tiny_model(text_config=text_config, text_pooling="mean")
    ids = torch.tensor([[5, 7, 8, 9, 6, 0, 0], [5, 11, 12, 13, 14, 15, 6]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1] * 7])
    with torch.no_grad():
        emb = model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
        alone = model.get_text_features(input_ids=ids[:1, :5]).pooler_output
    assert emb.shape == (2, PROJ)
    assert max_diff(alone[0], emb[0]) <= 1e-5
    model.save_pretrained(tmp_path)
    back = WavLinkModel.from_pretrained(tmp_path).eval()
    assert back.config.text_config.model_type == text_config.model_type
    with torch.no_grad():
        assert max_diff(back.get_text_features(input_ids=ids, attention_mask=mask).pooler_output, emb) <= 1e-6


def test_bert_without_pooler_rejects_pooler_pooling() -> None:
    model = tiny_model(text_config=tiny_bert_config(), text_pooling="pooler")
    with pytest.raises(ValueError, match="pooler"):
        model.get_text_features(**_bert_inputs())


# ----------------------------------------------------------------------------------------------- audio
def test_attn_implementation_reaches_both_towers(tmp_path: Path) -> None:
    """Every v5 way of choosing the attention kernel propagates to the Whisper and text sub-models."""
    def kernels(m: WavLinkModel) -> tuple[str, str, str]:
        return (m.config._attn_implementation, m.audio_model.config._attn_implementation,
                m.text_model.config._attn_implementation)

    assert kernels(tiny_model()) == ("sdpa",) * 3  # the default
    cfg = tiny_config()
    cfg._attn_implementation = "eager"
    assert kernels(WavLinkModel(cfg)) == ("eager",) * 3
    assert kernels(WavLinkModel._from_config(tiny_config(), attn_implementation="eager")) == ("eager",) * 3
    model = tiny_model()
    model.save_pretrained(tmp_path)
    assert kernels(WavLinkModel.from_pretrained(tmp_path, attn_implementation="eager")) == ("eager",) * 3
    model.set_attn_implementation("eager")
    assert kernels(model) == ("eager",) * 3


def test_batch_invariance_sdpa_and_eager(clips: dict) -> None:
    results = {}
    for attn in ("sdpa", "eager"):
        model = tiny_model(attn_implementation=attn)
        assert model.audio_model.config._attn_implementation == attn
        with torch.no_grad():
            alone = model.get_audio_features(**audio_inputs(model.config, [clips["mid"]])).pooler_output[0]
            batch = model.get_audio_features(
                **audio_inputs(model.config, [clips["long"], clips["mid"], clips["short"]])
            ).pooler_output
        assert max_diff(alone, batch[1]) <= 1e-4, attn
        results[attn] = batch
    assert max_diff(results["sdpa"], results["eager"]) <= 1e-5


def test_variable_length_runs_on_real_frames_only(model: WavLinkModel) -> None:
    inputs = audio_inputs(model.config, [make_clip(10.0)])
    assert inputs["input_features"].shape[-1] == 1000
    with torch.no_grad():
        out = model.get_audio_features(**inputs, output_hidden_states=True)
    assert out.last_hidden_state.shape == (1, 501, 32)  # 500 frame positions + the global token
    # Paper-faithful mode pads with silence to 30 s and attends to it.
    inputs30 = audio_inputs(model.config, [make_clip(10.0)], padding="max_length")
    assert inputs30["input_features"].shape[-1] == 3000 and bool(inputs30["feature_attention_mask"].all())
    with torch.no_grad():
        assert model.get_audio_features(**inputs30, output_hidden_states=True).last_hidden_state.shape == (1, 1501, 32)


def test_global_token_is_the_last_position(model: WavLinkModel) -> None:
    inputs = audio_inputs(model.config, [make_clip(4.0)])
    with torch.no_grad():
        out = model.get_audio_features(**inputs, pooled_only=False)
        expected = F.normalize(model.audio_projection(out.last_hidden_state[:, -1]), dim=-1)
    assert max_diff(out.pooler_output, expected) <= 1e-6


def _window_embeds(model: WavLinkModel, feats: torch.Tensor, bounds: list[tuple[int, int]]) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model.get_audio_features(feats[:, :, a:b]).pooler_output for a, b in bounds])


def test_long_audio_chunk_truncate_error() -> None:
    chunk = tiny_model(seed=0)
    long_clip, short_clip = make_clip(65.0, seed=7), make_clip(5.0, seed=8)
    inputs = audio_inputs(chunk.config, [long_clip, short_clip])
    feats = inputs["input_features"]
    assert feats.shape[-1] == 6500
    with torch.no_grad():
        out = chunk.get_audio_features(**inputs).pooler_output
        again = chunk.get_audio_features(**inputs).pooler_output
    assert torch.equal(out, again)

    # By hand: windows [0, 30 s), [30 s, 60 s), [60 s, 65 s), each embedded alone, weighted by duration.
    bounds = [(0, 3000), (3000, 6000), (6000, 6500)]
    windows = _window_embeds(chunk, feats[:1], bounds)
    weights = torch.tensor([b - a for a, b in bounds], dtype=torch.float32)
    assert int(weights.sum()) == 6500  # every frame exactly once
    expected = F.normalize((weights[:, None] * windows).sum(0), dim=-1)
    assert max_diff(out[0], expected) <= 1e-5
    # The short clip in the same batch is unaffected by its long neighbour.
    with torch.no_grad():
        short_alone = chunk.get_audio_features(**audio_inputs(chunk.config, [short_clip])).pooler_output[0]
    assert max_diff(out[1], short_alone) <= 1e-4

    truncate = tiny_model(seed=0, long_audio_policy="truncate")
    with torch.no_grad():
        first = truncate.get_audio_features(feats[:1, :, :3000]).pooler_output
        truncated = truncate.get_audio_features(**inputs).pooler_output
    assert max_diff(truncated[0], first[0]) <= 1e-6
    assert max_diff(truncated[1], short_alone) <= 1e-4

    strict = tiny_model(seed=0, long_audio_policy="error")
    with pytest.raises(ValueError, match="long_audio_policy"):
        strict.get_audio_features(**inputs)


def test_chunking_with_a_small_window() -> None:
    """max_audio_seconds=2: a 4.5 s clip is windows of 2 + 2 + 0.5 s; an exact 4 s clip has no empty tail."""
    model = tiny_model(seed=3, max_audio_seconds=2.0)
    assert model.config.max_audio_frames == 200
    for seconds, bounds in [(4.5, [(0, 200), (200, 400), (400, 450)]), (4.0, [(0, 200), (200, 400)])]:
        inputs = audio_inputs(model.config, [make_clip(seconds, seed=9)])
        feats = inputs["input_features"]
        assert feats.shape[-1] == bounds[-1][1]
        with torch.no_grad():
            out = model.get_audio_features(**inputs).pooler_output[0]
        windows = _window_embeds(model, feats, bounds)
        weights = torch.tensor([b - a for a, b in bounds], dtype=torch.float32)
        expected = F.normalize((weights[:, None] * windows).sum(0), dim=-1)
        assert max_diff(out, expected) <= 1e-5, seconds


def test_audio_input_validation(model: WavLinkModel) -> None:
    with pytest.raises(ValueError, match="input_features"):
        model.get_audio_features(torch.zeros(1, 64, 100))
    with pytest.raises(ValueError, match="NaN"):
        model.get_audio_features(torch.full((1, 80, 100), float("nan")))
    with pytest.raises(ValueError, match="no valid frames"):
        model.get_audio_features(torch.zeros(1, 80, 100), torch.zeros(1, 100, dtype=torch.long))
    left_padded = torch.zeros(1, 100, dtype=torch.long)
    left_padded[:, 40:] = 1  # the encoder runs on mask.sum() leading frames: this would embed the padding
    with pytest.raises(ValueError, match="right padding"):
        model.get_audio_features(torch.zeros(1, 80, 100), left_padded)


# ----------------------------------------------------------------------------------------------- training
def _loss_and_grads(model: WavLinkModel, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(**batch, return_loss=True)
    out.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.loss.detach(), grads


@pytest.fixture(scope="module")
def train_batch(clips: dict) -> dict[str, torch.Tensor]:
    cfg = tiny_config()
    return {
        **text_ids(["a dog barks", "rain", "a violin melody slowly rising"]),
        **audio_inputs(cfg, [clips["short"], clips["mid"], make_clip(1.5, seed=4)]),
    }


def test_gradients_reach_every_trainable_part(train_batch: dict) -> None:
    model = tiny_model(seed=1)
    loss, grads = _loss_and_grads(model, train_batch)
    assert torch.isfinite(loss) and loss > 0
    for name in [
        "global_token", "audio_projection.weight", "text_projection.weight", "logit_scale",
        "audio_model.conv1.weight", "audio_model.layers.0.self_attn.q_proj.weight",
        "audio_model.layers.1.fc2.weight", "text_model.encoder.layers.0.mlp.fc1.weight",
    ]:
        assert name in grads, name
        assert torch.isfinite(grads[name]).all() and grads[name].abs().sum() > 0, name


@pytest.mark.parametrize("method", ["activation_checkpointing_enable", "gradient_checkpointing_enable"])
def test_gradient_checkpointing_matches(train_batch: dict, method: str) -> None:
    """Both the v5 name and the deprecated alias switch checkpointing on; loss and grads are unchanged."""
    model = tiny_model(seed=1)
    loss_ref, grads_ref = _loss_and_grads(model, train_batch)

    ckpt = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # gradient_checkpointing_enable is deprecated in 5.23
        getattr(ckpt, method)()
    layer = ckpt.audio_model.layers[0]
    assert layer.gradient_checkpointing
    calls = {"n": 0}
    original = layer._gradient_checkpointing_func

    def counting(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    layer._gradient_checkpointing_func = counting
    loss_ckpt, grads_ckpt = _loss_and_grads(ckpt, train_batch)
    assert calls["n"] > 0  # the checkpointed path really ran
    assert abs(loss_ckpt.item() - loss_ref.item()) <= 1e-5
    assert grads_ckpt.keys() == grads_ref.keys()
    for name, g in grads_ref.items():
        assert max_diff(grads_ckpt[name], g) <= 1e-5, name


# ----------------------------------------------------------------------------------------------- matryoshka
def test_truncate_dim(model: WavLinkModel, clips: dict) -> None:
    a_in = audio_inputs(model.config, [clips["short"], clips["mid"]])
    t_in = text_ids(["a dog barks", "rain"])
    with torch.no_grad():
        full_a = model.get_audio_features(**a_in).pooler_output
        full_t = model.get_text_features(**t_in).pooler_output
        for d in model.config.matryoshka_dims:
            a = model.get_audio_features(**a_in, truncate_dim=d).pooler_output
            t = model.get_text_features(**t_in, truncate_dim=d).pooler_output
            assert a.shape == (2, d) and t.shape == (2, d)
            assert max_diff(a, F.normalize(full_a[:, :d], dim=-1)) <= 1e-6
            assert max_diff(t, F.normalize(full_t[:, :d], dim=-1)) <= 1e-6
        out = model(**a_in, **t_in, truncate_dim=8)
    assert out.audio_embeds.shape == (2, 8) and out.text_embeds.shape == (2, 8)
    for bad in (20, PROJ + 1, 0):
        with pytest.raises(ValueError, match="truncate_dim"):
            model.get_audio_features(**a_in, truncate_dim=bad)
        with pytest.raises(ValueError, match="truncate_dim"):
            model.get_text_features(**t_in, truncate_dim=bad)


# ----------------------------------------------------------------------------------------------- presets
@pytest.mark.parametrize(("name", "paper_m", "dims"), [
    ("base", 84, [512, 256, 128, 64]),
    ("small", 152, [512, 256, 128, 64]),
    ("large", 761, [768, 384, 192, 96]),
])
def test_preset_parameter_counts_match_paper(name: str, paper_m: float, dims: list[int]) -> None:
    assert PRESETS[name].reported_params_m == paper_m
    with torch.device("meta"):
        model = WavLinkModel(preset_config(name))
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - paper_m) / paper_m <= 0.02, f"{name}: {n:.2f}M vs paper {paper_m}M"
    assert model.config.matryoshka_dims == dims


# ----------------------------------------------------------------------------------------------- both
def test_forward_with_both_modalities(model: WavLinkModel, clips: dict) -> None:
    a_in = audio_inputs(model.config, [clips["short"], clips["long"]])
    t_in = text_ids(["a dog barks", "rain", "music"])
    with torch.no_grad():
        out = model(**t_in, **a_in)
        a = model.get_audio_features(**a_in).pooler_output
        t = model.get_text_features(**t_in).pooler_output
    assert isinstance(out, WavLinkOutput) and "last_hidden_state" not in out
    assert out.logits_per_audio.shape == (2, 3) and out.logits_per_text.shape == (3, 2)
    assert torch.equal(out.logits_per_text, out.logits_per_audio.t())
    expected = math.exp(model.config.logit_scale_init) * a @ t.t()
    assert max_diff(out.logits_per_audio, expected) <= 1e-4
    assert out.loss is None
    with pytest.raises(ValueError):
        model()
    with pytest.raises(ValueError, match="return_loss"):
        model(**t_in, return_loss=True)


@pytest.mark.parametrize("loss_type", ["siglip", "clip+siglip"])
def test_forward_logits_use_the_scale_the_model_was_trained_with(clips: dict, loss_type: str) -> None:
    """A SigLIP model's logits are exp(t') * cos + b (SigLIP's own scale and bias), not CLIP's scale."""
    model = tiny_model(seed=0, loss_type=loss_type)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(20.0))
        model.siglip_logit_scale.fill_(math.log(7.0))
        model.siglip_logit_bias.fill_(-3.0)
    a_in = audio_inputs(model.config, [clips["short"]])
    t_in = text_ids(["a dog barks", "rain"])
    with torch.no_grad():
        out = model(**t_in, **a_in)
    cos = out.audio_embeds @ out.text_embeds.t()
    expected = 7.0 * cos - 3.0 if loss_type == "siglip" else 20.0 * cos
    assert max_diff(out.logits_per_audio, expected) <= 1e-5


def test_zero_shot_pipeline_in_process(model: WavLinkModel, clips: dict) -> None:
    processor = tiny_processor(model.config)
    clf = pipeline(
        "zero-shot-audio-classification", model=model,
        feature_extractor=processor.feature_extractor, tokenizer=processor.tokenizer,
    )
    labels = ["dog", "rain", "violin"]
    result = clf(clips["mid"], candidate_labels=labels)
    scores = [r["score"] for r in result]
    assert sorted(r["label"] for r in result) == sorted(labels)
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) <= 1e-5
    prompts = [f"This is a sound of {label}." for label in labels]
    with torch.no_grad():
        logits = model(**text_ids(prompts), **audio_inputs(model.config, [clips["mid"]])).logits_per_audio[0]
    expected = dict(zip(labels, logits.softmax(-1).tolist()))
    for r in result:
        assert abs(r["score"] - expected[r["label"]]) <= 1e-5
    assert SR == processor.feature_extractor.sampling_rate
