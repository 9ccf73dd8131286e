"""Configuration of WavLinkModel (Whisper audio tower + global token, pretrained text tower).

Every choice the WavLink paper (arXiv 2601.15118) leaves open is an explicit, documented field here, so a
checkpoint states how it was built and trained instead of relying on code defaults.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import AutoConfig, CLIPTextConfig, PretrainedConfig, WhisperConfig

TEXT_POOLING_CHOICES = ("auto", "eos", "cls", "mean", "pooler")
LONG_AUDIO_POLICIES = ("chunk", "truncate", "error")
AUDIO_PADDING_CHOICES = ("longest", "max_length")
AUDIO_POOLING_CHOICES = ("global_token", "mean")


def _sub_config(value: Any, default_cls: type[PretrainedConfig], **default_kwargs: Any) -> PretrainedConfig:
    """Accept a config object, a dict (with or without ``model_type``) or None."""
    if value is None:
        return default_cls(**default_kwargs)
    if isinstance(value, dict):
        value = dict(value)
        model_type = value.pop("model_type", None)
        if model_type is None:
            return default_cls(**value)
        return AutoConfig.for_model(model_type, **value)
    return value


class WavLinkConfig(PretrainedConfig):
    r"""Configuration for [`WavLinkModel`].

    Args:
        audio_config: a `WhisperConfig` (only the encoder part is used).
        text_config: any text-encoder config known to `AutoConfig` (CLIP text by default; BERT, RoBERTa,
            ModernBERT, ... work too).
        projection_dim: width of the shared embedding space (paper: 512 for base/small, 768 for large).
        matryoshka_dims: embedding widths trained with Matryoshka supervision; `None` means
            `[d, d/2, d/4, d/8]` (the paper's K=4). `truncate_dim` must be one of these.
        text_pooling: how one vector is read from the text encoder. `"eos"` = CLIP's pooled end-of-text
            state, `"cls"` = first token (the paper's wording for non-CLIP encoders), `"mean"` = masked mean
            (what sentence-transformers checkpoints such as MiniLM were trained with), `"pooler"` = the
            model's own `pooler_output`; `"auto"` resolves to `"eos"` for CLIP and `"cls"` otherwise.
        text_projection_bias: bias of the text projection (CLIP's pretrained projection has none).
        audio_projection_bias: bias of the new audio projection (paper silent; default True).
        audio_pooling: `"global_token"` (the paper) or `"mean"` over valid frames (ablation baseline).
        global_token_init_std: std of the normal init of the learnable global token (paper silent).
        global_token_position: `"none"` (the token is appended after Whisper's positional embeddings and
            gets no position of its own; paper silent, the token is learnable) or `"learned"` (an extra
            learnable position vector is added to it).
        global_token_layer: index of the Whisper layer before which the global token joins the sequence.
            0 (default) is the paper: appended to the conv front-end output, so every layer sees it. A later
            layer k (negative counts from the end: -1 = the last layer only) leaves layers 0..k-1 exactly as
            Whisper computes them, so with a frozen encoder their output can be computed once and cached,
            and a head of the remaining layers trained for many epochs on it (the default model's recipe);
            the token then reads the frames only in layers k.. (a package choice, not the paper's).
        logit_scale_init: initial log inverse temperature of the CLIP loss (CLIP's log(1/0.07)).
        siglip_logit_scale_init / siglip_logit_bias_init: SigLIP's t' = log 10 and b = -10.
        max_audio_seconds: longest window the encoder sees at once (Whisper: 30 s, 1500 positions).
        audio_padding: `"longest"` runs the encoder on the real frames only (masked, batch-invariant,
            the default); `"max_length"` pads every clip with silence to `max_audio_seconds` and attends to
            it, as Whisper and the paper do (for paper-faithful checkpoints).
        long_audio_policy: audio longer than `max_audio_seconds`: `"chunk"` splits it into consecutive
            non-overlapping windows (the last one shorter, every sample counted exactly once), embeds each
            and averages the window embeddings weighted by their duration, then re-normalises;
            `"truncate"` keeps the first window; `"error"` raises.
        sampling_rate: audio sampling rate the feature extractor expects.
        loss_type: loss used by `forward(return_loss=True)` and the trainer: `"clip"` (the paper's winner),
            `"siglip"` or `"clip+siglip"` (weighted sum; the paper compares them, it does not combine them).
        matryoshka_loss: average the loss over `matryoshka_dims` (re-normalising each slice).
    """

    model_type = "wavlink"
    sub_configs = {"audio_config": AutoConfig, "text_config": AutoConfig}

    def __init__(
        self,
        audio_config: WhisperConfig | dict | None = None,
        text_config: PretrainedConfig | dict | None = None,
        projection_dim: int = 512,
        matryoshka_dims: list[int] | None = None,
        text_pooling: str = "auto",
        text_projection_bias: bool = False,
        audio_projection_bias: bool = True,
        audio_pooling: str = "global_token",
        global_token_init_std: float = 0.02,
        global_token_position: str = "none",
        global_token_layer: int = 0,
        logit_scale_init: float = math.log(1 / 0.07),
        siglip_logit_scale_init: float = math.log(10.0),
        siglip_logit_bias_init: float = -10.0,
        max_audio_seconds: float = 30.0,
        audio_padding: str = "longest",
        long_audio_policy: str = "chunk",
        sampling_rate: int = 16000,
        loss_type: str = "clip",
        matryoshka_loss: bool = True,
        **kwargs: Any,
    ) -> None:
        self.audio_config = _sub_config(audio_config, WhisperConfig)
        self.text_config = _sub_config(text_config, CLIPTextConfig, projection_dim=projection_dim)
        self.projection_dim = int(projection_dim)
        if matryoshka_dims is None:
            matryoshka_dims = [projection_dim // f for f in (1, 2, 4, 8) if projection_dim % f == 0]
        self.matryoshka_dims = sorted({int(d) for d in matryoshka_dims}, reverse=True)
        self.text_pooling = text_pooling
        self.text_projection_bias = text_projection_bias
        self.audio_projection_bias = audio_projection_bias
        self.audio_pooling = audio_pooling
        self.global_token_init_std = global_token_init_std
        self.global_token_position = global_token_position
        layers = int(self.audio_config.encoder_layers)
        self.global_token_layer = int(global_token_layer) + (layers if int(global_token_layer) < 0 else 0)
        self.logit_scale_init = logit_scale_init
        self.siglip_logit_scale_init = siglip_logit_scale_init
        self.siglip_logit_bias_init = siglip_logit_bias_init
        self.max_audio_seconds = float(max_audio_seconds)
        self.audio_padding = audio_padding
        self.long_audio_policy = long_audio_policy
        self.sampling_rate = int(sampling_rate)
        self.loss_type = loss_type
        self.matryoshka_loss = matryoshka_loss
        super().__init__(**kwargs)
        self.validate_wavlink()

    def validate_wavlink(self) -> None:
        """Reject inconsistent settings early, naming the field."""
        checks = {
            "text_pooling": (self.text_pooling, TEXT_POOLING_CHOICES),
            "long_audio_policy": (self.long_audio_policy, LONG_AUDIO_POLICIES),
            "audio_padding": (self.audio_padding, AUDIO_PADDING_CHOICES),
            "audio_pooling": (self.audio_pooling, AUDIO_POOLING_CHOICES),
            "loss_type": (self.loss_type, ("clip", "siglip", "clip+siglip")),
            "global_token_position": (self.global_token_position, ("none", "learned")),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"WavLinkConfig.{name}={value!r} is not one of {allowed}")
        layers = int(self.audio_config.encoder_layers)
        if not 0 <= self.global_token_layer < max(layers, 1):
            raise ValueError(
                f"WavLinkConfig.global_token_layer={self.global_token_layer} must index one of the encoder's "
                f"{layers} layers (0..{layers - 1}, or -1..-{layers} from the end)"
            )
        bad = [d for d in self.matryoshka_dims if d <= 0 or d > self.projection_dim]
        if bad or self.projection_dim not in self.matryoshka_dims:
            raise ValueError(
                f"matryoshka_dims must be positive, at most projection_dim={self.projection_dim} and contain it; "
                f"got {self.matryoshka_dims}"
            )
        if self.sampling_rate <= 0:
            raise ValueError(f"WavLinkConfig.sampling_rate={self.sampling_rate} must be positive")
        if self.max_audio_frames < 1:
            raise ValueError(
                f"WavLinkConfig.max_audio_seconds={self.max_audio_seconds:g} must be positive "
                "(at least one 10 ms mel frame)"
            )
        max_positions = self.audio_config.max_source_positions
        max_seconds = max_positions * 2 * 160 / self.sampling_rate  # conv stride 2, hop 160
        if self.max_audio_seconds > max_seconds + 1e-6:
            raise ValueError(
                f"max_audio_seconds={self.max_audio_seconds} exceeds what the Whisper encoder can position "
                f"({max_positions} positions = {max_seconds:g} s)"
            )

    @property
    def resolved_text_pooling(self) -> str:
        if self.text_pooling != "auto":
            return self.text_pooling
        return "eos" if self.text_config.model_type == "clip_text_model" else "cls"

    @property
    def max_audio_frames(self) -> int:
        """Mel frames per encoder window (100 frames per second at hop 160 and 16 kHz)."""
        return int(round(self.max_audio_seconds * self.sampling_rate / 160))


__all__ = ["WavLinkConfig"]
