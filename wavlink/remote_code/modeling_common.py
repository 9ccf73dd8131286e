"""What both model families do the same way, written once: the truncate_dim check, window spans of long
audio, the learnable loss scales and `forward` (embeddings, similarity logits and the loss).

A model class mixes in `AudioTextEmbedderMixin`, provides `get_text_features` / `get_audio_features`,
`logit_scale`, `siglip_logit_scale`, `siglip_logit_bias` and `output_class`, and its `forward` (which keeps
the family's own argument list) returns `embed_and_score(...)`. Remote code: flat, imports only
its own folder (`from .x import y`), torch and transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.utils import ModelOutput

from .losses import build_loss, similarity_logits


def check_truncate_dim(dim: int | None, trained_dims: list[int]) -> None:
    """Only Matryoshka-trained widths are meaningful; anything else is a silent quality loss."""
    if dim is not None and int(dim) not in trained_dims:
        raise ValueError(f"truncate_dim={dim} was not trained; choose one of {sorted(trained_dims)}")


def window_spans(lengths: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(owner clip, start frame, size) of consecutive non-overlapping windows; the last keeps the rest."""
    owners, starts, sizes = [], [], []
    for i, length in enumerate(lengths.tolist()):
        for start in range(0, length, window):
            owners.append(i)
            starts.append(start)
            sizes.append(min(window, length - start))
    return torch.tensor(owners), torch.tensor(starts), torch.tensor(sizes)


@dataclass
class AudioTextEmbedderOutput(ModelOutput):
    """Output of `forward` (deliberately without `last_hidden_state`: the models are embedders)."""

    loss: torch.Tensor | None = None
    logits_per_audio: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    audio_embeds: torch.Tensor | None = None


class AudioTextEmbedderMixin:
    """`loss_scales` and `forward` of an audio-text embedder (both families' contract)."""

    output_class: type[AudioTextEmbedderOutput] = AudioTextEmbedderOutput

    def loss_scales(self, loss_type: str) -> dict[str, torch.Tensor]:
        """The learnable scale/bias arguments each package loss expects."""
        if loss_type == "siglip":
            return {"logit_scale": self.siglip_logit_scale, "logit_bias": self.siglip_logit_bias}
        if loss_type == "clip+siglip":
            return {
                "logit_scale": self.logit_scale,
                "siglip_logit_scale": self.siglip_logit_scale,
                "logit_bias": self.siglip_logit_bias,
            }
        return {"logit_scale": self.logit_scale}

    def embed_and_score(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        input_features: torch.Tensor | None,
        feature_attention_mask: torch.Tensor | None,
        return_loss: bool | None,
        truncate_dim: int | None,
        **text_inputs: Any,
    ) -> AudioTextEmbedderOutput:
        """Embed whichever modalities are given; with both, similarity logits scaled as trained (see
        `losses.similarity_logits`) and, on request, the loss the config names. `text_inputs`: further
        `get_text_features` arguments (token_type_ids, ...); None values are not passed."""
        if input_ids is None and input_features is None:
            raise ValueError("give input_ids (text), input_features (audio) or both")
        text_embeds = audio_embeds = logits_per_audio = logits_per_text = loss = None
        if input_ids is not None:
            extra = {k: v for k, v in text_inputs.items() if v is not None}
            text_embeds = self.get_text_features(input_ids, attention_mask, truncate_dim=truncate_dim,
                                                 **extra).pooler_output
        if input_features is not None:
            audio_embeds = self.get_audio_features(
                input_features, feature_attention_mask, truncate_dim=truncate_dim
            ).pooler_output
        if text_embeds is not None and audio_embeds is not None:
            scales = self.loss_scales(self.config.loss_type)
            logits_per_audio = similarity_logits(audio_embeds, text_embeds, self.config.loss_type, **scales)
            logits_per_text = logits_per_audio.t()
            if return_loss:
                dims = self.config.matryoshka_dims if self.config.matryoshka_loss else None
                loss_fn = build_loss(self.config.loss_type, matryoshka_dims=dims)
                loss = loss_fn(audio_embeds, text_embeds, **scales)
        elif return_loss:
            raise ValueError("return_loss needs both text and audio inputs")
        return self.output_class(loss=loss, logits_per_audio=logits_per_audio, logits_per_text=logits_per_text,
                                 text_embeds=text_embeds, audio_embeds=audio_embeds)


__all__ = ["AudioTextEmbedderMixin", "AudioTextEmbedderOutput", "check_truncate_dim", "window_spans"]
