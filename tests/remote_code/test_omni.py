"""OmniAudioEmbedder: config, batch invariance, long audio, presets, module-combination builder against the real
upstream class layouts, remote code in a wavlink-free process, bad input, gradients and LoRA.

Everything runs on CPU with tiny random models; upstream checkpoints are tiny instances of transformers' own
classes saved with `save_pretrained`, so the key mapping is proven against the real layouts.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers import make_clip, run_child
from safetensors.torch import load_file, save_file

from wavlink import OmniAudioEmbedder, OmniAudioEmbedderConfig, OmniAudioProcessor, create_omni
from wavlink.builders.omni import build_embedder, build_omni, save_omni_folder
from wavlink.builders.omni_presets import OMNI_PRESETS, audio_encoder_config, omni_preset_config
from wavlink.builders.tokenization import byte_level_tokenizer
from wavlink.remote_code import remote_code_files

TINY_PRESETS = ["tiny-random", "tiny-random-qwen3", "tiny-random-whisper"]
TEXTS = ["a dog barks twice", "rain on a tin roof at night", "an orchestra tuning"]


def tiny(preset: str = "tiny-random", seed: int = 0, **overrides: Any) -> tuple[OmniAudioEmbedder, OmniAudioProcessor]:
    model, processor = create_omni(preset, seed=seed, **overrides)
    return model.eval(), processor


def audio_embeds(model: OmniAudioEmbedder, processor: OmniAudioProcessor, clips: list, **kw: Any) -> torch.Tensor:
    with torch.no_grad():
        return model.get_audio_features(**processor(audio=clips, return_tensors="pt"), **kw).pooler_output


def text_embeds(model: OmniAudioEmbedder, processor: OmniAudioProcessor, texts: list, **kw: Any) -> torch.Tensor:
    with torch.no_grad():
        return model.get_text_features(**processor(text=texts, return_tensors="pt"), **kw).pooler_output


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_config_round_trip(preset: str, tmp_path: Path) -> None:
    config = omni_preset_config(preset, text_instruction="Find audio: ", pooling="last")
    config.save_pretrained(tmp_path)
    loaded = OmniAudioEmbedderConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.audio_encoder_type == config.audio_encoder_type
    assert type(loaded.audio_config) is type(config.audio_config)
    assert loaded.text_config.model_type == "qwen2"
    assert loaded.projection_dim == loaded.embedding_dim == 32
    assert loaded.text_instruction == "Find audio: " and loaded.pooling == "last"


def test_config_validation() -> None:
    audio, text = audio_encoder_config("tiny-qwen2_5_omni"), omni_preset_config("tiny-random").text_config
    ok = dict(audio_config=audio, text_config=text, audio_bos_token_id=256, audio_eos_token_id=257)
    assert OmniAudioEmbedderConfig(**ok).uses_audio_projection  # 48 -> 32
    assert OmniAudioEmbedderConfig(**ok).matryoshka_dims == [32]  # default: the hidden size only
    bad = [
        ({"pooling": "cls"}, "pooling"),
        ({"audio_projection": "none"}, "audio_projection='none'"),
        ({"matryoshka_dims": [16]}, "matryoshka_dims"),
        ({"audio_bos_token_id": 151647}, "audio_bos_token_id"),
        ({"long_audio_policy": "loop"}, "long_audio_policy"),
        ({"audio_encoder_type": "whisper"}, "audio_encoder_type"),
    ]
    for override, message in bad:
        with pytest.raises(ValueError, match=message):
            OmniAudioEmbedderConfig(**{**ok, **override})
    with pytest.raises(ValueError, match="Whisper encoder can position"):
        omni_preset_config("tiny-random-whisper", max_audio_seconds=31)
    with pytest.raises(ValueError, match="2502 LLM positions per window, more than the LLM's max_position_embeddings=2048"):
        omni_preset_config("tiny-random", max_audio_seconds=100)


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_config_window_token_count_matches_the_encoder(preset: str) -> None:
    """`max_sequence_tokens` (validated against the LLM's positions) is the real LLM length of a full window."""
    model, processor = tiny(preset, max_audio_seconds=2.5)
    with torch.no_grad():
        hidden = model.get_audio_features(**processor(audio=[make_clip(2.5)], return_tensors="pt")).last_hidden_state
    assert hidden.shape[1] == model.config.max_sequence_tokens
    assert model.config.audio_tokens_per_window == {"tiny-random": 62, "tiny-random-qwen3": 33,
                                                    "tiny-random-whisper": 62}[preset]


@pytest.mark.parametrize("preset", ["tiny-random-qwen3", "tiny-random-whisper"])
def test_save_load_reproduces_embeddings(preset: str, tmp_path: Path) -> None:
    """Non-persistent buffers (sinusoids, rotary frequencies) are rebuilt after the meta-device load."""
    model, processor = tiny(preset, seed=4)
    model.save_pretrained(tmp_path)
    loaded = OmniAudioEmbedder.from_pretrained(tmp_path).eval()
    clips = [make_clip(1.4, seed=3)]
    assert (audio_embeds(loaded, processor, clips) - audio_embeds(model, processor, clips)).abs().max() <= 1e-6
    assert (text_embeds(loaded, processor, TEXTS) - text_embeds(model, processor, TEXTS)).abs().max() <= 1e-6


def test_last_token_pooling_and_unnormalized() -> None:
    model, processor = tiny(pooling="last", normalize=False)
    inputs = processor(text=TEXTS, return_tensors="pt")
    with torch.no_grad():
        out = model.get_text_features(**inputs)
    last = inputs["attention_mask"].sum(-1) - 1
    assert torch.equal(out.pooler_output, out.last_hidden_state[torch.arange(3), last])
    assert not torch.allclose(out.pooler_output.norm(dim=-1), torch.ones(3))
    alone = text_embeds(model, processor, TEXTS[:1])
    assert (alone[0] - out.pooler_output[0]).abs().max() <= 1e-5


# ------------------------------------------------------------------------------------------------ invariance
@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_batch_invariance(preset: str) -> None:
    """A clip (or text) embeds the same alone as in a padded batch; clips span several encoder chunks.

    Random init leaves every bias at zero, and a zero bias hides padding leaks (a padded position then carries
    gelu(0) = 0 into the next convolution, as if it were the convolution's own zero padding); pretrained biases
    are not zero, so they are randomised here. The audio tokens are compared tightly (1e-6), so the upstream
    Qwen3-Omni encoder's batch-dependent chunk padding (about 2e-6 at this size) would fail."""
    model, processor = tiny(preset)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    clips = [make_clip(s, seed=i) for i, s in enumerate((0.3, 1.7, 3.2, 0.04))]
    batch = audio_embeds(model, processor, clips)
    diffs = [(audio_embeds(model, processor, [c])[0] - batch[i]).abs().max().item() for i, c in enumerate(clips)]
    inputs = processor(audio=clips, return_tensors="pt")
    with torch.no_grad():
        tokens = model._audio_tokens(inputs["input_features"], inputs["feature_attention_mask"].sum(-1))
        for i, clip in enumerate(clips):
            one = processor(audio=[clip], return_tensors="pt")
            alone = model._audio_tokens(one["input_features"], one["feature_attention_mask"].sum(-1))[0]
            assert alone.shape == tokens[i].shape and (alone - tokens[i]).abs().max().item() <= 1e-6, i
    texts = TEXTS + ["a much longer caption about distant thunder rolling over the hills"]
    tbatch = text_embeds(model, processor, texts)
    tdiffs = [(text_embeds(model, processor, [t])[0] - tbatch[i]).abs().max().item() for i, t in enumerate(texts)]
    print(f"{preset}: audio max diff {max(diffs):.2e}, text max diff {max(tdiffs):.2e}")
    assert max(diffs) <= 1e-4 and max(tdiffs) <= 1e-4, (diffs, tdiffs)
    assert torch.allclose(batch.norm(dim=-1), torch.ones(len(clips)), atol=1e-5)


def test_left_padded_text_matches_right_padded() -> None:
    """Positions come from the mask, so even a left-padding tokenizer cannot change an embedding."""
    model, processor = tiny()
    right = processor(text=TEXTS, return_tensors="pt")
    processor.tokenizer.padding_side = "left"
    left = processor.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        a = model.get_text_features(right["input_ids"], right["attention_mask"]).pooler_output
        b = model.get_text_features(left["input_ids"], left["attention_mask"]).pooler_output
    assert (a - b).abs().max().item() <= 1e-5


def test_qwen3_encoder_matches_upstream_forward() -> None:
    """Our chunk pre-padding reproduces the upstream encoder exactly whenever its batch holds a full chunk."""
    model, processor = tiny("tiny-random-qwen3")
    inputs = processor(audio=[make_clip(2.3, seed=1), make_clip(0.45, seed=2)], return_tensors="pt")
    feats, mask = inputs["input_features"], inputs["feature_attention_mask"]
    lengths = mask.sum(-1)
    with torch.no_grad():
        ours = torch.cat(model._encode_qwen3_omni(feats, lengths))
        flat = feats.permute(0, 2, 1)[mask.bool()].permute(1, 0)
        upstream = model.audio_encoder(flat, feature_lens=lengths).last_hidden_state
    assert ours.shape == upstream.shape
    assert (ours - upstream).abs().max().item() <= 1e-5


def test_whisper_variant_matches_qwen2_audio_encoder() -> None:
    """The Whisper variant pools token pairs and THEN applies the final LayerNorm, as transformers'
    Qwen2AudioEncoder (and Qwen2.5-Omni's encoder) do: same weights, same 30 s input, same tokens."""
    from transformers import Qwen2AudioEncoderConfig
    from transformers.models.qwen2_audio.modeling_qwen2_audio import Qwen2AudioEncoder

    model, _ = tiny("tiny-random-whisper", seed=3)
    wcfg = model.config.audio_config
    reference = Qwen2AudioEncoder(Qwen2AudioEncoderConfig(
        num_mel_bins=wcfg.num_mel_bins, encoder_layers=wcfg.encoder_layers,
        encoder_attention_heads=wcfg.encoder_attention_heads, encoder_ffn_dim=wcfg.encoder_ffn_dim,
        d_model=wcfg.d_model, max_source_positions=wcfg.max_source_positions)).eval()
    missing, unexpected = reference.load_state_dict(model.audio_encoder.state_dict(), strict=False)
    assert not missing and not unexpected
    frames = 2 * wcfg.max_source_positions
    with torch.no_grad():
        layer_norm = model.audio_encoder.layer_norm
        layer_norm.weight.normal_(1.0, 0.3), layer_norm.bias.normal_(0.0, 0.3)  # make the order matter
        reference.layer_norm.load_state_dict(layer_norm.state_dict())
        features = torch.randn(1, wcfg.num_mel_bins, frames, generator=torch.Generator().manual_seed(0))
        ours = model._encode_whisper(features, torch.tensor([frames]))[0]
        upstream = reference(features).last_hidden_state[0]
    assert ours.shape == upstream.shape
    assert (ours - upstream).abs().max().item() <= 1e-4


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_long_audio_policies(preset: str) -> None:
    """Chunking = duration-weighted mean of the separately embedded windows (WavLink's policy)."""
    model, processor = tiny(preset, max_audio_seconds=1.0)
    inputs = processor(audio=[make_clip(2.5, seed=5), make_clip(0.5, seed=6)], return_tensors="pt")
    feats = inputs["input_features"][:1]  # 250 frames = windows of 100, 100 and 50 frames
    with torch.no_grad():
        whole = model.get_audio_features(**inputs).pooler_output[0]
        windows = torch.cat([model.get_audio_features(feats[:, :, a:b]).pooler_output
                             for a, b in [(0, 100), (100, 200), (200, 250)]])
    expected = torch.nn.functional.normalize((windows * torch.tensor([[100.0], [100.0], [50.0]])).sum(0), dim=-1)
    assert (whole - expected).abs().max().item() <= 1e-5
    model.config.long_audio_policy = "truncate"
    with torch.no_grad():
        assert (model.get_audio_features(feats).pooler_output[0] - windows[0]).abs().max().item() <= 1e-5
    model.config.long_audio_policy = "error"
    with pytest.raises(ValueError, match="long_audio_policy='error'"):
        model.get_audio_features(feats)


@pytest.mark.parametrize("preset", TINY_PRESETS)
def test_audio_over_the_encoder_maximum_is_chunked(preset: str) -> None:
    """Default window (30 s, all Whisper can position): a 31 s clip becomes a 30 s and a 1 s window whose
    embeddings are averaged by duration; a short clip in the same batch is unaffected."""
    model, processor = tiny(preset)
    assert model.config.max_audio_frames == 3000
    clips = [make_clip(31.0, seed=8), make_clip(0.5, seed=9)]
    inputs = processor(audio=clips, return_tensors="pt")
    frames = int(inputs["feature_attention_mask"][0].sum())
    assert frames == 3100
    feats = inputs["input_features"][:1]
    with torch.no_grad():
        both = model.get_audio_features(**inputs).pooler_output
        first = model.get_audio_features(feats[:, :, :3000]).pooler_output[0]
        rest = model.get_audio_features(feats[:, :, 3000:frames]).pooler_output[0]
    expected = torch.nn.functional.normalize(first * 3000 + rest * (frames - 3000), dim=-1)
    assert (both[0] - expected).abs().max().item() <= 1e-5
    assert (both[1] - audio_embeds(model, processor, clips[1:])[0]).abs().max().item() <= 1e-4


# ------------------------------------------------------------------------------------------------ presets
# Parameter counts (billions) measured on the meta device; tolerance 5 % relative to the post's figure.
# The post adds nominal component sizes for M1-M3 ("0.6B"/"0.8B" encoder + "0.5B"/"3B" LLM): the measured
# Qwen3-Omni encoder is 0.65B and the Qwen2.5-Omni encoder 0.64B (the post's "0.8B" is not reproduced by the
# encoder alone), Qwen2.5-3B is 3.09B with its embeddings. Path 2's figures (5.8/3.5/2.3B) are real counts
# (encoder + embeddings + N layers of ~0.233B) and match closely.
@pytest.mark.parametrize("name", [n for n, p in OMNI_PRESETS.items() if not n.startswith("tiny")])
def test_preset_parameter_counts(name: str) -> None:
    config = omni_preset_config(name)
    with torch.device("meta"):
        model = OmniAudioEmbedder(config)
    total = sum(p.numel() for p in model.parameters()) / 1e9
    audio = sum(p.numel() for p in model.audio_encoder.parameters()) / 1e9
    llm = sum(p.numel() for p in model.language_model.parameters()) / 1e9
    preset = OMNI_PRESETS[name]
    print(f"{name}: {total:.3f}B (audio {audio:.3f}B + LLM {llm:.3f}B), post {preset.reported_params_m} M")
    assert model.language_model.config.num_hidden_layers == (preset.num_layers or LLM_LAYERS[preset.text])
    if preset.reported_params_m is None:
        assert 7.5 < total < 7.8  # Qwen2.5-Omni-7B thinker without vision tower and LM head
    else:
        post = preset.reported_params_m / 1000
        assert abs(total - post) / post <= 0.05, total


LLM_LAYERS = {"Qwen/Qwen2.5-0.5B": 24, "Qwen/Qwen2.5-3B": 36, "Qwen/Qwen2.5-Omni-3B": 36, "Qwen/Qwen2.5-Omni-7B": 28}


def test_preset_encoders_match_transformers_defaults() -> None:
    """The encoder shapes we record equal transformers' own defaults (which mirror the released checkpoints),
    apart from `output_dim`, which is the thinker width of the size used."""
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
        Qwen2_5OmniAudioEncoderConfig,
        Qwen2_5OmniTextConfig,
    )
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeAudioEncoderConfig

    keys = ["d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim", "num_mel_bins", "n_window",
            "max_source_positions"]
    for source, default in [("Qwen/Qwen2.5-Omni-3B", Qwen2_5OmniAudioEncoderConfig()),
                            ("Qwen/Qwen2.5-Omni-7B", Qwen2_5OmniAudioEncoderConfig()),
                            ("Qwen/Qwen3-Omni-30B-A3B-Instruct", Qwen3OmniMoeAudioEncoderConfig())]:
        ours = audio_encoder_config(source)
        extra = ["n_window_infer", "conv_chunksize", "downsample_hidden_size"] if "Qwen3" in source else []
        assert {k: getattr(ours, k) for k in keys + extra} == {k: getattr(default, k) for k in keys + extra}
    assert audio_encoder_config("Qwen/Qwen2.5-Omni-7B").output_dim == Qwen2_5OmniAudioEncoderConfig().output_dim
    text7 = omni_preset_config("omni-7b").text_config
    default7 = Qwen2_5OmniTextConfig()  # transformers' default thinker LLM is the 7B one
    for k in ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "rms_norm_eps"]:
        assert getattr(text7, k) == getattr(default7, k), k


