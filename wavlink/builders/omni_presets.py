"""OmniAudioEmbedder sizes: the Jina post's module combinations M1-M4, its 7B full/layer-pruned path, tiny tests.

Each preset names the Hub checkpoints its parts come from (for `build_omni`, which copies the real weights) and
the architecture of those parts (for `create_omni`, random weights), so both paths give the same shapes.

Architecture numbers are the public checkpoints' config values: Qwen2.5-0.5B / 3B / 7B (hidden 896 / 2048 /
3584, 24 / 36 / 28 layers, 14 / 16 / 28 heads, 2 / 2 / 4 KV heads, FFN 4864 / 11008 / 18944); the Qwen2.5-Omni
audio encoder (Whisper-large-v3 shape: d_model 1280, 32 layers, 20 heads, FFN 5120, 2 s chunks) with
`output_dim` = its thinker's width (3B: 2048, 7B: 3584); the Qwen3-Omni "AuT" encoder (same widths, 1 s chunks,
Conv2d stem of width 480, output 2048). `tests/remote_code/test_omni.py` checks the encoder values against transformers'
config-class defaults.

`reported_params_m` is the size the post quotes (in billions there). For M1-M3 the post adds nominal component sizes (encoder "0.6B" or
"0.8B" + LLM "0.5B" / "3B"); the real sums differ by a few percent (measured: see the test and the README).
"""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig, Qwen2Config, WhisperConfig
from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniAudioEncoderConfig
from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeAudioEncoderConfig

from ..families import Preset
from ..remote_code.configuration_omni import OmniAudioEmbedderConfig
from .tokenization import BYTE_LEVEL, BYTE_LEVEL_IDS

QWEN2_5_OMNI_3B = "Qwen/Qwen2.5-Omni-3B"
QWEN2_5_OMNI_7B = "Qwen/Qwen2.5-Omni-7B"
# The post's M1/M2 encoder is Qwen3-Omni's *before stage-1* (not released as far as we know); the public
# Instruct checkpoint holds the same architecture, trained further.
QWEN3_OMNI = "Qwen/Qwen3-Omni-30B-A3B-Instruct"
QWEN2_5_0_5B = "Qwen/Qwen2.5-0.5B"
QWEN2_5_3B = "Qwen/Qwen2.5-3B"

_OMNI_AUDIO_COMMON = dict(
    d_model=1280, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120, num_mel_bins=128,
    max_source_positions=1500,
)
# Hub id -> (audio_encoder_type, audio config kwargs)
AUDIO_ENCODERS: dict[str, tuple[str, dict[str, Any]]] = {
    QWEN2_5_OMNI_3B: ("qwen2_5_omni", {**_OMNI_AUDIO_COMMON, "n_window": 100, "output_dim": 2048}),
    QWEN2_5_OMNI_7B: ("qwen2_5_omni", {**_OMNI_AUDIO_COMMON, "n_window": 100, "output_dim": 3584}),
    QWEN3_OMNI: ("qwen3_omni", {**_OMNI_AUDIO_COMMON, "n_window": 50, "n_window_infer": 800, "conv_chunksize": 500,
                                "downsample_hidden_size": 480, "output_dim": 2048}),
}
_QWEN2_5_COMMON = dict(hidden_act="silu", rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1e6},
                       max_position_embeddings=32768, bos_token_id=151643, eos_token_id=151643)
# Hub id -> Qwen2 (decoder) config kwargs; the Omni ids mean "the thinker's own LLM" (M4 / path 1-2)
LLMS: dict[str, dict[str, Any]] = {
    QWEN2_5_0_5B: dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                       intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True, **_QWEN2_5_COMMON),
    QWEN2_5_3B: dict(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
                     intermediate_size=11008, vocab_size=151936, tie_word_embeddings=True, **_QWEN2_5_COMMON),
    QWEN2_5_OMNI_3B: dict(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
                          intermediate_size=11008, vocab_size=151936, tie_word_embeddings=True, **_QWEN2_5_COMMON),
    QWEN2_5_OMNI_7B: dict(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                          intermediate_size=18944, vocab_size=152064, tie_word_embeddings=False, **_QWEN2_5_COMMON),
}
TINY = "tiny-random"


