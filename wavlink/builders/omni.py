"""Create (random), build (module combination of real checkpoints) and save OmniAudioEmbedder folders.

Module combination (the Jina post's path 4): the audio tower of a Qwen2.5-Omni / Qwen3-Omni checkpoint (the
thinker's `audio_tower`) or a Whisper encoder, plus the decoder of a standalone causal LM (or the Omni
thinker's own LLM, for M4), copied tensor by tensor into an `OmniAudioEmbedder` shell. Weights are read from
the safetensors files directly (through the shard index when there is one, fetching only the shards that hold
the wanted tensors), so a 30B Omni checkpoint is never instantiated. Every tensor of the shell's encoder and
decoder must be found with the right shape and nothing under the selected prefixes may be left over: anything
else raises, naming the keys.

Key layouts (verified against tiny checkpoints that transformers' own classes write with `save_pretrained`,
transformers 5.24.0 in this project's CI; see tests/remote_code/test_omni.py). transformers 5 keeps the thinker's audio tower
in memory at `thinker.model.audio_tower` but saves the legacy Hub names listed here, which are also what the
released checkpoints hold:

* `Qwen2_5OmniForConditionalGeneration`: `thinker.audio_tower.*`, thinker LLM `thinker.model.*` (plus
  `thinker.visual.*`, `thinker.lm_head.*`, `talker.*`, `token2wav.*`, all ignored);
* `Qwen3OmniMoeForConditionalGeneration` (the M1/M2 source): `thinker.audio_tower.*` (plus `thinker.model.*`,
  a mixture-of-experts LLM that is rejected as backbone, `thinker.visual.*`, `thinker.lm_head.*`, `talker.*`,
  `code2wav.*`, all ignored);
* `Qwen2_5OmniThinkerForConditionalGeneration` / `Qwen3OmniMoeThinkerForConditionalGeneration`:
  `audio_tower.*`, LLM `model.*`;
* a standalone `Qwen2_5OmniAudioEncoder` / `Qwen3OmniMoeAudioEncoder`: keys at the root;
* `WhisperForConditionalGeneration`: `model.encoder.*`; `WhisperModel`: `encoder.*`;
* `Qwen2ForCausalLM` / `Qwen3ForCausalLM` (any `*ForCausalLM`, tied or untied, single file or sharded with an
  index): `model.*` (the `lm_head` is dropped); a bare `Qwen2Model`: root.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from transformers import AutoConfig, PretrainedConfig, Qwen2Config
from transformers.utils import cached_file

from ..remote_code.configuration_omni import AUDIO_ENCODER_MODEL_TYPES, OmniAudioEmbedderConfig
from ..remote_code.modeling_omni import OmniAudioEmbedder
from ..remote_code.processing_omni import OmniAudioFeatureExtractor, OmniAudioProcessor
from .folder import save_model_folder
from .omni_presets import OMNI_PRESETS, TINY, omni_preset_config, prune_text_config
from .tokenization import BYTE_LEVEL, load_tokenizer
from .weights import load_strict

SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"

# model_type of the checkpoint's config.json -> candidate prefixes of the audio tower, most specific first
AUDIO_PREFIXES = {
    "qwen2_5_omni": ("thinker.audio_tower.", "thinker.model.audio_tower."),
    "qwen3_omni_moe": ("thinker.audio_tower.", "thinker.model.audio_tower."),
    "qwen2_5_omni_thinker": ("audio_tower.", "model.audio_tower."),
    "qwen3_omni_moe_thinker": ("audio_tower.", "model.audio_tower."),
    "qwen2_5_omni_audio_encoder": ("",),
    "qwen3_omni_moe_audio_encoder": ("",),
    "whisper": ("model.encoder.", "encoder."),
}
# model_type -> candidate prefixes of the decoder LLM (anything else: a causal LM, `model.` or the root)
LLM_PREFIXES = {
    "qwen2_5_omni": ("thinker.model.language_model.", "thinker.model."),
    "qwen2_5_omni_thinker": ("model.language_model.", "model."),
}
DEFAULT_LLM_PREFIXES = ("model.", "")


# ---------------------------------------------------------------------------------------------------- reading
def _resolve(source: str, filename: str) -> str | None:
    """Local path of `filename` in a folder or Hub repo (downloaded on demand), None when the repo lacks it."""
    if os.path.isdir(source):
        path = os.path.join(source, filename)
        return path if os.path.isfile(path) else None

    try:
        return cached_file(source, filename, _raise_exceptions_for_missing_entries=False)
    except OSError as err:
        raise ValueError(
            f"cannot read {filename} of {source!r} ({err.__class__.__name__}: {str(err).splitlines()[0]}). "
            "Offline? Pass a local checkpoint folder."
        ) from err


class SafetensorsCheckpoint:
    """Lazy view of a (possibly sharded) safetensors checkpoint: key names first, tensors on request."""

    def __init__(self, source: str | os.PathLike) -> None:
        self.source = os.fspath(source)
        index = _resolve(self.source, SAFE_INDEX)
        if index is not None:
            with open(index) as f:
                self.key_to_file: dict[str, str] = dict(json.load(f)["weight_map"])
            return
        single = _resolve(self.source, SAFE_WEIGHTS)
        if single is None:
            raise ValueError(
                f"{self.source}: no {SAFE_WEIGHTS} or {SAFE_INDEX} (only safetensors checkpoints are supported)"
            )

        with safe_open(single, framework="pt") as f:
            self.key_to_file = {key: SAFE_WEIGHTS for key in f.keys()}

    def keys(self) -> list[str]:
        return list(self.key_to_file)

    def load(self, keys: list[str]) -> dict[str, torch.Tensor]:
        """The named tensors, reading only the shards that hold them."""
        by_file: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            by_file[self.key_to_file[key]].append(key)
        out: dict[str, torch.Tensor] = {}
        for filename, names in by_file.items():
            path = _resolve(self.source, filename)
            if path is None:
                raise ValueError(f"{self.source}: shard {filename} listed in the index is missing")
            with safe_open(path, framework="pt") as f:
                for name in names:
                    out[name] = f.get_tensor(name)
        return out

    def select(self, prefixes: tuple[str, ...], what: str) -> tuple[str, dict[str, torch.Tensor]]:
        """Tensors under the first prefix that has any, with the prefix stripped."""
        keys = self.keys()
        for prefix in prefixes:
            chosen = [k for k in keys if k.startswith(prefix)]
            if chosen:
                state = self.load(chosen)
                return prefix, {k[len(prefix):]: v for k, v in state.items()}
        raise ValueError(f"{self.source}: no {what} weights (looked for keys starting with {list(prefixes)})")


# ---------------------------------------------------------------------------------------------------- configs
def _load_config(source: str) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(source)
    except OSError as err:
        raise ValueError(
            f"cannot read the config of {source!r} ({err.__class__.__name__}: {str(err).splitlines()[0]}). "
            "Offline? Pass a local checkpoint folder."
        ) from err


def _thinker_config(config: PretrainedConfig) -> PretrainedConfig:
    return config.thinker_config if hasattr(config, "thinker_config") else config


def audio_encoder_from_checkpoint(source: str) -> tuple[PretrainedConfig, tuple[str, ...]]:
    """(audio encoder config, candidate key prefixes) of an Omni / Whisper / standalone-encoder checkpoint."""
    cfg = _load_config(source)
    if cfg.model_type not in AUDIO_PREFIXES:
        raise ValueError(
            f"{source}: model_type {cfg.model_type!r} holds no supported audio encoder; expected a Qwen2.5-Omni or "
            f"Qwen3-Omni checkpoint (full or thinker), a standalone Qwen-Omni audio encoder or Whisper"
        )
    audio_cfg = cfg if cfg.model_type in AUDIO_ENCODER_MODEL_TYPES.values() else _thinker_config(cfg).audio_config
    return audio_cfg, AUDIO_PREFIXES[cfg.model_type]


def _qwen2_from_omni_text(text: PretrainedConfig) -> Qwen2Config:
    """A Qwen2 config with the Omni thinker LLM's shapes. The thinker uses M-RoPE; for text-only and audio-only
    sequences its three position rows are equal, which makes M-RoPE exactly 1-D RoPE with the same theta."""
    rope = dict(getattr(text, "rope_parameters", None) or {})
    theta = rope.get("rope_theta", getattr(text, "rope_theta", 1e6))
    return Qwen2Config(
        vocab_size=text.vocab_size, hidden_size=text.hidden_size, intermediate_size=text.intermediate_size,
        num_hidden_layers=text.num_hidden_layers, num_attention_heads=text.num_attention_heads,
        num_key_value_heads=text.num_key_value_heads, hidden_act=text.hidden_act,
        max_position_embeddings=text.max_position_embeddings, rms_norm_eps=text.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": theta},
        tie_word_embeddings=getattr(text, "tie_word_embeddings", False),
        attention_dropout=getattr(text, "attention_dropout", 0.0),
        initializer_range=getattr(text, "initializer_range", 0.02),
    )


def llm_from_checkpoint(source: str) -> tuple[PretrainedConfig, tuple[str, ...], dict[str, Any]]:
    """(decoder config, candidate key prefixes, config defaults) of a causal-LM or Qwen2.5-Omni checkpoint."""
    cfg = _load_config(source)
    if cfg.model_type in ("qwen3_omni_moe", "qwen3_omni_moe_thinker"):
        raise ValueError(
            f"{source}: the Qwen3-Omni thinker LLM is a 30B mixture of experts; use this checkpoint as the audio "
            "encoder and pick a standalone LLM (e.g. Qwen/Qwen2.5-0.5B, the post's M1)"
        )
    if cfg.model_type in LLM_PREFIXES:
        thinker = _thinker_config(cfg)
        defaults = {
            "audio_bos_token_id": getattr(thinker, "audio_start_token_id", None),
            "audio_eos_token_id": getattr(thinker, "audio_end_token_id", None),
        }
        return _qwen2_from_omni_text(thinker.text_config), LLM_PREFIXES[cfg.model_type], defaults
    if cfg.model_type in AUDIO_PREFIXES:
        raise ValueError(f"{source}: model_type {cfg.model_type!r} is not a decoder LLM")
    return cfg, DEFAULT_LLM_PREFIXES, {}


def _drop_pruned_layers(state: dict[str, torch.Tensor], num_layers: int | None) -> dict[str, torch.Tensor]:
    if num_layers is None:
        return state
    kept = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) > 1 and parts[0] == "layers" and parts[1].isdigit() and int(parts[1]) >= num_layers:
            continue
        kept[key] = value
    return kept


# ---------------------------------------------------------------------------------------------------- build
def build_embedder(
    audio_encoder: str | os.PathLike,
    llm: str | os.PathLike,
    num_layers: int | None = None,
    model_cls: type[OmniAudioEmbedder] = OmniAudioEmbedder,
    **config_overrides: Any,
) -> OmniAudioEmbedder:
    """An OmniAudioEmbedder holding the given audio tower and decoder (first `num_layers` layers).

    New parts are the audio projection (only when the widths differ) and the logit scales. The audio special
    tokens default to the Omni thinker's ids when the LLM is an Omni thinker, to Qwen2.5-Omni's
    (151647/151648) for LLMs with a Qwen-size vocabulary, and are off for smaller vocabularies.
    """
    audio_encoder, llm = os.fspath(audio_encoder), os.fspath(llm)
    audio_cfg, audio_prefixes = audio_encoder_from_checkpoint(audio_encoder)
    text_cfg, llm_prefixes, defaults = llm_from_checkpoint(llm)
    text_cfg = prune_text_config(text_cfg, num_layers)
    if defaults.get("audio_bos_token_id") is None and int(text_cfg.vocab_size) <= 151648:
        defaults = {"audio_special_tokens": False}
    overrides = {k: v for k, v in defaults.items() if v is not None}
    overrides.update(config_overrides)
    overrides.setdefault("source_checkpoints", {"audio_encoder": audio_encoder, "llm": llm})
    config = OmniAudioEmbedderConfig(audio_config=audio_cfg, text_config=text_cfg, **overrides)

    audio_ckpt = SafetensorsCheckpoint(audio_encoder)
    audio_prefix, audio_state = audio_ckpt.select(audio_prefixes, "audio encoder")
    llm_ckpt = audio_ckpt if llm == audio_encoder else SafetensorsCheckpoint(llm)
    llm_prefix, llm_state = llm_ckpt.select(llm_prefixes, "LLM")
    if llm_prefix == "":  # a bare base model: keep only decoder keys (no lm_head)
        llm_state = {k: v for k, v in llm_state.items() if not k.startswith("lm_head.")}
    llm_state = _drop_pruned_layers(llm_state, num_layers)

    model = model_cls(config)
    load_strict(model.audio_encoder, audio_state, f"audio encoder from {audio_encoder} (keys {audio_prefix!r}*)")
    load_strict(model.language_model, llm_state, f"LLM from {llm} (keys {llm_prefix!r}*)")
    model.config.name_or_path = ""
    return model


# ---------------------------------------------------------------------------------------------------- API
def processor_for(config: OmniAudioEmbedderConfig, tokenizer: Any) -> OmniAudioProcessor:
    """The processor matching a model config (mel bins, window, long-audio policy, text instruction)."""
    feature_extractor = OmniAudioFeatureExtractor(
        feature_size=config.audio_config.num_mel_bins,
        sampling_rate=config.sampling_rate,
        max_audio_seconds=config.max_audio_seconds,
        long_audio_policy=config.long_audio_policy,
    )
    return OmniAudioProcessor(feature_extractor, tokenizer, text_instruction=config.text_instruction)


def _check_tokenizer(tokenizer: Any, config: OmniAudioEmbedderConfig) -> None:
    if len(tokenizer) > int(config.text_config.vocab_size):
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the LLM vocabulary only {config.text_config.vocab_size}"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _load_tokenizer(source: str) -> Any:
    """`builder.load_tokenizer` with every failure turned into a ValueError that names the source."""
    try:
        return load_tokenizer(source)
    except ValueError as err:
        if source in str(err):
            raise
        raise ValueError(f"cannot load a tokenizer from {source!r} ({err}); pass tokenizer=...") from err


def create_omni(
    preset: str, tokenizer: str | None = None, seed: int = 0, **config_overrides: Any
) -> tuple[OmniAudioEmbedder, OmniAudioProcessor]:
    """A randomly initialised OmniAudioEmbedder of a preset, and its processor.

    `tokenizer=None` uses the preset's tokenizer (a Qwen Hub id: needs the network or the HF cache; offline it
    raises a clear ValueError before any weight is allocated), except for the tiny presets, which use the
    built-in byte-level tokenizer. `tokenizer="byte-level"` also shrinks the LLM vocabulary to 259 tokens.
    """
    if preset not in OMNI_PRESETS:
        raise ValueError(f"unknown Omni preset {preset!r}; choose one of {sorted(OMNI_PRESETS)}")
    p = OMNI_PRESETS[preset]
    tokenizer = tokenizer or p.tokenizer
    config = omni_preset_config(preset, byte_level_vocab=tokenizer == BYTE_LEVEL, **config_overrides)
    tok = load_tokenizer(tokenizer, config.text_config.max_position_embeddings)
    _check_tokenizer(tok, config)
    torch.manual_seed(seed)
    return OmniAudioEmbedder(config), processor_for(config, tok)


def build_omni(
    audio_encoder: str | os.PathLike | None = None,
    llm: str | os.PathLike | None = None,
    num_layers: int | None = None,
    preset: str | None = None,
    tokenizer: str | None = None,
    seed: int = 0,
    **config_overrides: Any,
) -> tuple[OmniAudioEmbedder, OmniAudioProcessor]:
    """Module combination from real checkpoints (folders or Hub ids), with the LLM checkpoint's tokenizer.

    `preset` fills in whatever is not given (its source checkpoints and layer count), so
    `build_omni(preset="m1")` builds the post's M1 from the Hub.
    """
    if preset is not None:
        if preset not in OMNI_PRESETS or OMNI_PRESETS[preset].text == TINY:
            real = sorted(k for k, v in OMNI_PRESETS.items() if v.text != TINY)
            raise ValueError(f"preset {preset!r} has no pretrained sources; choose one of {real}")
        p = OMNI_PRESETS[preset]
        audio_encoder = audio_encoder or p.audio
        llm = llm or p.text
        num_layers = num_layers if num_layers is not None else p.num_layers
        tokenizer = tokenizer or p.tokenizer
        config_overrides = {**p.config_overrides, **config_overrides}
    if audio_encoder is None or llm is None:
        raise ValueError("give audio_encoder and llm (folders or Hub ids), or a preset")
    audio_encoder_from_checkpoint(os.fspath(audio_encoder))  # cheap config checks before any download
    llm_from_checkpoint(os.fspath(llm))
    tok = _load_tokenizer(os.fspath(tokenizer or llm))
    torch.manual_seed(seed)
    model = build_embedder(audio_encoder, llm, num_layers=num_layers, **config_overrides)
    tok.model_max_length = min(tok.model_max_length or 10**9, int(model.config.text_config.max_position_embeddings))
    _check_tokenizer(tok, model.config)
    return model, processor_for(model.config, tok)


def build_from_sources(audio: str | os.PathLike | None, text: str | os.PathLike | None, seed: int = 0,
                       **options: Any) -> tuple[OmniAudioEmbedder, OmniAudioProcessor]:
    """The family's `build` (`wavlink build --family omni`): an audio encoder and an LLM, or a preset."""
    if not options.get("preset") and not (audio and text):
        raise ValueError("an Omni build needs --audio-encoder and --llm (an audio encoder and a causal LM "
                         "checkpoint), or --preset")
    return build_omni(audio, text, seed=seed, **options)


def build_preset(name: str, seed: int = 0) -> tuple[OmniAudioEmbedder, OmniAudioProcessor]:
    """A preset from its own pretrained sources."""
    return build_omni(preset=name, seed=seed)


def save_omni_folder(model: OmniAudioEmbedder, processor: OmniAudioProcessor, out_dir: str | os.PathLike) -> Path:
    """Model + processor (tokenizer included) + remote code + sentence-transformers files."""
    return save_model_folder(model, processor, out_dir)


__all__ = [
    "OMNI_PRESETS",
    "SafetensorsCheckpoint",
    "build_embedder",
    "build_from_sources",
    "build_omni",
    "build_preset",
    "create_omni",
    "processor_for",
    "save_omni_folder",
]
