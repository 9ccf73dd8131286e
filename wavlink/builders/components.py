"""Assemble a WavLinkModel from real pretrained checkpoints, refusing to leave any weight uninitialised.

`WhisperEncoder.from_pretrained(whisper_checkpoint)` silently loads nothing (the keys carry an `encoder.`
prefix), so the encoder is read through `WhisperModel` and copied with a strict key check. Text towers:
CLIP checkpoints (full `CLIPModel` or `CLIPTextModelWithProjection`: the pretrained text projection is
reused, as in the paper) or any `AutoModel` encoder (BERT, MiniLM, RoBERTa, ModernBERT, ...), whose pooling
is read from its sentence-transformers config when it has one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    CLIPModel,
    CLIPTextModelWithProjection,
    PretrainedConfig,
    WhisperModel,
)
from transformers.utils import cached_file, logging

from ..remote_code.modeling_wavlink import WavLinkModel
from .weights import load_strict

logger = logging.get_logger(__name__)


@dataclass
class TextTower:
    config: PretrainedConfig
    module: nn.Module
    projection: torch.Tensor | None  # pretrained projection weight (CLIP), (proj_dim, hidden)
    pooling: str


def load_whisper_encoder(source: str | os.PathLike) -> tuple[PretrainedConfig, dict[str, torch.Tensor]]:
    """Config and encoder state dict of a Whisper checkpoint (WhisperModel or ForConditionalGeneration)."""
    model, info = WhisperModel.from_pretrained(os.fspath(source), output_loading_info=True)
    missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith("encoder."))
    if missing:
        raise ValueError(f"Whisper checkpoint {source} lacks encoder weights: {missing[:10]}")
    return model.config, model.encoder.state_dict()


def sentence_transformers_pooling(source: str) -> str | None:
    """Pooling mode declared by a sentence-transformers checkpoint ("mean"/"cls"), if any."""
    try:
        modules_file = cached_file(source, "modules.json", _raise_exceptions_for_missing_entries=False)
        if modules_file is None:
            return None
        with open(modules_file) as f:
            modules = json.load(f)
        for module in modules:
            if module.get("type", "").endswith("Pooling"):
                cfg_file = cached_file(source, f"{module['path']}/config.json",
                                       _raise_exceptions_for_missing_entries=False)
                if cfg_file is None:
                    return None
                with open(cfg_file) as f:
                    cfg = json.load(f)
                if cfg.get("pooling_mode_mean_tokens"):
                    return "mean"
                if cfg.get("pooling_mode_cls_token"):
                    return "cls"
    except (OSError, ValueError):
        return None
    return None


def load_text_tower(source: str | os.PathLike) -> TextTower:
    source = os.fspath(source)
    cfg = AutoConfig.from_pretrained(source)
    if cfg.model_type == "clip":
        clip, info = CLIPModel.from_pretrained(source, output_loading_info=True)
        missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith(("text_model.", "text_projection.")))
        if missing:
            raise ValueError(f"CLIP checkpoint {source} lacks text weights: {missing[:10]}")
        return TextTower(clip.config.text_config, clip.text_model, clip.text_projection.weight.detach(), "eos")
    if cfg.model_type == "clip_text_model":
        clip, info = CLIPTextModelWithProjection.from_pretrained(source, output_loading_info=True)
        if info.get("missing_keys"):
            raise ValueError(f"CLIP text checkpoint {source} lacks weights: {sorted(info['missing_keys'])[:10]}")
        return TextTower(clip.config, clip.text_model, clip.text_projection.weight.detach(), "eos")
    pooling = sentence_transformers_pooling(source) or "cls"
    kwargs: dict[str, Any] = {"output_loading_info": True}
    try:
        model, info = AutoModel.from_pretrained(source, add_pooling_layer=False, **kwargs)
    except TypeError:
        model, info = AutoModel.from_pretrained(source, **kwargs)
    if info.get("missing_keys"):
        raise ValueError(f"text checkpoint {source} lacks weights: {sorted(info['missing_keys'])[:10]}")
    return TextTower(model.config, model, None, pooling)


def build_from_components(
    whisper: str | os.PathLike, text: str | os.PathLike, projection_dim: int | None = None,
    model_cls: type[WavLinkModel] = WavLinkModel, **config_overrides: Any,
) -> WavLinkModel:
    """A WavLinkModel whose towers hold the given checkpoints (local folders or Hub ids); new parts (global
    token, audio projection) are fresh. Raises if any pretrained weight would stay uninitialised; CLIP's
    pretrained text projection is reused, as in the paper."""
    config_cls = model_cls.config_class
    audio_config, audio_state = load_whisper_encoder(whisper)
    tower = load_text_tower(text)
    if projection_dim is None:
        projection_dim = tower.projection.shape[0] if tower.projection is not None else 512
    overrides = {"text_pooling": tower.pooling, **config_overrides}
    config = config_cls(
        audio_config=audio_config, text_config=tower.config, projection_dim=projection_dim, **overrides
    )
    model = model_cls(config)
    load_strict(model.audio_model, audio_state, f"Whisper encoder from {whisper}")
    load_strict(model.text_model, tower.module.state_dict(), f"text encoder from {text}")
    if tower.projection is not None:
        if tuple(tower.projection.shape) == tuple(model.text_projection.weight.shape):
            with torch.no_grad():
                model.text_projection.weight.copy_(tower.projection)
        else:
            logger.warning(
                "projection_dim=%d differs from the checkpoint's text projection %s: the text projection starts "
                "from random weights instead of the pretrained one", projection_dim, tuple(tower.projection.shape))
    model.config.name_or_path = ""
    return model