# audio: the Hub id holding the audio tower (a Qwen-Omni thinker's `audio_tower`) or a tiny kind; text: the
# decoder LLM (a causal LM, or an Omni checkpoint = its thinker's LLM); reported_params_m: the Jina post's figure
OMNI_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(name="m1", audio=QWEN3_OMNI, text=QWEN2_5_0_5B, tokenizer=QWEN2_5_0_5B, reported_params_m=1100,
                   description="M1: Qwen3-Omni audio encoder + Qwen2.5-0.5B (the post's recommended <1.2B model)"),
        Preset(name="m2", audio=QWEN3_OMNI, text=QWEN2_5_3B, tokenizer=QWEN2_5_3B, reported_params_m=3600,
                   description="M2: Qwen3-Omni audio encoder + Qwen2.5-3B"),
        Preset(name="m3", audio=QWEN2_5_OMNI_3B, text=QWEN2_5_3B, tokenizer=QWEN2_5_3B, reported_params_m=3800,
                   description="M3: Qwen2.5-Omni-3B audio encoder (after stage 3) + Qwen2.5-3B"),
        Preset(name="m4", audio=QWEN2_5_OMNI_3B, text=QWEN2_5_OMNI_3B, tokenizer=QWEN2_5_OMNI_3B, reported_params_m=3800,
                   description="M4: the complete Qwen2.5-Omni-3B thinker (its audio encoder and its own LLM)"),
        Preset(name="omni-7b", audio=QWEN2_5_OMNI_7B, text=QWEN2_5_OMNI_7B, tokenizer=QWEN2_5_OMNI_7B,
                   description="Path 1: full fine-tune of the complete Qwen2.5-Omni-7B thinker (upper bound; the "
                               "post quotes no size, it is 7.7B without vision tower and LM head)"),
        Preset(name="omni-7b-l20", audio=QWEN2_5_OMNI_7B, text=QWEN2_5_OMNI_7B, tokenizer=QWEN2_5_OMNI_7B, num_layers=20, reported_params_m=5800,
                   description="Path 2: Qwen2.5-Omni-7B thinker pruned to its first 20 of 28 decoder layers"),
        Preset(name="omni-7b-l10", audio=QWEN2_5_OMNI_7B, text=QWEN2_5_OMNI_7B, tokenizer=QWEN2_5_OMNI_7B, num_layers=10, reported_params_m=3500,
                   description="Path 2: Qwen2.5-Omni-7B thinker pruned to its first 10 decoder layers"),
        Preset(name="omni-7b-l5", audio=QWEN2_5_OMNI_7B, text=QWEN2_5_OMNI_7B, tokenizer=QWEN2_5_OMNI_7B, num_layers=5, reported_params_m=2300,
                   description="Path 2: Qwen2.5-Omni-7B thinker pruned to its first 5 decoder layers"),
        Preset(name=TINY, audio="tiny-qwen2_5_omni", text=TINY, tokenizer=BYTE_LEVEL,
                   description="A few-hundred-kilobyte random model for tests: 2-layer Qwen2.5-Omni-style encoder "
                               "(output 48 -> linear projection) + 2-layer Qwen2 (hidden 32), byte tokenizer",
                   config_overrides={"matryoshka_dims": [32, 16]}),
        Preset(name="tiny-random-qwen3", audio="tiny-qwen3_omni", text=TINY, tokenizer=BYTE_LEVEL,
                   description="Tiny random Qwen3-Omni-style encoder (1 s chunks, 2 s attention windows) + tiny Qwen2"),
        Preset(name="tiny-random-whisper", audio="tiny-whisper", text=TINY, tokenizer=BYTE_LEVEL,
                   description="Tiny random Whisper encoder (80 mels, width 32 = LLM width: no projection) + tiny Qwen2"),
    ]
}


def _same_source(given: str, hub_id: str) -> bool:
    """A source checkpoint recorded in a config (Hub id or local folder) is the Hub checkpoint `hub_id`."""
    given = str(given).rstrip("/\\")
    return given == hub_id or given.replace("\\", "/").rsplit("/", 1)[-1] == hub_id.rsplit("/", 1)[-1]


def matching_preset(source_checkpoints: dict[str, str] | None, num_layers: int | None) -> str | None:
    """The real preset a built model is an instance of: the same audio-encoder and LLM checkpoints (Hub ids, or
    local folders named like them) and the same decoder depth, so `wavlink build --family omni --audio-encoder
    Qwen/Qwen2.5-Omni-7B --llm Qwen/Qwen2.5-Omni-7B --num-layers 10` is `omni-7b-l10` (its card then quotes the
    blog's figure for that size). None when no preset matches."""
    sources = source_checkpoints or {}
    audio, llm = sources.get("audio_encoder"), sources.get("llm")
    if not audio or not llm or num_layers is None:
        return None
    for name, p in OMNI_PRESETS.items():
        if p.text not in LLMS or not (_same_source(audio, p.audio) and _same_source(llm, p.text)):
            continue
        if int(num_layers) == (p.num_layers or LLMS[p.text]["num_hidden_layers"]):
            return name
    return None