def test_real_preset_needs_its_tokenizer_offline() -> None:
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("Qwen/Qwen2.5-0.5B", "tokenizer_config.json"), str):
        pytest.skip("the Qwen tokenizer is cached here")
    with pytest.raises(ValueError, match="Qwen/Qwen2.5-0.5B.*Offline"):
        create_omni("m1")
    with pytest.raises(ValueError, match="unknown Omni preset"):
        create_omni("m9")
    with pytest.raises(ValueError, match="Qwen/Qwen3-Omni-30B-A3B-Instruct.*Offline"):
        build_omni(preset="m1")
    with pytest.raises(ValueError, match="has no pretrained sources"):
        build_omni(preset="tiny-random")


# ------------------------------------------------------------------------------------------------ builder
TINY_TEXT = dict(hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, vocab_size=300,
                 rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 2, 2]})
TINY_QWEN_AUDIO = dict(d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32, num_mel_bins=128)
TOKEN_IDS = dict(audio_token_index=290, image_token_index=291, video_token_index=292, audio_start_token_id=293,
                 audio_end_token_id=294, vision_start_token_id=295, vision_end_token_id=296, vision_token_id=297)


def _tiny_qwen2_5_omni_full():
    """A tiny `Qwen2_5OmniForConditionalGeneration` with thinker, talker and token2wav (the Hub layout)."""
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    thinker = dict(audio_config=dict(TINY_QWEN_AUDIO, output_dim=24, n_window=100),
                   vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=24,
                                      fullatt_block_indexes=[0]),
                   text_config=TINY_TEXT, **TOKEN_IDS)
    talker = dict(vocab_size=64, tts_text_start_token_id=280, tts_text_end_token_id=281, tts_text_pad_token_id=282,
                  tts_codec_start_token_id=60, tts_codec_end_token_id=61, tts_codec_pad_token_id=62,
                  tts_codec_mask_token_id=63, embedding_size=24, hidden_size=24, intermediate_size=48,
                  num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=12,
                  rope_parameters=TINY_TEXT["rope_parameters"],
                  **{k: v for k, v in TOKEN_IDS.items() if k != "vision_token_id"})
    dit = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, head_dim=16, emb_dim=16, num_embeds=64,
               mel_dim=8, enc_emb_dim=8, enc_dim=8, enc_channels=[8, 8, 8, 8, 24], enc_attention_channels=8,
               enc_se_channels=8, look_ahead_layers=[1], look_backward_layers=[0])
    bigvgan = dict(mel_dim=8, upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3, 5]],
                   upsample_rates=[2, 2], upsample_kernel_sizes=[4, 4])
    config = Qwen2_5OmniConfig(thinker_config=thinker, talker_config=talker, enable_audio_output=True,
                               token2wav_config=dict(dit_config=dit, bigvgan_config=bigvgan))
    return Qwen2_5OmniForConditionalGeneration(config).eval()


