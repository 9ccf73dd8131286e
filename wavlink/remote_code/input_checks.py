"""Validation of the model inputs both families share, so a bad batch fails with a sentence naming the problem
instead of deep inside torch (or, worse, with a silently wrong vector)."""

from __future__ import annotations

import torch


def check_audio_inputs(
    input_features: torch.Tensor | None, feature_attention_mask: torch.Tensor | None, n_mels: int
) -> torch.Tensor:
    """The frame mask of (B, n_mels, T) log-mel features: all ones when none is given; otherwise checked to be
    (B, T), non-empty per clip and a right-padded prefix (both models run the encoder on `mask.sum()` leading
    frames, so a left-padded or holed mask would embed padding and drop audio)."""
    if input_features is None:
        raise ValueError("input_features is required for audio embeddings")
    if input_features.dim() != 3 or input_features.shape[1] != n_mels:
        raise ValueError(
            f"input_features must have shape (batch, {n_mels}, frames) for this audio encoder, got "
            f"{tuple(input_features.shape)}"
        )
    if not torch.isfinite(input_features).all():
        raise ValueError("input_features contain NaN or inf")
    batch, _, frames = input_features.shape
    if feature_attention_mask is None:
        return torch.ones(batch, frames, dtype=torch.long, device=input_features.device)
    if tuple(feature_attention_mask.shape) != (batch, frames):
        raise ValueError(
            f"feature_attention_mask shape {tuple(feature_attention_mask.shape)} does not match "
            f"input_features {tuple(input_features.shape)}"
        )
    lengths = feature_attention_mask.long().sum(-1)
    if (lengths == 0).any():
        raise ValueError("a clip has no valid frames (empty audio)")
    prefix = torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]
    if not torch.equal(feature_attention_mask.bool(), prefix):
        raise ValueError("feature_attention_mask must mark a prefix of valid frames (right padding)")
    return feature_attention_mask


__all__ = ["check_audio_inputs"]