def preset_of_config(config: Any) -> str | None:
    """`matching_preset` of a model config (its recorded source checkpoints and decoder depth)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else None
    return matching_preset(getattr(config, "source_checkpoints", None), getattr(text, "num_hidden_layers", None))


def audio_encoder_config(source: str) -> PretrainedConfig:
    """The audio encoder config of a preset source (Hub id) or a tiny test kind."""
    tiny = dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64, max_source_positions=1500)
    if source == "tiny-qwen2_5_omni":
        return Qwen2_5OmniAudioEncoderConfig(**tiny, num_mel_bins=128, n_window=100, output_dim=48)
    if source == "tiny-qwen3_omni":
        return Qwen3OmniMoeAudioEncoderConfig(**tiny, num_mel_bins=128, n_window=50, n_window_infer=200,
                                              conv_chunksize=500, downsample_hidden_size=8, output_dim=48)
    if source == "tiny-whisper":
        return WhisperConfig(**tiny, num_mel_bins=80, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64)
    if source not in AUDIO_ENCODERS:
        raise ValueError(f"unknown audio encoder {source!r}; known: {sorted(AUDIO_ENCODERS)}")
    kind, kwargs = AUDIO_ENCODERS[source]
    cls = Qwen2_5OmniAudioEncoderConfig if kind == "qwen2_5_omni" else Qwen3OmniMoeAudioEncoderConfig
    return cls(**kwargs)


def prune_text_config(config: PretrainedConfig, num_layers: int | None) -> PretrainedConfig:
    """A copy of a decoder config keeping its first `num_layers` layers (the post's layer pruning)."""
    if num_layers is None:
        return config
    total = int(config.num_hidden_layers)
    if not 1 <= int(num_layers) <= total:
        raise ValueError(f"num_layers={num_layers} must be between 1 and the LLM's {total} layers")
    values = config.to_dict()
    values["num_hidden_layers"] = int(num_layers)
    if isinstance(values.get("layer_types"), list):
        values["layer_types"] = values["layer_types"][: int(num_layers)]
    model_type = values.pop("model_type")
    return AutoConfig.for_model(model_type, **values)


def llm_config(source: str, num_layers: int | None = None, byte_level_vocab: bool = False) -> PretrainedConfig:
    """The Qwen2 decoder config of a preset LLM (Hub id) or the tiny test LLM."""
    if source == TINY:
        cfg = Qwen2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          intermediate_size=64, max_position_embeddings=2048, **BYTE_LEVEL_IDS)
    else:
        if source not in LLMS:
            raise ValueError(f"unknown LLM {source!r}; known: {sorted(LLMS)}")
        kwargs = dict(LLMS[source])
        if byte_level_vocab:
            kwargs.update(BYTE_LEVEL_IDS)
        cfg = Qwen2Config(**kwargs)
    return prune_text_config(cfg, num_layers)


def omni_preset_config(name: str, byte_level_vocab: bool = False, **overrides: Any) -> OmniAudioEmbedderConfig:
    """The OmniAudioEmbedderConfig of a preset (architecture only; weights come from create or build).

    `byte_level_vocab` shrinks the LLM vocabulary to the 259-token byte-level tokenizer (offline random models);
    the audio special tokens then use its BOS/EOS ids.
    """
    if name not in OMNI_PRESETS:
        raise ValueError(f"unknown Omni preset {name!r}; choose one of {sorted(OMNI_PRESETS)}")
    p = OMNI_PRESETS[name]
    byte_level = byte_level_vocab or p.text == TINY
    text_config = llm_config(p.text, p.num_layers, byte_level_vocab=byte_level)
    kwargs: dict[str, Any] = dict(
        audio_config=audio_encoder_config(p.audio),
        text_config=text_config,
        source_checkpoints={"audio_encoder": p.audio, "llm": p.text},
    )
    if byte_level:
        kwargs.update(audio_bos_token_id=BYTE_LEVEL_IDS["bos_token_id"], audio_eos_token_id=BYTE_LEVEL_IDS["eos_token_id"])
    kwargs.update(p.config_overrides)
    kwargs.update(overrides)
    return OmniAudioEmbedderConfig(**kwargs)


__all__ = ["OMNI_PRESETS", "audio_encoder_config", "llm_config", "matching_preset",
           "omni_preset_config", "preset_of_config", "prune_text_config"]