def _tiny_qwen3_thinker_kwargs() -> dict[str, Any]:
    text = dict(TINY_TEXT, moe_intermediate_size=16, num_experts=2, num_experts_per_tok=1,
                rope_parameters=dict(TINY_TEXT["rope_parameters"], mrope_interleaved=True))
    return dict(
        audio_config=dict(TINY_QWEN_AUDIO, output_dim=24, n_window=50, n_window_infer=200, downsample_hidden_size=8),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=24,
                           deepstack_visual_indexes=[0], num_position_embeddings=16, patch_size=4),
        text_config=text, audio_token_id=290, image_token_id=291, video_token_id=292, audio_start_token_id=293)


def _tiny_qwen3_omni_thinker():
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeThinkerConfig
    from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import (
        Qwen3OmniMoeThinkerForConditionalGeneration,
    )

    return Qwen3OmniMoeThinkerForConditionalGeneration(Qwen3OmniMoeThinkerConfig(**_tiny_qwen3_thinker_kwargs())).eval()


def _tiny_qwen3_omni_full():
    """A tiny `Qwen3OmniMoeForConditionalGeneration` with thinker, talker and code2wav (the layout of the Hub's
    Qwen/Qwen3-Omni-30B-A3B-Instruct, the M1/M2 audio encoder source)."""
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeConfig
    from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import (
        Qwen3OmniMoeForConditionalGeneration,
    )

    rope = dict(TINY_TEXT["rope_parameters"], mrope_interleaved=True)
    # `shared_expert_intermediate_size` and `spatial_merge_size` are read by the talker modules but are not
    # fields of their config classes (transformers 5.24); the Hub config.json carries them.
    talker = dict(
        text_config=dict(vocab_size=64, hidden_size=24, intermediate_size=48, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, moe_intermediate_size=16, num_experts=2,
                         num_experts_per_tok=1, shared_expert_intermediate_size=16, rope_parameters=rope),
        code_predictor_config=dict(vocab_size=64, hidden_size=24, intermediate_size=48, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, head_dim=12, num_code_groups=2),
        num_code_groups=2, thinker_hidden_size=24, spatial_merge_size=2, codec_eos_token_id=60, codec_nothink_id=61,
        codec_think_bos_id=62, codec_think_eos_id=63, codec_pad_id=58, codec_bos_id=59, accept_hidden_layer=1,
        audio_token_id=290, image_token_id=291, video_token_id=292, vision_start_token_id=295,
        audio_start_token_id=293)
    code2wav = dict(codebook_size=64, hidden_size=16, num_attention_heads=2, num_key_value_heads=2, sliding_window=8,
                    intermediate_size=32, num_hidden_layers=1, num_quantizers=2, upsample_rates=[2, 2],
                    upsampling_ratios=[2], decoder_dim=16)
    config = Qwen3OmniMoeConfig(thinker_config=_tiny_qwen3_thinker_kwargs(), talker_config=talker, code2wav_config=code2wav,
                                enable_audio_output=True)
    return Qwen3OmniMoeForConditionalGeneration(config).eval()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny upstream checkpoints in their real save_pretrained formats (the LLM sharded, with an index)."""
    from transformers import (
        Qwen2Config,
        Qwen2ForCausalLM,
        Qwen3Config,
        Qwen3ForCausalLM,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    root = tmp_path_factory.mktemp("upstream")
    torch.manual_seed(0)
    omni = _tiny_qwen2_5_omni_full()
    omni.save_pretrained(root / "qwen2_5_omni")
    omni.thinker.save_pretrained(root / "qwen2_5_omni_thinker")
    q3 = _tiny_qwen3_omni_thinker()
    q3.save_pretrained(root / "qwen3_omni_thinker")
    llm = Qwen2ForCausalLM(Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                       num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                                       tie_word_embeddings=False)).eval()
    llm.save_pretrained(root / "qwen2_llm", max_shard_size="40KB")
    byte_level_tokenizer().save_pretrained(root / "qwen2_llm")
    byte_level_tokenizer().save_pretrained(root / "qwen2_5_omni")
    whisper = WhisperForConditionalGeneration(WhisperConfig(
        d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64, decoder_layers=1,
        decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80)).eval()
    whisper.save_pretrained(root / "whisper")
    q3_full = _tiny_qwen3_omni_full()
    q3_full.save_pretrained(root / "qwen3_omni")
    qwen3 = Qwen3ForCausalLM(Qwen3Config(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                         num_attention_heads=4, num_key_value_heads=2, head_dim=8, vocab_size=300,
                                         tie_word_embeddings=True)).eval()
    qwen3.save_pretrained(root / "qwen3_llm")
    byte_level_tokenizer().save_pretrained(root / "qwen3_llm")
    return {"root": root, "omni": omni, "q3": q3, "llm": llm, "whisper": whisper, "q3_full": q3_full,
            "qwen3": qwen3}


def _assert_same_tensors(got: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    state = got.state_dict()
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def _keys(path: Path) -> set[str]:
    index = path / "model.safetensors.index.json"
    if index.exists():
        return set(json.loads(index.read_text())["weight_map"])
    return set(load_file(path / "model.safetensors"))


def test_upstream_key_layouts(checkpoints: dict[str, Any]) -> None:
    """The layouts the builder relies on, as transformers 5 writes them (legacy Hub format)."""
    root = checkpoints["root"]
    prefixes = lambda p: {".".join(k.split(".")[:2]) for k in _keys(root / p)}  # noqa: E731
    assert {"thinker.audio_tower", "thinker.model", "thinker.visual", "talker.model",
            "token2wav.code2wav_dit_model"} <= prefixes("qwen2_5_omni")
    assert {"audio_tower.conv1", "model.layers", "visual.blocks"} <= prefixes("qwen2_5_omni_thinker")
    assert {"audio_tower.conv2d1", "model.layers"} <= prefixes("qwen3_omni_thinker")
    assert {"model.layers", "lm_head.weight"} <= prefixes("qwen2_llm")
    assert (root / "qwen2_llm" / "model.safetensors.index.json").exists()
    assert {"model.encoder", "model.decoder"} <= prefixes("whisper")


def test_build_from_qwen2_5_omni_and_causal_lm(checkpoints: dict[str, Any]) -> None:
    root, omni, llm = checkpoints["root"], checkpoints["omni"], checkpoints["llm"]
    for source in ("qwen2_5_omni", "qwen2_5_omni_thinker"):
        model, processor = build_omni(root / source, root / "qwen2_llm")
        _assert_same_tensors(model.audio_encoder, omni.thinker.model.audio_tower.state_dict())
        _assert_same_tensors(model.language_model, llm.model.state_dict())
        assert isinstance(model.audio_projection, torch.nn.Linear)  # 24 -> 32: new, random
        assert model.config.audio_special_tokens is False  # a 300-token vocabulary has no Qwen audio ids
        assert model.config.source_checkpoints["llm"] == str(root / "qwen2_llm")
    # The audio tokens are exactly what the upstream thinker's get_audio_features computes.
    inputs = processor(audio=[make_clip(2.7, seed=1), make_clip(0.6, seed=2)], return_tensors="pt")
    with torch.no_grad():
        upstream = omni.thinker.get_audio_features(
            inputs["input_features"], feature_attention_mask=inputs["feature_attention_mask"]).last_hidden_state
        ours = torch.cat(model._audio_tokens(inputs["input_features"], inputs["feature_attention_mask"].sum(-1)))
    assert (ours - upstream).abs().max().item() <= 1e-6
    # Layer pruning keeps layers 0..N-1.
    pruned = build_embedder(root / "qwen2_5_omni", root / "qwen2_llm", num_layers=2)
    assert pruned.config.text_config.num_hidden_layers == 2 and len(pruned.language_model.layers) == 2
    expected = {k: v for k, v in llm.model.state_dict().items() if not k.startswith("layers.2.")}
    _assert_same_tensors(pruned.language_model, expected)
    with pytest.raises(ValueError, match="num_layers=4"):
        build_omni(root / "qwen2_5_omni", root / "qwen2_llm", num_layers=4)


def test_build_m4_style_complete_thinker(checkpoints: dict[str, Any]) -> None:
    """LLM taken from the Omni checkpoint itself (M4): equal widths -> no projection; the thinker's audio ids;
    its M-RoPE LLM equals our 1-D RoPE Qwen2 on text (equal position rows)."""
    root, omni = checkpoints["root"], checkpoints["omni"]
    model, processor = build_omni(root / "qwen2_5_omni", root / "qwen2_5_omni")
    thinker_llm = omni.thinker.model.language_model
    _assert_same_tensors(model.language_model, thinker_llm.state_dict())
    assert isinstance(model.audio_projection, torch.nn.Identity)
    assert (model.config.audio_bos_token_id, model.config.audio_eos_token_id) == (293, 294)
    ids = processor(text=["a dog barks"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = thinker_llm(input_ids=ids).last_hidden_state
        got = model.language_model(input_ids=ids).last_hidden_state
    assert (got - expected).abs().max().item() <= 1e-5


def test_build_from_qwen3_omni_thinker_and_whisper(checkpoints: dict[str, Any]) -> None:
    root = checkpoints["root"]
    model, processor = build_omni(root / "qwen3_omni_thinker", root / "qwen2_llm", num_layers=1)
    assert model.config.audio_encoder_type == "qwen3_omni"
    _assert_same_tensors(model.audio_encoder, checkpoints["q3"].model.audio_tower.state_dict())
    assert len(model.language_model.layers) == 1
    assert audio_embeds(model.eval(), processor, [make_clip(1.3)]).shape == (1, 32)
    with pytest.raises(ValueError, match="mixture of experts"):
        build_omni(root / "qwen3_omni_thinker", root / "qwen3_omni_thinker")
    model, processor = build_omni(root / "whisper", root / "qwen2_llm")
    assert model.config.audio_encoder_type == "whisper"
    _assert_same_tensors(model.audio_encoder, checkpoints["whisper"].model.encoder.state_dict())
    assert processor.feature_extractor.feature_size == 80


def test_build_from_full_qwen3_omni_and_qwen3_llm(checkpoints: dict[str, Any]) -> None:
    """M1/M2 layout: the audio tower of a complete `Qwen3OmniMoeForConditionalGeneration` (thinker + talker +
    code2wav) and a standalone `Qwen3ForCausalLM` (tied embeddings, so no `lm_head` tensor) pruned to 2 layers."""
    root, q3_full, qwen3 = checkpoints["root"], checkpoints["q3_full"], checkpoints["qwen3"]
    prefixes = {".".join(k.split(".")[:2]) for k in _keys(root / "qwen3_omni")}
    assert {"thinker.audio_tower", "thinker.model", "thinker.visual", "talker.model", "code2wav.decoder"} <= prefixes
    assert {".".join(k.split(".")[:2]) for k in _keys(root / "qwen3_llm")} == {
        "model.embed_tokens", "model.layers", "model.norm"}
    model, processor = build_omni(root / "qwen3_omni", root / "qwen3_llm", num_layers=2)
    model.eval()
    assert model.config.audio_encoder_type == "qwen3_omni"
    assert model.config.text_config.model_type == "qwen3" and type(model.language_model).__name__ == "Qwen3Model"
    assert model.config.text_config.layer_types == ["full_attention"] * 2
    _assert_same_tensors(model.audio_encoder, q3_full.thinker.model.audio_tower.state_dict())
    expected = {k: v for k, v in qwen3.model.state_dict().items() if not k.startswith("layers.2.")}
    _assert_same_tensors(model.language_model, expected)
    # Audio tokens = the upstream thinker's get_audio_features (clips over one 2 s attention window).
    inputs = processor(audio=[make_clip(2.7, seed=1), make_clip(0.6, seed=2)], return_tensors="pt")
    ids = processor(text=["a dog barks"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        upstream = q3_full.thinker.get_audio_features(
            inputs["input_features"], feature_attention_mask=inputs["feature_attention_mask"]).last_hidden_state
        ours = torch.cat(model._audio_tokens(inputs["input_features"], inputs["feature_attention_mask"].sum(-1)))
        # The pruned decoder = the upstream one stopped after layer 2, then its final norm.
        hidden = qwen3.model(input_ids=ids, output_hidden_states=True).hidden_states[2]
        got = model.language_model(input_ids=ids).last_hidden_state
    assert ours.shape == upstream.shape and (ours - upstream).abs().max().item() <= 1e-6
    assert (got - qwen3.model.norm(hidden)).abs().max().item() <= 1e-5
    # Batch invariance of the built model (Qwen3 chunked block attention + Qwen3 decoder).
    clips = [make_clip(s, seed=i) for i, s in enumerate((0.2, 2.6, 1.1))]
    batch = audio_embeds(model, processor, clips)
    diff = max((audio_embeds(model, processor, [c])[0] - batch[i]).abs().max().item() for i, c in enumerate(clips))
    tbatch = text_embeds(model, processor, TEXTS)
    tdiff = max((text_embeds(model, processor, [t])[0] - tbatch[i]).abs().max().item() for i, t in enumerate(TEXTS))
    assert diff <= 1e-4 and tdiff <= 1e-4, (diff, tdiff)
    with pytest.raises(ValueError, match="mixture of experts"):
        build_omni(root / "qwen3_omni", root / "qwen3_omni")


def test_cli_create_and_build_omni(checkpoints: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`wavlink create --family omni --preset NAME --out DIR` and `wavlink build --family omni ...` write loadable
    folders; the built one holds the upstream tensors."""
    from wavlink.cli import main

    root = checkpoints["root"]
    assert main(["create", "--family", "omni", "--preset", "tiny-random-qwen3", "--out", str(tmp_path / "c")]) == 0
    created = OmniAudioEmbedder.from_pretrained(tmp_path / "c").eval()
    reference, processor = tiny("tiny-random-qwen3")
    clip = [make_clip(1.3, seed=7)]
    assert (audio_embeds(created, processor, clip) - audio_embeds(reference, processor, clip)).abs().max() <= 1e-6
    assert OmniAudioProcessor.from_pretrained(tmp_path / "c").feature_extractor.feature_size == 128
    assert main(["build", "--family", "omni", "--audio-encoder", str(root / "qwen3_omni"), "--llm",
                 str(root / "qwen3_llm"), "--num-layers", "1", "--out", str(tmp_path / "b")]) == 0
    assert "built omni model" in capsys.readouterr().out
    built = OmniAudioEmbedder.from_pretrained(tmp_path / "b")
    assert len(built.language_model.layers) == 1
    _assert_same_tensors(built.audio_encoder, checkpoints["q3_full"].thinker.model.audio_tower.state_dict())
    assert torch.equal(built.language_model.layers[0].self_attn.q_proj.weight,
                       checkpoints["qwen3"].model.layers[0].self_attn.q_proj.weight)
    assert OmniAudioProcessor.from_pretrained(tmp_path / "b").tokenizer.padding_side == "right"
    assert main(["build", "--family", "omni", "--llm", str(root / "qwen3_llm"), "--out", str(tmp_path / "x")]) == 2
    assert "--audio-encoder" in capsys.readouterr().err
    assert main(["build", "--family", "omni", "--preset", "tiny-random", "--out", str(tmp_path / "z")]) == 2
    assert "has no pretrained sources" in capsys.readouterr().err
    assert main(["create", "--family", "omni", "--preset", "m9", "--out", str(tmp_path / "y")]) == 2
    assert "unknown Omni preset" in capsys.readouterr().err


