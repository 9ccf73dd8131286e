"""The model families in one registry: everything the package knows about a family is in its `Family` entry.

A family is its remote-code classes, its presets and builders, the `wavlink build` options, its towers and
LoRA targets for training, its Hub card (template, citations, pipeline tag, repo prefix) and what the
exporters support. Every module that treats the families differently reads the entry (`get_family`,
`family_of`) instead of testing ``family == "omni"``; adding a family is one entry (`register_family`) plus
its remote-code files.

This module imports nothing heavy: classes and builders are named as ``"module:attribute"`` and imported on
first use (as transformers' own Auto mappings do), so `wavlink --help` can list the families and their
options without loading torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STANDIN = "tiny-random"  # the tiny preset whose "checkpoints" are random stand-ins, not pretrained parts

Pair = tuple[Any, Any]  # (model, processor)


def load_reference(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported now)."""
    module, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"{reference!r} is not a 'module:attribute' reference")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True, kw_only=True)
class Preset:
    """One size of a family: the checkpoints its towers come from and the architecture `create` gives them.

    `audio` / `text` are Hub ids (or tiny stand-in kinds) of the audio tower and the text tower (a text
    encoder, or the LLM of the Omni family); `tokenizer` None means the text checkpoint's own.
    """

    name: str
    audio: str
    text: str
    tokenizer: str | None = None
    projection_dim: int | None = None
    num_layers: int | None = None  # keep the first N decoder layers (None: all)
    reported_params_m: float | None = None  # size the preset's source publication quotes, millions
    training: str = "full fine-tune"
    description: str = ""
    config_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def components(self) -> tuple[str, ...]:
        """The pretrained checkpoints the preset is built from (one checkpoint may hold both towers)."""
        if self.text.startswith(STANDIN):
            return ()
        return tuple(dict.fromkeys(c for c in (self.audio, self.text) if c and c != STANDIN))


@dataclass(frozen=True, kw_only=True)
class BuildOption:
    """One `wavlink build` option of a family (``--name-with-dashes``); `role` marks the two tower sources."""

    name: str
    help: str = ""
    role: str | None = None  # "audio" | "text": passed to the family's build as its audio / text source
    integer: bool = False  # a positive integer (else a string)


@dataclass(frozen=True, kw_only=True)
class Family:
    """One model family. References are ``"module:attribute"`` strings, imported on first use.

    create(preset, tokenizer=None, seed=0, **config_overrides): random weights of a preset;
    build(audio, text, seed=0, **options): real checkpoints, `options` being the non-tower `build_options`;
    build_preset(name, seed=0): a preset's own pretrained sources.
    """

    name: str  # `--family` value
    model_type: str  # config.json's model_type
    config_ref: str
    model_ref: str
    feature_extractor_ref: str
    processor_ref: str
    presets_ref: str  # the {name: Preset} table
    create_ref: str
    build_ref: str
    build_preset_ref: str
    build_options: tuple[BuildOption, ...]
    hub_prefix: str  # repo name of preset p: hub_prefix + p
    pipeline_tag: str  # the Hub card's pipeline_tag
    card_template: str  # in wavlink/hub_cards/
    citations: tuple[str, ...]  # keys of hub_cards/references.yaml's citations, for model cards ...
    adapter_citations: tuple[str, ...]  # ... and for LoRA adapter cards
    towers: Mapping[str, str]  # {"audio": attribute, "text": attribute} of the model's two towers
    lora_targets: Mapping[str, tuple[str, ...]]  # tower -> default LoRA Linear leaf names
    preset_matcher_ref: str | None = None  # config -> the preset name it is an instance of, or None
    onnx: bool = False  # `wavlink export-onnx` supports it
    frame_embeddings: bool = False  # HEAR frame-level timestamps (the encoder's per-frame states)

    @property
    def config_class(self) -> type:
        return load_reference(self.config_ref)

    @property
    def model_class(self) -> type:
        return load_reference(self.model_ref)

    @property
    def feature_extractor_class(self) -> type:
        return load_reference(self.feature_extractor_ref)

    @property
    def processor_class(self) -> type:
        return load_reference(self.processor_ref)

    @property
    def presets(self) -> Mapping[str, Preset]:
        return load_reference(self.presets_ref)

    @property
    def model_class_name(self) -> str:
        """The model class's name, read without importing it (what adapter configs record)."""
        return self.model_ref.rpartition(":")[2]

    def create(self, preset: str, tokenizer: str | None = None, seed: int = 0, **config_overrides: Any) -> Pair:
        return load_reference(self.create_ref)(preset, tokenizer=tokenizer, seed=seed, **config_overrides)

    def build(self, audio: Any, text: Any, seed: int = 0, **options: Any) -> Pair:
        return load_reference(self.build_ref)(audio, text, seed=seed, **options)

    def build_preset(self, name: str, seed: int = 0) -> Pair:
        return load_reference(self.build_preset_ref)(name, seed=seed)

    def preset_of_config(self, config: Any) -> str | None:
        """The preset a built model's config is an instance of (for cards); None if unknown."""
        return load_reference(self.preset_matcher_ref)(config) if self.preset_matcher_ref else None

    def hub_name(self, preset: str) -> str:
        return f"{self.hub_prefix}{preset}"

    def option(self, role: str) -> BuildOption:
        """The build option that gives the `role` ("audio" / "text") tower's source."""
        return next(o for o in self.build_options if o.role == role)

    def register(self) -> None:
        """Auto classes in this process, and remote-code markers so saved folders carry `auto_map`."""
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoProcessor

        config_class = self.config_class
        if config_class.model_type != self.model_type:
            raise ValueError(f"family {self.name!r}: {config_class.__name__}.model_type is "
                             f"{config_class.model_type!r}, the entry says {self.model_type!r}")
        AutoConfig.register(self.model_type, config_class, exist_ok=True)
        AutoModel.register(config_class, self.model_class, exist_ok=True)
        AutoFeatureExtractor.register(config_class, self.feature_extractor_class, exist_ok=True)
        AutoProcessor.register(config_class, self.processor_class, exist_ok=True)
        config_class.register_for_auto_class()
        self.model_class.register_for_auto_class("AutoModel")
        self.feature_extractor_class.register_for_auto_class("AutoFeatureExtractor")
        self.processor_class.register_for_auto_class("AutoProcessor")


