"""Create (random weights of a preset) and build (from pretrained Whisper and text checkpoints) WavLink models.

They are saved like every family's, by `wavlink.builders.folder.save_model_folder`.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..remote_code.configuration_wavlink import WavLinkConfig
from ..remote_code.modeling_wavlink import WavLinkModel
from ..remote_code.processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor
from .components import build_from_components
from .presets import PRESETS, preset_config
from .tokenization import BYTE_LEVEL, load_tokenizer


def feature_extractor_for(config: WavLinkConfig) -> WavLinkFeatureExtractor:
    """The feature extractor that matches a model config (mel bins, window, long-audio policy)."""
    return WavLinkFeatureExtractor(
        feature_size=config.audio_config.num_mel_bins,
        sampling_rate=config.sampling_rate,
        max_audio_seconds=config.max_audio_seconds,
        long_audio_policy=config.long_audio_policy,
        audio_padding=config.audio_padding,
    )


def processor_for(config: WavLinkConfig, tokenizer: Any) -> WavLinkProcessor:
    return WavLinkProcessor(feature_extractor=feature_extractor_for(config), tokenizer=tokenizer)


def create_model(
    preset: str, tokenizer: str | None = None, seed: int = 0, **config_overrides: Any
) -> tuple[WavLinkModel, WavLinkProcessor]:
    """A randomly initialised model of a preset and its processor.

    `tokenizer=None` uses the preset's real tokenizer (a Hub id: needs the network or the HF cache), except
    for `tiny-random`, which uses the built-in byte-level tokenizer. `tokenizer="byte-level"` also shrinks
    the text vocabulary to 259 tokens, so the parameter count is then below the paper's.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if tokenizer is None:
        tokenizer = BYTE_LEVEL if preset == "tiny-random" else PRESETS[preset].tokenizer or PRESETS[preset].text
    config = preset_config(preset, byte_level_vocab=tokenizer == BYTE_LEVEL, **config_overrides)
    tok = load_tokenizer(tokenizer, config.text_config.max_position_embeddings)
    torch.manual_seed(seed)
    return WavLinkModel(config), processor_for(config, tok)


def build_model(
    whisper: str, text: str, projection_dim: int | None = None, seed: int = 0, **config_overrides: Any
) -> tuple[WavLinkModel, WavLinkProcessor]:
    """A model from real Whisper and text checkpoints, with the text checkpoint's tokenizer."""
    torch.manual_seed(seed)
    model = build_from_components(whisper, text, projection_dim=projection_dim, **config_overrides)
    tok = load_tokenizer(os.fspath(text), model.config.text_config.max_position_embeddings)
    return model, processor_for(model.config, tok)


def build_from_sources(audio: str | os.PathLike | None, text: str | os.PathLike | None, seed: int = 0,
                       **options: Any) -> tuple[WavLinkModel, WavLinkProcessor]:
    """The family's `build` (`wavlink build --family wavlink`): a Whisper and a text encoder checkpoint."""
    if not (audio and text):
        raise ValueError("a WavLink build needs --whisper and --text (a Whisper and a text encoder checkpoint)")
    return build_model(os.fspath(audio), os.fspath(text), seed=seed, **options)


def build_preset(name: str, seed: int = 0) -> tuple[WavLinkModel, WavLinkProcessor]:
    """A preset from its own pretrained sources (its Whisper and text checkpoints)."""
    p = PRESETS[name]
    return build_model(p.audio, p.text, projection_dim=p.projection_dim, seed=seed, **p.config_overrides)