def test_build_rejects_incomplete_or_foreign_checkpoints(checkpoints: dict[str, Any], tmp_path: Path) -> None:
    root = checkpoints["root"]
    state = load_file(root / "qwen2_5_omni_thinker" / "model.safetensors")
    for name, edit, message in [
        ("missing", lambda s: s.pop("audio_tower.layers.1.fc2.weight"), r"missing=\['layers.1.fc2.weight'\]"),
        ("extra", lambda s: s.__setitem__("audio_tower.extra.weight", torch.zeros(2)), "unexpected=.*extra.weight"),
        ("shape", lambda s: s.__setitem__("audio_tower.proj.bias", torch.zeros(5)), "mis-shaped=.*proj.bias"),
    ]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text((root / "qwen2_5_omni_thinker" / "config.json").read_text())
        edited = dict(state)
        edit(edited)
        save_file(edited, folder / "model.safetensors", metadata={"format": "pt"})
        with pytest.raises(ValueError, match=message):
            build_omni(folder, root / "qwen2_llm")
    with pytest.raises(ValueError, match="not a decoder LLM"):
        build_omni(root / "qwen2_5_omni", root / "whisper")
    with pytest.raises(ValueError, match="holds no supported audio encoder"):
        build_omni(root / "qwen2_llm", root / "qwen2_llm")


