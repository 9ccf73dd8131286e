"""The model families (WavLink, OmniAudioEmbedder) in one registry: their classes, presets and builders.

Everything that has to treat the families differently asks the registry (`get_family`) instead of testing
``family == "omni"``: the trainer, the `create` / `build` commands, the Hub presets and folder inspection.
`register_families` is the one place that registers the classes with transformers' Auto classes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoProcessor

from ..defaults import FAMILY_NAMES
from ..remote_code.configuration_omni import OmniAudioEmbedderConfig
from ..remote_code.configuration_wavlink import WavLinkConfig
from ..remote_code.modeling_omni import OmniAudioEmbedder
from ..remote_code.modeling_wavlink import WavLinkModel
from ..remote_code.processing_omni import OmniAudioFeatureExtractor, OmniAudioProcessor
from ..remote_code.processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor
from . import omni, wavlink
from .omni_presets import OMNI_PRESETS
from .presets import PRESETS

Pair = tuple[Any, Any]  # (model, processor)


@dataclass(frozen=True)
class Family:
    """One model family.

    create(preset, tokenizer=None, seed=0, **config_overrides): random weights of a preset;
    build(audio, text, seed=0, **options): real checkpoints (WavLink: Whisper + text encoder; Omni: audio
    encoder + LLM, options ``num_layers``, ``preset``, ``tokenizer``);
    build_preset(name, seed=0): a preset's own pretrained sources.
    """

    name: str
    config_class: type
    model_class: type
    feature_extractor_class: type
    processor_class: type
    presets: Mapping[str, Any]
    create: Callable[..., Pair]
    build: Callable[..., Pair]
    build_preset: Callable[..., Pair]
    cli_audio: str  # `wavlink build` options giving build's audio and text checkpoints ...
    cli_text: str
    cli_options: tuple[str, ...]  # ... and the other options it passes on
    hub_name: Callable[[str, Any], str]  # (preset name, preset) -> repo name on the Hub
    components: Callable[[Any], tuple[str, ...]]  # preset -> the pretrained checkpoints it is built from

    @property
    def model_type(self) -> str:
        return self.config_class.model_type

    def register(self) -> None:
        """Auto classes in this process, and remote-code markers so saved folders carry `auto_map`."""
        AutoConfig.register(self.model_type, self.config_class, exist_ok=True)
        AutoModel.register(self.config_class, self.model_class, exist_ok=True)
        AutoFeatureExtractor.register(self.config_class, self.feature_extractor_class, exist_ok=True)
        AutoProcessor.register(self.config_class, self.processor_class, exist_ok=True)
        self.config_class.register_for_auto_class()
        self.model_class.register_for_auto_class("AutoModel")
        self.feature_extractor_class.register_for_auto_class("AutoFeatureExtractor")
        self.processor_class.register_for_auto_class("AutoProcessor")


STANDIN = "tiny-random"  # the tiny preset whose "checkpoints" are random stand-ins, not pretrained parts
OMNI_HUB_PREFIX = "omni-audio-embedder-"


def _first_attr(obj: Any, names: tuple[str, ...]) -> Any:
    return next((value for value in (getattr(obj, n, None) for n in names) if value), None)


def _wavlink_components(preset: Any) -> tuple[str, ...]:
    return tuple(c for c in (preset.whisper, preset.text) if c != STANDIN)


def _omni_components(preset: Any) -> tuple[str, ...]:
    audio = _first_attr(preset, ("audio_encoder", "audio", "audio_checkpoint"))
    llm = _first_attr(preset, ("llm", "text", "llm_checkpoint", "language_model"))
    if not llm or str(llm).startswith(STANDIN):
        return ()
    return tuple(dict.fromkeys(str(c) for c in (audio, llm) if c))  # M4: one checkpoint holds both parts


def _build_wavlink(audio: str | os.PathLike | None, text: str | os.PathLike | None, seed: int = 0,
                   **options: Any) -> Pair:
    if not (audio and text):
        raise ValueError("a WavLink build needs --whisper and --text (a Whisper and a text encoder checkpoint)")
    return wavlink.build_model(os.fspath(audio), os.fspath(text), seed=seed, **options)


def _wavlink_preset(name: str, seed: int = 0) -> Pair:
    p = PRESETS[name]
    return wavlink.build_model(p.whisper, p.text, projection_dim=p.projection_dim, seed=seed, **p.config_overrides)


def _build_omni(audio: str | os.PathLike | None, text: str | os.PathLike | None, seed: int = 0,
                **options: Any) -> Pair:
    if not options.get("preset") and not (audio and text):
        raise ValueError("an Omni build needs --audio-encoder and --llm (an audio encoder and a causal LM "
                         "checkpoint), or --preset")
    return omni.build_omni(audio, text, seed=seed, **options)


FAMILIES: dict[str, Family] = {
    "wavlink": Family("wavlink", WavLinkConfig, WavLinkModel, WavLinkFeatureExtractor, WavLinkProcessor, PRESETS,
                      wavlink.create_model, _build_wavlink, _wavlink_preset, "whisper", "text", ("projection_dim",),
                      lambda name, preset: preset.hub_name, _wavlink_components),
    "omni": Family("omni", OmniAudioEmbedderConfig, OmniAudioEmbedder, OmniAudioFeatureExtractor,
                   OmniAudioProcessor, OMNI_PRESETS, omni.create_omni, _build_omni,
                   lambda name, seed=0: omni.build_omni(preset=name, seed=seed), "audio_encoder", "llm",
                   ("num_layers", "preset"),
                   lambda name, preset: getattr(preset, "hub_name", None) or f"{OMNI_HUB_PREFIX}{name}",
                   _omni_components),
}


if tuple(sorted(FAMILIES)) != FAMILY_NAMES:  # the CLI's --family choices, read without importing this module
    raise RuntimeError(f"wavlink.defaults.FAMILY_NAMES {FAMILY_NAMES} must list the families {sorted(FAMILIES)}")


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; choose one of {sorted(FAMILIES)}") from None


def family_of(config: Mapping[str, Any] | Any) -> Family | None:
    """The family of a model config (a config object or config.json's dict), by model_type; None if neither."""
    model_type = config.get("model_type") if isinstance(config, Mapping) else getattr(config, "model_type", None)
    return next((f for f in FAMILIES.values() if f.model_type == model_type), None)


def register_families() -> None:
    for family in FAMILIES.values():
        family.register()


__all__ = ["FAMILIES", "OMNI_HUB_PREFIX", "STANDIN", "Family", "family_of", "get_family", "register_families"]