# Linear leaf names of LoRA targets. The paper gives only the rank; Whisper attention + MLP and the text
# encoder's attention is this package's choice; the Omni LLM backbone gets attention + MLP (it carries both
# modalities).
WHISPER_LINEARS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
TEXT_ATTENTION_LINEARS = ("q_proj", "k_proj", "v_proj", "out_proj", "query", "key", "value", "Wqkv", "Wo")
QWEN_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

_REMOTE = "wavlink.remote_code"

FAMILIES: dict[str, Family] = {
    "wavlink": Family(
        name="wavlink", model_type="wavlink",
        config_ref=f"{_REMOTE}.configuration_wavlink:WavLinkConfig",
        model_ref=f"{_REMOTE}.modeling_wavlink:WavLinkModel",
        feature_extractor_ref=f"{_REMOTE}.processing_wavlink:WavLinkFeatureExtractor",
        processor_ref=f"{_REMOTE}.processing_wavlink:WavLinkProcessor",
        presets_ref="wavlink.builders.presets:PRESETS",
        create_ref="wavlink.builders.wavlink:create_model",
        build_ref="wavlink.builders.wavlink:build_from_sources",
        build_preset_ref="wavlink.builders.wavlink:build_preset",
        build_options=(
            BuildOption(name="whisper", role="audio", help="wavlink: Whisper checkpoint folder or Hub id"),
            BuildOption(name="text", role="text", help="wavlink: text encoder folder or Hub id (CLIP, BERT/MiniLM, ...)"),
            BuildOption(name="projection_dim", integer=True),
        ),
        hub_prefix="wavlink-", pipeline_tag="zero-shot-audio-classification", card_template="wavlink.md.jinja",
        citations=("wavlink", "whisper", "clip", "matryoshka"), adapter_citations=("lora", "wavlink"),
        towers={"audio": "audio_model", "text": "text_model"},
        lora_targets={"audio": WHISPER_LINEARS, "text": TEXT_ATTENTION_LINEARS},
        onnx=True, frame_embeddings=True,
    ),
    "omni": Family(
        name="omni", model_type="omni_audio_embedder",
        config_ref=f"{_REMOTE}.configuration_omni:OmniAudioEmbedderConfig",
        model_ref=f"{_REMOTE}.modeling_omni:OmniAudioEmbedder",
        feature_extractor_ref=f"{_REMOTE}.processing_omni:OmniAudioFeatureExtractor",
        processor_ref=f"{_REMOTE}.processing_omni:OmniAudioProcessor",
        presets_ref="wavlink.builders.omni_presets:OMNI_PRESETS",
        create_ref="wavlink.builders.omni:create_omni",
        build_ref="wavlink.builders.omni:build_from_sources",
        build_preset_ref="wavlink.builders.omni:build_preset",
        preset_matcher_ref="wavlink.builders.omni_presets:preset_of_config",
        build_options=(
            BuildOption(name="audio_encoder", role="audio", help="omni: Qwen2.5-Omni / Qwen3-Omni / Whisper checkpoint"),
            BuildOption(name="llm", role="text", help="omni: causal LM checkpoint (Qwen2/2.5/3)"),
            BuildOption(name="num_layers", integer=True, help="omni: keep the first N decoder layers"),
            BuildOption(name="preset", help="omni: take the sources and layer count of a preset (m1..m4, omni-7b, "
                                            "omni-7b-l10, ...); --audio-encoder/--llm/--num-layers override it"),
        ),
        hub_prefix="omni-audio-embedder-", pipeline_tag="feature-extraction", card_template="omni.md.jinja",
        citations=("jina_audio",), adapter_citations=("lora", "jina_audio"),
        towers={"audio": "audio_encoder", "text": "language_model"},
        lora_targets={"audio": WHISPER_LINEARS, "text": QWEN_LINEARS},
    ),
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; choose one of {sorted(FAMILIES)}") from None


def family_of(config: Mapping[str, Any] | Any) -> Family | None:
    """The family of a model config (a config object or config.json's dict), by model_type; None if neither."""
    model_type = config.get("model_type") if isinstance(config, Mapping) else getattr(config, "model_type", None)
    return next((f for f in FAMILIES.values() if f.model_type == model_type), None)


def family_of_model_class(name: str) -> Family | None:
    """The family whose model class is called `name` (what a LoRA adapter config records); None if none."""
    return next((f for f in FAMILIES.values() if f.model_class_name == name), None)


def register_family(family: Family) -> None:
    """Add a family to the registry and register its classes with transformers' Auto classes."""
    FAMILIES[family.name] = family
    family.register()


def register_families() -> None:
    """Register every family's classes with transformers' Auto classes (idempotent)."""
    for family in FAMILIES.values():
        family.register()


__all__ = ["FAMILIES", "STANDIN", "BuildOption", "Family", "Preset", "family_of", "family_of_model_class",
           "get_family", "load_reference", "register_families", "register_family"]