# ------------------------------------------------------------------------------------------------ Hub
CHILD = """
import json, sys
import numpy as np
import torch
from transformers import AutoModel, AutoProcessor, pipeline
from sentence_transformers import SentenceTransformer

spec = json.load(open("spec.json"))
d = spec["model_dir"]
clips = [np.load(p) for p in spec["clips"]]
out = {}
model = AutoModel.from_pretrained(d, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained(d, trust_remote_code=True)
out["classes"] = [type(model).__module__, type(processor).__name__, processor.tokenizer.padding_side]
with torch.no_grad():
    out["auto_text"] = model.get_text_features(**processor(text=spec["texts"], return_tensors="pt")).pooler_output.tolist()
    out["auto_audio"] = model.get_audio_features(**processor(audio=clips, return_tensors="pt")).pooler_output.tolist()
st = SentenceTransformer(d, trust_remote_code=True)
out["st_dim"] = st.get_embedding_dimension()
out["st_text"] = st.encode(spec["texts"]).tolist()
out["st_audio"] = st.encode(clips).tolist()
clf = pipeline("zero-shot-audio-classification", model=d, trust_remote_code=True)
out["pipeline"] = clf(clips[0], candidate_labels=["dog", "rain"])
out["wavlink_loaded"] = any(m == "wavlink" or m.startswith("wavlink.") for m in sys.modules)
print(json.dumps(out))
"""


