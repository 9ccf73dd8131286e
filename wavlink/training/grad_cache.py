"""GradCache: a contrastive step over a big batch with the activation memory of a small one.

Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup" (2021), as
sentence-transformers' ``CachedMultipleNegativesRankingLoss`` does it. The contrastive loss couples every pair
of the batch, but it only needs the *embeddings*; the towers' activations are needed for one chunk at a time:

1. embed the batch in chunks of ``chunk_size`` without autograd graphs, recording each chunk's RNG state;
2. compute the loss on all embeddings (detached leaves, and the loss scales as leaves), back-propagate it to
   those leaves only: d loss / d embedding for every row, d loss / d scale;
3. for each chunk again, with its RNG state restored (same dropout / layer-drop as in step 1), re-embed it with
   a graph and back-propagate the surrogate ``<embedding, cached gradient>``, which gives the towers exactly
   the gradient of step 2's loss. The loss-scale gradients join on the last chunk, so under DDP the one
   synchronised backward reaches every trainable parameter (the other chunks run under ``no_sync``).

Loss and gradients equal the uncached step's (the model being batch-invariant, as both families are; tested to
1e-5), while peak activation memory is one chunk's: ``batch_size`` then means negatives per step, independent
of accelerator memory. The price is a second forward pass of the towers (~1.3-1.5x the step time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def _rows(inputs: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    return {k: v[start:stop] if isinstance(v, torch.Tensor) and v.dim() > 0 else v for k, v in inputs.items()}


def _batch_size(inputs: dict[str, Any]) -> int:
    sizes = {int(v.shape[0]) for v in inputs.values() if isinstance(v, torch.Tensor) and v.dim() > 0}
    if len(sizes) != 1:
        raise ValueError(f"inputs disagree on the batch size: {sorted(sizes)}")
    return sizes.pop()


def chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    if chunk_size < 1:
        raise ValueError(f"grad_cache chunk size must be >= 1, got {chunk_size}")
    return [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


class RngState:
    """CPU and CUDA generator states at one moment, restorable (so the re-embedding draws the same masks)."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        """Run the block from this state, then put the generators back where they were."""
        devices = list(range(len(self.cuda))) if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
            yield


def grad_cache_backward(
    module: nn.Module,
    audio_inputs: dict[str, Any],
    text_inputs: dict[str, Any],
    loss_of: LossFn,
    chunk_size: int,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
    no_sync: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    scale: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One cached forward/backward of ``module`` (a ``DualEncoderModule``: inputs -> audio, text, loss scales).

    Args:
        loss_of: (audio, text, scales) -> (loss, detached parts to log), on the whole batch.
        backward: how to back-propagate a surrogate (``accelerator.backward`` under accelerate).
        no_sync: context for the chunks before the last (``lambda: accelerator.no_sync(module)`` under DDP);
            the last chunk's backward synchronises.
        scale: the loss is multiplied by this before back-propagation (1 / gradient-accumulation steps).

    Returns:
        (loss, parts, scales): the detached batch loss, ``loss_of``'s parts, and the loss scales used.
    """
    n = _batch_size(audio_inputs)
    if _batch_size(text_inputs) != n:
        raise ValueError(f"{n} audio rows but {_batch_size(text_inputs)} text rows")
    bounds = chunk_bounds(n, chunk_size)
    states: list[RngState] = []
    audio_parts, text_parts = [], []
    with torch.no_grad():
        for start, stop in bounds:
            states.append(RngState())
            audio, text, scales = module(_rows(audio_inputs, start, stop), _rows(text_inputs, start, stop))
            audio_parts.append(audio.detach())
            text_parts.append(text.detach())
    audio_all = torch.cat(audio_parts).requires_grad_(True)
    text_all = torch.cat(text_parts).requires_grad_(True)
    scale_leaves = {k: v.detach().clone().requires_grad_(True) for k, v in scales.items()}
    with torch.enable_grad():
        loss, parts = loss_of(audio_all, text_all, scale_leaves)
        (loss * scale).backward()
    audio_grad, text_grad = audio_all.grad, text_all.grad
    scale_grads = {k: v.grad if v.grad is not None else torch.zeros_like(v) for k, v in scale_leaves.items()}
    for i, ((start, stop), state) in enumerate(zip(bounds, states)):
        last = i == len(bounds) - 1
        with (contextlib.nullcontext() if last else no_sync()), state.replay():
            audio, text, scales = module(_rows(audio_inputs, start, stop), _rows(text_inputs, start, stop))
            surrogate = (audio * audio_grad[start:stop].to(audio.dtype)).sum() + \
                (text * text_grad[start:stop].to(text.dtype)).sum()
            if last:  # d loss / d scale, through the module's output so DDP sees every parameter used
                surrogate = surrogate + sum((scales[k] * g.to(scales[k].dtype)).sum() for k, g in scale_grads.items())
            backward(surrogate)
    return loss.detach(), parts, {k: v.detach() for k, v in scales.items()}

