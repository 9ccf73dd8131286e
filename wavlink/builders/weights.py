"""Pretrained weights into a built model, all or nothing: both families' builders copy encoder and text/LLM
weights with `load_strict`, so a renamed, missing or mis-shaped tensor is one error naming it, never a randomly
initialised weight and never a size-mismatch traceback from inside torch."""

from __future__ import annotations

import torch
from torch import nn


def load_strict(target: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Copy `state` into `target`; a missing, unexpected or mis-shaped tensor is an error, never a random weight."""
    expected = target.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{what}: weights do not match the model ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(mismatched)} mis-shaped): missing={missing[:20]} unexpected={unexpected[:20]} "
            f"mis-shaped={mismatched[:10]}"
        )
    target.load_state_dict(state, strict=True)


__all__ = ["load_strict"]