def _check_in_fresh_process(model: OmniAudioEmbedder, processor: OmniAudioProcessor, model_dir: Path,
                            tmp_path: Path) -> None:
    """transformers, sentence-transformers and the pipeline reproduce the embeddings without the package."""
    clips = [make_clip(2.2, seed=1), make_clip(0.7, seed=2)]
    paths = []
    for i, clip in enumerate(clips):
        np.save(tmp_path / f"clip{i}.npy", clip)
        paths.append(str(tmp_path / f"clip{i}.npy"))
    (tmp_path / "spec.json").write_text(json.dumps({"model_dir": str(model_dir), "clips": paths, "texts": TEXTS}))
    child = run_child(CHILD, cwd=tmp_path)
    assert child["wavlink_loaded"] is False
    assert child["classes"][0].startswith("transformers_modules.")
    assert child["classes"][1:] == ["OmniAudioProcessor", "right"]
    model.eval()
    expected_text, expected_audio = text_embeds(model, processor, TEXTS), audio_embeds(model, processor, clips)
    for key, expected in [("auto_text", expected_text), ("st_text", expected_text),
                          ("auto_audio", expected_audio), ("st_audio", expected_audio)]:
        diff = (torch.tensor(child[key]) - expected).abs().max().item()
        assert diff <= 1e-5, (key, diff)
    assert child["st_dim"] == model.config.embedding_dim
    assert sorted(r["label"] for r in child["pipeline"]) == ["dog", "rain"]


def test_hub_folder_loads_without_the_package(tmp_path: Path) -> None:
    model, processor = tiny(seed=3, text_instruction="Sound: ")
    model_dir = save_omni_folder(model, processor, tmp_path / "omni-tiny")
    names = {p.name for p in model_dir.iterdir()}
    assert {"configuration_omni.py", "modeling_omni.py", "processing_omni.py", "processing_wavlink.py",
            "audio_utils.py", "losses.py", "tokenizer.json", "modules.json", "model.safetensors"} <= names
    own = {"configuration_omni.py", "modeling_omni.py", "processing_omni.py", *{"audio_utils.py", "input_checks.py", "losses.py", "modeling_common.py", "pipeline_wavlink.py", "processing_wavlink.py"}}
    assert {n for n in names if n.endswith(".py")} == own  # no other family's code, no build code
    assert own <= {p.name for p in remote_code_files()}
    for path in model_dir.glob("*.py"):  # Hub remote code follows only same-folder `from .module import name`
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and node.module, f"{path.name}:{node.lineno}"
                assert (model_dir / f"{node.module}.py").exists(), f"{path.name} imports missing .{node.module}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(m.split(".")[0] == "wavlink" for m in modules), f"{path.name}:{node.lineno}"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_omni.OmniAudioEmbedderConfig",
                                  "AutoModel": "modeling_omni.OmniAudioEmbedder"}
    _check_in_fresh_process(model, processor, model_dir, tmp_path)


def test_built_qwen3_folder_loads_without_the_package(checkpoints: dict[str, Any], tmp_path: Path) -> None:
    """A module combination of the Qwen3-Omni audio tower and a Qwen3 LLM, saved and used without the package."""
    root = checkpoints["root"]
    model, processor = build_omni(root / "qwen3_omni", root / "qwen3_llm", num_layers=2)
    model_dir = save_omni_folder(model, processor, tmp_path / "omni-built")
    config = json.loads((model_dir / "config.json").read_text())
    assert (config["audio_config"]["model_type"], config["text_config"]["model_type"]) == (
        "qwen3_omni_moe_audio_encoder", "qwen3")
    _check_in_fresh_process(model, processor, model_dir, tmp_path)


def test_text_instruction_is_prefixed(tmp_path: Path) -> None:
    model, processor = tiny(text_instruction="Find the sound: ")
    assert processor.text_instruction == "Find the sound: "
    plain = byte_level_tokenizer()(["Find the sound: rain"], return_tensors="pt")["input_ids"]
    assert torch.equal(processor(text=["rain"], return_tensors="pt")["input_ids"], plain)
    processor.save_pretrained(tmp_path)
    assert OmniAudioProcessor.from_pretrained(tmp_path).text_instruction == "Find the sound: "
    with pytest.raises(ValueError, match=r"text\[0\] is empty"):
        processor(text=["  "])


# ------------------------------------------------------------------------------------------------ bad input
def test_bad_input_errors() -> None:
    model, processor = tiny()
    feats = processor(audio=[make_clip(1.0)], return_tensors="pt")
    with pytest.raises(ValueError, match=r"text\[1\] is empty"):
        processor(text=["rain", ""])
    with pytest.raises(ValueError, match="NaN"):
        processor(audio=[np.full(1600, np.nan, dtype=np.float32)])
    with pytest.raises(ValueError, match="NaN or inf"):
        model.get_audio_features(feats["input_features"] * float("nan"), feats["feature_attention_mask"])
    with pytest.raises(ValueError, match=r"\(batch, 128, frames\)"):
        model.get_audio_features(torch.zeros(1, 80, 100))
    with pytest.raises(ValueError, match="truncate_dim=8 was not trained"):
        model.get_audio_features(**feats, truncate_dim=8)
    with pytest.raises(ValueError, match="truncate_dim=24"):
        model.get_text_features(**processor(text=["rain"], return_tensors="pt"), truncate_dim=24)
    with pytest.raises(ValueError, match="no valid frames"):
        model.get_audio_features(feats["input_features"], torch.zeros_like(feats["feature_attention_mask"]))
    holed = feats["feature_attention_mask"].clone()
    holed[0, 0] = 0
    with pytest.raises(ValueError, match="prefix of valid frames"):
        model.get_audio_features(feats["input_features"], holed)
    with pytest.raises(ValueError, match="too short"):
        model.get_audio_features(torch.zeros(1, 128, 2))
    with pytest.raises(ValueError, match="outside the LLM vocabulary"):
        model.get_text_features(torch.tensor([[5, 400]]))
    with pytest.raises(ValueError, match="empty text"):
        model.get_text_features(torch.tensor([[5, 6]]), torch.zeros(1, 2, dtype=torch.long))
    # A 10 ms clip is padded to 40 ms by the feature extractor and embeds.
    assert audio_embeds(model, processor, [make_clip(0.01)]).shape == (1, 32)
    assert audio_embeds(model, processor, [make_clip(1.0)], truncate_dim=16).shape == (1, 16)


@pytest.mark.parametrize(("make_audio", "kwargs", "match"), [
    (lambda tmp: str((tmp / "noise.wav").write_bytes(bytes(range(256)) * 16) and tmp / "noise.wav"), {},
     "cannot decode"),
    (lambda tmp: str((tmp / "empty.wav").touch() or tmp / "empty.wav"), {}, "empty"),
    (lambda tmp: str(tmp / "missing.wav"), {}, "not found"),
    (lambda tmp: np.zeros(0, dtype=np.float32), {}, "zero-length"),
    (lambda tmp: np.array([0.1, np.inf] * 400, dtype=np.float32), {}, "NaN or inf"),
    (lambda tmp: make_clip(1.0), {"sampling_rate": 22050, "resample": False}, "differs from the model's 16000 Hz"),
    (lambda tmp: make_clip(1.0), {"sampling_rate": 0}, "invalid sampling rate"),
])
def test_bad_audio_is_rejected_by_the_processor(make_audio: Any, kwargs: dict, match: str, tmp_path: Path) -> None:
    """The WavLink contract holds for the Omni processor: each bad clip raises a ValueError naming the problem."""
    _, processor = tiny("tiny-random-qwen3")
    with pytest.raises(ValueError, match=match):
        processor(audio=[make_clip(0.5), make_audio(tmp_path)], **kwargs)


def test_processor_resamples_and_follows_the_long_audio_policy() -> None:
    model, processor = tiny("tiny-random-qwen3", max_audio_seconds=1.0, long_audio_policy="error")
    assert processor.feature_extractor.long_audio_policy == "error"
    with pytest.raises(ValueError, match=r"audio\[0\]: 1.5 s is longer than max_audio_seconds=1"):
        processor(audio=[make_clip(1.5)])
    resampled = processor(audio=[make_clip(0.5, sr=48000)], sampling_rate=48000, return_tensors="pt")
    assert resampled["feature_attention_mask"].sum().item() == 50  # 0.5 s at 16 kHz, hop 160


# ------------------------------------------------------------------------------------------------ training
def test_loss_gradients_and_lora() -> None:
    from peft import LoraConfig, get_peft_model

    model, processor = tiny(seed=1)
    model.train()
    inputs = {**processor(text=TEXTS[:2], return_tensors="pt"),
              **processor(audio=[make_clip(1.2, seed=1), make_clip(0.8, seed=2)], return_tensors="pt")}
    out = model(**inputs, return_loss=True)
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    for name in ["audio_projection.weight", "language_model.layers.0.self_attn.q_proj.weight",
                 "language_model.embed_tokens.weight", "audio_encoder.layers.0.fc1.weight", "logit_scale"]:
        assert grads[name] is not None and grads[name].abs().sum() > 0, name
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    assert any("lora_A" in n for n, _ in peft_model.named_parameters())
    text = processor(text=TEXTS, return_tensors="pt")
    emb = peft_model.get_text_features(**text).pooler_output
    assert emb.shape == (3, 32)
    loss = peft_model(**inputs, return_loss=True).loss
    loss.backward()
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_trainer_on_a_built_qwen3_combination(checkpoints: dict[str, Any], tmp_path: Path) -> None:
    """The package trainer (InfoNCE, LoRA on the audio encoder and the LLM) runs on a module combination built
    from the upstream checkpoints, configured only through TrainingConfig (init_audio / init_text)."""
    from wavlink.training import TrainingConfig, train
    from wavlink.training.synthetic import make_toy_dataset

    root = checkpoints["root"]
    toy = make_toy_dataset(tmp_path / "toy", per_kind=2, val_per_kind=1, seed=0)
    result = train(TrainingConfig(family="omni", init_audio=str(root / "qwen3_omni"), init_text=str(root / "qwen3_llm"),
                                  config_overrides={"num_layers": 2}, train_data=[str(toy)], mode="lora",
                                  max_steps=2, batch_size=4, num_workers=0, progress=False,
                                  output_dir=str(tmp_path / "run")))
    assert result.final_metrics is not None and result.adapter_dir is not None
    targets = json.loads((result.adapter_dir / "adapter_config.json").read_text())["target_modules"]
    assert "audio_encoder" in targets and "language_model" in targets
    base = result.model.get_base_model() if hasattr(result.model, "get_base_model") else result.model
    assert len(base.language_model.layers) == 2 and base.config.audio_encoder_type == "qwen3_omni"
    lora = [n for n, _ in result.model.named_parameters() if "lora_A" in n]
    assert any(".audio_encoder." in n for n in lora) and any(".language_model." in n for n in lora)


def test_gradient_checkpointing_runs() -> None:
    model, processor = tiny(seed=2)
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()
    model.train()
    inputs = {**processor(text=TEXTS[:2], return_tensors="pt"),
              **processor(audio=[make_clip(0.9), make_clip(2.1)], return_tensors="pt")}
    model(**inputs, return_loss=True).loss.backward()
    assert model.audio_projection.weight.grad is not None


def test_env_offline() -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
