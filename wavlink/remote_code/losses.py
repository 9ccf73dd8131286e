"""Losses for WavLink: symmetric CLIP/InfoNCE (the paper's default), SigLIP, their sum, Matryoshka, and the
label distillation that transfers a sound-event teacher's knowledge (`LabelDistillationLoss`).

This file is copied verbatim into Hugging Face remote-code model folders, so it imports only the standard
library and torch.

Conventions shared by every loss (so a trainer can swap them without changing its call):

* ``forward(audio_embeds, text_embeds, logit_scale, logit_bias=None, group_ids=None, siglip_logit_scale=None)``;
  a loss ignores the keyword arguments it does not use.
* ``audio_embeds`` / ``text_embeds`` are (B, D) and assumed L2-normalised; row i of both is a positive pair.
* ``logit_scale`` is the LOG of the inverse temperature (the learnable scalar lives in the model, as in CLIP);
  the loss applies ``exp``.
* ``group_ids`` (optional, (B,) integer) marks rows that are positives of each other (duplicate captions,
  several captions of one clip). Ids are compared after gathering across ranks, so they must be globally
  meaningful (a clip index or a caption hash), not batch-local positions.
* Under torch.distributed, embeddings are all-gathered so every rank contrasts against the global batch. All
  ranks must hold the same local batch size (use ``drop_last=True``). The loss each rank returns is such that
  the mean over ranks equals the single-process loss on the concatenated batch, and with the default
  ``gather_with_grad=True`` the gradients DDP averages are exactly the single-process gradients.
* Loss arithmetic runs in at least float32 (half-precision logits are upcast) for stability under autocast.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

LOSS_NAMES = ("clip", "siglip", "clip+siglip")

__all__ = [
    "LOSS_NAMES",
    "ClipLoss",
    "CombinedLoss",
    "ComposedDistillationLoss",
    "LabelDistillationLoss",
    "MatryoshkaLoss",
    "SigLipLoss",
    "all_gather_tensor",
    "build_loss",
    "is_sigmoid_loss",
    "logits_to_probabilities",
    "similarity_logits",
    "zero_shot_probabilities",
    "default_matryoshka_dims",
    "gather_features",
    "rank_and_world_size",
    "teacher_distribution",
]


# --------------------------------------------------------------------------------------------------------------
# Distributed helpers
# --------------------------------------------------------------------------------------------------------------


def rank_and_world_size() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) when torch.distributed is unused."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_gather_tensor(x: Tensor, *, with_grad: bool = True, keep_local: bool = True) -> Tensor:
    """Concatenate ``x`` from every rank along dim 0 (rank order); identity when not distributed.

    ``with_grad`` uses the differentiable all_gather, whose backward sums the gradients every rank computed for
    this rank's slot, so cross-rank terms reach the local embeddings. Otherwise a plain all_gather is used and,
    if ``keep_local``, the local (graph-connected) tensor is put back in its slot so at least the local terms
    produce gradients. Non-floating tensors (group ids) always take the plain path.
    """
    rank, world = rank_and_world_size()
    if world == 1:
        return x
    x = x.contiguous()
    if with_grad and x.is_floating_point():
        from torch.distributed.nn.functional import all_gather  # lazy: absent on builds without distributed

        return torch.cat(all_gather(x), dim=0)
    parts = [torch.empty_like(x) for _ in range(world)]
    torch.distributed.all_gather(parts, x)
    if keep_local:
        parts[rank] = x
    return torch.cat(parts, dim=0)


def gather_features(
    audio: Tensor, text: Tensor, *, local_loss: bool = False, gather_with_grad: bool = True
) -> tuple[Tensor, Tensor]:
    """All-gather audio and text embeddings across ranks (open_clip semantics); no-op on a single process.

    With ``gather_with_grad=False`` the local tensor is put back in its slot unless ``local_loss`` (which uses
    the local tensors directly as rows), so local gradients still flow.
    """
    keep_local = not local_loss
    return (
        all_gather_tensor(audio, with_grad=gather_with_grad, keep_local=keep_local),
        all_gather_tensor(text, with_grad=gather_with_grad, keep_local=keep_local),
    )


# --------------------------------------------------------------------------------------------------------------
# Small shared pieces
# --------------------------------------------------------------------------------------------------------------


def _check_inputs(audio: Tensor, text: Tensor, group_ids: Tensor | None) -> None:
    """Fail early with a readable message instead of a shape error deep inside a matmul."""
    if audio.dim() != 2 or text.dim() != 2:
        raise ValueError(
            f"audio_embeds and text_embeds must be (batch, dim); got {tuple(audio.shape)} and {tuple(text.shape)}"
        )
    if audio.shape != text.shape:
        raise ValueError(
            f"audio_embeds {tuple(audio.shape)} and text_embeds {tuple(text.shape)} must have the same shape"
        )
    if group_ids is not None:
        if group_ids.shape != (audio.shape[0],):
            raise ValueError(f"group_ids must have shape ({audio.shape[0]},); got {tuple(group_ids.shape)}")
        if group_ids.is_floating_point() or group_ids.is_complex():
            raise ValueError(f"group_ids must be an integer tensor; got {group_ids.dtype}")


def _upcast(x: Tensor) -> Tensor:
    """Half-precision -> float32 for the loss arithmetic; float32/float64 pass through unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _exp_scale(logit_scale: Tensor | float, device: torch.device, max_scale: float | None) -> Tensor:
    """exp(logit_scale) as a 0-d tensor (at least float32), clamped to ``max_scale`` (CLIP caps it at 100).

    The clamp has zero gradient above the cap, so trainers should also clamp the parameter itself (as CLIP does)
    to keep it from drifting there.
    """
    if isinstance(logit_scale, Tensor):
        if logit_scale.numel() != 1:
            raise ValueError(f"logit_scale must be a scalar; got shape {tuple(logit_scale.shape)}")
        scale = _upcast(logit_scale.reshape(())).exp()
    else:
        scale = torch.tensor(math.exp(float(logit_scale)), device=device)
    if max_scale is not None:
        scale = scale.clamp(max=max_scale)
    return scale


def _as_scalar(value: Tensor | float, device: torch.device, name: str) -> Tensor:
    """A 0-d tensor (at least float32) from a learnable scalar or a plain number (keeps the autograd link)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar; got shape {tuple(value.shape)}")
        return _upcast(value.reshape(()))
    return torch.tensor(float(value), device=device)


def _check_chunk_size(chunk_size: int | None) -> int | None:
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive int or None; got {chunk_size!r}")
    return None if chunk_size is None else int(chunk_size)


def _same_group_negatives(
    row_groups: Tensor, col_groups: Tensor, labels: Tensor, col_start: int, num_cols: int
) -> Tensor:
    """Bool (R, C) mask of off-target columns sharing the row's group: these are not real negatives."""
    cols = torch.arange(col_start, col_start + num_cols, device=labels.device)
    same = row_groups[:, None] == col_groups[None, :]
    return same & (cols[None, :] != labels[:, None])


def _prepare(
    audio: Tensor,
    text: Tensor,
    group_ids: Tensor | None,
    *,
    local_rows: bool,
    gather_with_grad: bool,
    gather_audio_rows: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None, Tensor | None, Tensor]:
    """Gather and pick (rows_audio, rows_text, cols_audio, cols_text, row_groups, col_groups, labels).

    ``local_rows``: rows are this rank's examples and targets sit at ``rank * B + i`` in the gathered columns
    (open_clip ``local_loss``); otherwise rows are the whole gathered batch and targets are the diagonal.
    """
    rank, world = rank_and_world_size()
    batch = audio.shape[0]
    if world == 1:
        labels = torch.arange(batch, device=audio.device)
        return audio, text, audio, text, group_ids, group_ids, labels
    if gather_audio_rows:
        all_audio, all_text = gather_features(
            audio, text, local_loss=local_rows, gather_with_grad=gather_with_grad
        )
    else:  # SigLIP only needs the text columns gathered
        all_audio = audio
        all_text = all_gather_tensor(text, with_grad=gather_with_grad, keep_local=True)
    if all_text.shape[0] != world * batch:
        raise ValueError(
            f"gathered batch has {all_text.shape[0]} rows, expected world_size * local_batch = {world} * {batch}; "
            "every rank must use the same local batch size (drop_last=True)"
        )
    all_groups = None if group_ids is None else all_gather_tensor(group_ids, with_grad=False)
    if local_rows:
        labels = torch.arange(batch, device=audio.device) + rank * batch
        return audio, text, all_audio, all_text, group_ids, all_groups, labels
    labels = torch.arange(all_audio.shape[0], device=audio.device)
    return all_audio, all_text, all_audio, all_text, all_groups, all_groups, labels


# --------------------------------------------------------------------------------------------------------------
# CLIP / InfoNCE
# --------------------------------------------------------------------------------------------------------------


def _block_logsumexp(
    rows: Tensor,
    cols: Tensor,
    scale: Tensor,
    labels: Tensor,
    row_groups: Tensor | None,
    col_groups: Tensor | None,
    col_start: int,
) -> Tensor:
    """Row-wise logsumexp of one (masked) column block of the logits matrix."""
    logits = _upcast(rows @ cols.T) * scale
    if row_groups is not None and col_groups is not None:
        mask = _same_group_negatives(row_groups, col_groups, labels, col_start, cols.shape[0])
        logits = logits.masked_fill(mask, float("-inf"))
    return torch.logsumexp(logits, dim=1)


def _chunked_cross_entropy(
    rows: Tensor,
    cols: Tensor,
    scale: Tensor,
    labels: Tensor,
    row_groups: Tensor | None,
    col_groups: Tensor | None,
    chunk_size: int,
) -> Tensor:
    """Cross-entropy of ``scale * rows @ cols.T`` without materialising the whole matrix for backward.

    Each column block is checkpointed (recomputed in backward), so peak memory is one (R, chunk) block.
    """
    lse_parts = []
    for start in range(0, cols.shape[0], chunk_size):
        block_groups = None if col_groups is None else col_groups[start : start + chunk_size]
        lse_parts.append(
            checkpoint(
                _block_logsumexp,
                rows,
                cols[start : start + chunk_size],
                scale,
                labels,
                row_groups,
                block_groups,
                start,
                use_reentrant=False,
            )
        )
    lse = torch.logsumexp(torch.stack(lse_parts, dim=1), dim=1)
    positives = _upcast((rows * cols[labels]).sum(dim=-1)) * scale
    return (lse - positives).mean()


class ClipLoss(nn.Module):
    """Symmetric InfoNCE with learnable temperature (CLIP; the WavLink paper's best and default objective).

    ``loss = (CE(audio->text rows) + CE(text->audio rows)) / 2`` over the (gathered) batch.

    Args:
        local_loss: under torch.distributed, use only this rank's rows against all gathered columns (B x N
            instead of N x N; less compute, same mean-over-ranks value). Pair it with ``gather_with_grad=True``:
            without it the gathered columns carry no gradient back to the ranks that own them.
        gather_with_grad: differentiable all_gather (exact gradients). With ``False`` and ``local_loss=False``
            each rank still gets the exact gradient for its own examples, but DDP's averaging then scales the
            embedding gradients by 1/world_size relative to ``logit_scale`` (harmless under Adam).
        max_logit_scale: cap on ``exp(logit_scale)`` (100 as in CLIP); None disables it.
        chunk_size: if set, compute the log-partition over column blocks of this size with activation
            checkpointing (same value and gradients; peak memory one block instead of the full matrix).

    Same-group handling (``group_ids``): the other same-group off-diagonal logits are masked to -inf, so each
    row keeps its own diagonal as the single target and duplicates are neither negatives nor extra positives.
    """

    def __init__(
        self,
        local_loss: bool = False,
        gather_with_grad: bool = True,
        max_logit_scale: float | None = 100.0,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.local_loss = local_loss
        self.gather_with_grad = gather_with_grad
        self.max_logit_scale = max_logit_scale
        self.chunk_size = _check_chunk_size(chunk_size)

    def get_logits(
        self,
        audio_embeds: Tensor,
        text_embeds: Tensor,
        logit_scale: Tensor | float,
        group_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(logits_per_audio, logits_per_text, labels) after gathering and same-group masking."""
        _check_inputs(audio_embeds, text_embeds, group_ids)
        rows_a, rows_t, cols_a, cols_t, row_g, col_g, labels = _prepare(
            audio_embeds,
            text_embeds,
            group_ids,
            local_rows=self.local_loss,
            gather_with_grad=self.gather_with_grad,
        )
        scale = _exp_scale(logit_scale, audio_embeds.device, self.max_logit_scale)
        logits_per_audio = _upcast(rows_a @ cols_t.T) * scale
        if rows_a is cols_a and rows_t is cols_t:  # square matrix: text->audio is the transpose
            logits_per_text = logits_per_audio.T
        else:
            logits_per_text = _upcast(rows_t @ cols_a.T) * scale
        if row_g is not None and col_g is not None:
            mask = _same_group_negatives(row_g, col_g, labels, 0, cols_t.shape[0])
            logits_per_audio = logits_per_audio.masked_fill(mask, float("-inf"))
            logits_per_text = logits_per_text.masked_fill(mask, float("-inf"))
        return logits_per_audio, logits_per_text, labels

    def forward(
        self,
        audio_embeds: Tensor,
        text_embeds: Tensor,
        logit_scale: Tensor | float,
        logit_bias: Tensor | float | None = None,
        group_ids: Tensor | None = None,
        siglip_logit_scale: Tensor | float | None = None,
    ) -> Tensor:
        """Scalar loss; ``logit_bias`` and ``siglip_logit_scale`` are ignored (a bias cancels in softmax)."""
        if self.chunk_size is None:
            logits_per_audio, logits_per_text, labels = self.get_logits(
                audio_embeds, text_embeds, logit_scale, group_ids
            )
            return 0.5 * (
                F.cross_entropy(logits_per_audio, labels) + F.cross_entropy(logits_per_text, labels)
            )
        _check_inputs(audio_embeds, text_embeds, group_ids)
        rows_a, rows_t, cols_a, cols_t, row_g, col_g, labels = _prepare(
            audio_embeds,
            text_embeds,
            group_ids,
            local_rows=self.local_loss,
            gather_with_grad=self.gather_with_grad,
        )
        scale = _exp_scale(logit_scale, audio_embeds.device, self.max_logit_scale)
        a2t = _chunked_cross_entropy(rows_a, cols_t, scale, labels, row_g, col_g, self.chunk_size)
        t2a = _chunked_cross_entropy(rows_t, cols_a, scale, labels, row_g, col_g, self.chunk_size)
        return 0.5 * (a2t + t2a)


# --------------------------------------------------------------------------------------------------------------
# SigLIP
# --------------------------------------------------------------------------------------------------------------


def _siglip_block_sum(
    rows: Tensor,
    cols: Tensor,
    scale: Tensor,
    bias: Tensor,
    labels: Tensor,
    row_groups: Tensor | None,
    col_groups: Tensor | None,
    col_start: int,
) -> Tensor:
    """Sum of -log sigmoid(z * logit) over one column block; z = +1 for positives, -1 otherwise."""
    logits = _upcast(rows @ cols.T) * scale + bias
    cols_idx = torch.arange(col_start, col_start + cols.shape[0], device=labels.device)
    positive = cols_idx[None, :] == labels[:, None]
    if row_groups is not None and col_groups is not None:
        positive = positive | (row_groups[:, None] == col_groups[None, :])
    signs = torch.where(positive, 1.0, -1.0).to(logits.dtype)
    return -F.logsigmoid(signs * logits).sum()


class SigLipLoss(nn.Module):
    """Pairwise sigmoid loss with learnable scale and bias (Zhai et al., 2023); WavLink's alternative objective.

    ``logits = exp(logit_scale) * a @ t.T + logit_bias``; targets +1 on matching pairs (and same-group pairs),
    -1 elsewhere; ``loss = -sum(log sigmoid(target * logits)) / B``.

    Distributed: this rank's audio rows against all gathered text columns, normalised by the local batch size,
    so the mean over ranks equals the single-process loss on the concatenated batch (every pair is counted
    exactly once across ranks). Keep ``gather_with_grad=True`` for exact text gradients; with ``False`` text
    embeddings only receive gradients from this rank's rows.

    Args:
        gather_with_grad: differentiable all_gather of the text embeddings.
        chunk_size: compute over column blocks of this size, each checkpointed (identical value and gradients,
            peak memory one (B, chunk) block).
        max_logit_scale: optional cap on ``exp(logit_scale)`` (SigLIP uses none).
    """

    def __init__(
        self,
        gather_with_grad: bool = True,
        chunk_size: int | None = None,
        max_logit_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.gather_with_grad = gather_with_grad
        self.chunk_size = _check_chunk_size(chunk_size)
        self.max_logit_scale = max_logit_scale

    def forward(
        self,
        audio_embeds: Tensor,
        text_embeds: Tensor,
        logit_scale: Tensor | float,
        logit_bias: Tensor | float | None = None,
        group_ids: Tensor | None = None,
        siglip_logit_scale: Tensor | float | None = None,
    ) -> Tensor:
        """Scalar loss. ``logit_scale`` is used as given; ``siglip_logit_scale`` is for CombinedLoss only."""
        if logit_bias is None:
            raise ValueError(
                "SigLipLoss needs logit_bias (a learnable scalar; SigLIP initialises it to -10 and the "
                "log-scale to log(10))"
            )
        _check_inputs(audio_embeds, text_embeds, group_ids)
        rows, _, _, cols, row_g, col_g, labels = _prepare(
            audio_embeds,
            text_embeds,
            group_ids,
            local_rows=True,
            gather_with_grad=self.gather_with_grad,
            gather_audio_rows=False,
        )
        device = audio_embeds.device
        scale = _exp_scale(logit_scale, device, self.max_logit_scale)
        bias = _as_scalar(logit_bias, device, "logit_bias")
        if self.chunk_size is None:
            total = _siglip_block_sum(rows, cols, scale, bias, labels, row_g, col_g, 0)
        else:
            total = None
            for start in range(0, cols.shape[0], self.chunk_size):
                block_groups = None if col_g is None else col_g[start : start + self.chunk_size]
                block = checkpoint(
                    _siglip_block_sum,
                    rows,
                    cols[start : start + self.chunk_size],
                    scale,
                    bias,
                    labels,
                    row_g,
                    block_groups,
                    start,
                    use_reentrant=False,
                )
                total = block if total is None else total + block
        return total / rows.shape[0]


# --------------------------------------------------------------------------------------------------------------
# Combination and Matryoshka
# --------------------------------------------------------------------------------------------------------------


class CombinedLoss(nn.Module):
    """``clip_weight * ClipLoss + siglip_weight * SigLipLoss``.

    SigLIP gets its own temperature via ``siglip_logit_scale`` (falls back to ``logit_scale``) and uses
    ``logit_bias``; CLIP uses ``logit_scale`` only.
    """

    def __init__(
        self,
        clip_weight: float = 1.0,
        siglip_weight: float = 1.0,
        *,
        local_loss: bool = False,
        gather_with_grad: bool = True,
        max_logit_scale: float | None = 100.0,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.clip_weight = float(clip_weight)
        self.siglip_weight = float(siglip_weight)
        self.clip = ClipLoss(
            local_loss=local_loss,
            gather_with_grad=gather_with_grad,
            max_logit_scale=max_logit_scale,
            chunk_size=chunk_size,
        )
        self.siglip = SigLipLoss(gather_with_grad=gather_with_grad, chunk_size=chunk_size)

    def forward(
        self,
        audio_embeds: Tensor,
        text_embeds: Tensor,
        logit_scale: Tensor | float,
        logit_bias: Tensor | float | None = None,
        group_ids: Tensor | None = None,
        siglip_logit_scale: Tensor | float | None = None,
    ) -> Tensor:
        clip = self.clip(audio_embeds, text_embeds, logit_scale, group_ids=group_ids)
        siglip_scale = logit_scale if siglip_logit_scale is None else siglip_logit_scale
        siglip = self.siglip(audio_embeds, text_embeds, siglip_scale, logit_bias, group_ids=group_ids)
        return self.clip_weight * clip + self.siglip_weight * siglip


def default_matryoshka_dims(dim: int, levels: int = 4) -> list[int]:
    """The paper's nesting: d, d/2, d/4, d/8 (``levels`` halvings, stopping before a width below 1)."""
    if dim < 1 or levels < 1:
        raise ValueError(f"dim and levels must be positive; got dim={dim}, levels={levels}")
    return [dim >> i for i in range(levels) if dim >> i >= 1]


class MatryoshkaLoss(nn.Module):
    """Matryoshka supervision: the base loss averaged over nested prefixes of the embedding.

    For each ``d`` in ``dims`` the first ``d`` channels of both embeddings are re-L2-normalised (the paper does
    not state this; it is standard MRL practice and matches how truncated embeddings are retrieved, by cosine)
    and passed to ``base_loss``. Result: ``sum_d w_d * loss_d / sum_d w_d``; default equal weights = plain
    mean, as in the paper (dims d, d/2, d/4, d/8).
    """

    def __init__(
        self, base_loss: nn.Module, dims: Sequence[int], weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        dims = list(dims)
        if not dims:
            raise ValueError("MatryoshkaLoss needs at least one dim")
        for i, d in enumerate(dims):
            try:
                dims[i] = operator.index(d)  # accepts numpy / torch integers, rejects floats
            except TypeError:
                raise ValueError(f"Matryoshka dims must be positive ints; got {d!r} in {dims}") from None
            if isinstance(d, bool) or dims[i] < 1:
                raise ValueError(f"Matryoshka dims must be positive ints; got {d!r} in {dims}")
        if len(set(dims)) != len(dims):
            raise ValueError(f"Matryoshka dims must be unique; got {dims}")
        if weights is None:
            weights = [1.0] * len(dims)
        weights = [float(w) for w in weights]
        if len(weights) != len(dims):
            raise ValueError(f"got {len(weights)} Matryoshka weights for {len(dims)} dims")
        if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            raise ValueError(
                f"Matryoshka weights must be finite, non-negative and not all zero; got {weights}"
            )
        self.base_loss = base_loss
        self.dims = dims
        self.weights = weights

    def forward(
        self,
        audio_embeds: Tensor,
        text_embeds: Tensor,
        logit_scale: Tensor | float,
        logit_bias: Tensor | float | None = None,
        group_ids: Tensor | None = None,
        siglip_logit_scale: Tensor | float | None = None,
        return_per_dim: bool = False,
    ) -> Tensor | tuple[Tensor, dict[int, Tensor]]:
        """Weighted mean over dims; with ``return_per_dim`` also {dim: detached loss} for logging."""
        width = audio_embeds.shape[-1]
        too_wide = [d for d in self.dims if d > width]
        if too_wide:
            raise ValueError(f"Matryoshka dims {too_wide} exceed the embedding width {width}")
        total = None
        per_dim: dict[int, Tensor] = {}
        for d, w in zip(self.dims, self.weights):
            audio_d = F.normalize(audio_embeds[:, :d], dim=-1)
            text_d = F.normalize(text_embeds[:, :d], dim=-1)
            loss_d = self.base_loss(
                audio_d,
                text_d,
                logit_scale,
                logit_bias=logit_bias,
                group_ids=group_ids,
                siglip_logit_scale=siglip_logit_scale,
            )
            per_dim[d] = loss_d.detach()
            total = w * loss_d if total is None else total + w * loss_d
        total = total / sum(self.weights)
        return (total, per_dim) if return_per_dim else total


def teacher_distribution(scores: Tensor, top_k: int | None = None, power: float = 1.0) -> Tensor:
    """Turn a multi-label teacher's per-class scores (B, C) into target distributions (rows sum to 1).

    A sigmoid tagger such as YAMNet gives every class an independent probability; the distillation target is
    those scores raised to ``power`` (> 1 sharpens), restricted to the ``top_k`` best classes (None: all), and
    normalised. A row whose scores are all zero stays zero (the loss skips it).
    """
    scores = _upcast(scores).clamp_min(0)
    if power != 1.0:
        scores = scores.pow(power)
    if top_k is not None and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]
        scores = torch.where(scores >= kth, scores, torch.zeros_like(scores))
    total = scores.sum(-1, keepdim=True)
    return torch.where(total > 0, scores / total.clamp_min(1e-12), torch.zeros_like(scores))


class LabelDistillationLoss(nn.Module):
    """KL(teacher || student) over a fixed set of named classes, beside the contrastive loss.

    The student's distribution over C classes is the softmax of the cosine similarities between each audio
    embedding and the text embeddings of the class names, divided by ``temperature``; the target is the
    teacher's scores through `teacher_distribution`. This puts the teacher's knowledge (e.g. YAMNet's 521
    AudioSet classes) into the audio-to-text geometry the model is used with at zero-shot time. With ``dims``
    the loss is averaged over nested prefixes (each re-normalised), as Matryoshka supervision does.

    forward(audio_embeds (B, D), label_embeds (C, D), teacher_scores (B, C), mask (B,) bool or None) -> scalar;
    rows with a False mask or an all-zero target are ignored (a batch with none left gives 0 with a graph).
    """

    def __init__(self, temperature: float = 0.1, top_k: int | None = None, power: float = 1.0,
                 dims: Sequence[int] | None = None) -> None:
        super().__init__()
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"temperature must be positive, got {temperature}")
        if top_k is not None and (isinstance(top_k, bool) or int(top_k) < 1):
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
        if not (power > 0 and math.isfinite(power)):
            raise ValueError(f"power must be positive, got {power}")
        self.temperature = float(temperature)
        self.top_k = None if top_k is None else int(top_k)
        self.power = float(power)
        self.dims = [int(d) for d in dims] if dims else None

    def forward(self, audio_embeds: Tensor, label_embeds: Tensor, teacher_scores: Tensor,
                mask: Tensor | None = None) -> Tensor:
        if audio_embeds.ndim != 2 or label_embeds.ndim != 2 or audio_embeds.shape[1] != label_embeds.shape[1]:
            raise ValueError(f"expected (B, D) audio and (C, D) label embeddings, got {tuple(audio_embeds.shape)} "
                             f"and {tuple(label_embeds.shape)}")
        if teacher_scores.shape != (audio_embeds.shape[0], label_embeds.shape[0]):
            raise ValueError(f"teacher scores must be (B, C) = {(audio_embeds.shape[0], label_embeds.shape[0])}, "
                             f"got {tuple(teacher_scores.shape)}")
        target = teacher_distribution(teacher_scores, self.top_k, self.power)
        keep = target.sum(-1) > 0
        if mask is not None:
            keep = keep & mask.to(keep.device).bool()
        if not bool(keep.any()):
            return audio_embeds.sum() * 0.0
        audio, labels, target = _upcast(audio_embeds[keep]), _upcast(label_embeds), target[keep]
        dims = self.dims or [audio.shape[1]]
        total = audio.new_zeros(())
        for d in dims:
            a, t = F.normalize(audio[:, :d], dim=-1), F.normalize(labels[:, :d], dim=-1)
            log_q = F.log_softmax(a @ t.T / self.temperature, dim=-1)
            # sum_c p log(p / q), with 0 log 0 = 0
            kl = (target * (torch.log(target.clamp_min(1e-12)) - log_q)).sum(-1)
            total = total + kl.mean()
        return total / len(dims)


def composed_targets(label_embeds: Tensor, teacher_scores: Tensor, dim: int | None = None) -> Tensor:
    """The teacher-composed embedding of each clip: its class scores times the class names' text embeddings,
    summed and L2-normalised (on the first ``dim`` channels). (B, C) x (C, D) -> (B, dim or D)."""
    labels = _upcast(label_embeds)
    if dim is not None:
        labels = labels[:, :dim]
    return F.normalize(_upcast(teacher_scores).clamp_min(0) @ labels, dim=-1)


class ComposedDistillationLoss(nn.Module):
    """Cosine distance between each audio embedding and its teacher-composed embedding.

    The composed embedding (`composed_targets`) puts a multi-label teacher's whole score vector into the text
    space: with YAMNet's 521 AudioSet classes and the model's own text tower it is a zero-training audio
    embedding that already classifies unseen classes well. Regressing onto it gives every clip a dense target,
    labelled or not, in the geometry used at zero-shot time. With ``dims`` the loss is averaged over nested
    prefixes (the target composed on each prefix), as Matryoshka supervision does.

    forward(audio_embeds (B, D), label_embeds (C, D), teacher_scores (B, C), mask (B,) bool or None) -> scalar;
    rows with a False mask or all-zero scores are ignored (none left: 0 with a graph).
    """

    def __init__(self, dims: Sequence[int] | None = None) -> None:
        super().__init__()
        self.dims = [int(d) for d in dims] if dims else None

    def forward(self, audio_embeds: Tensor, label_embeds: Tensor, teacher_scores: Tensor,
                mask: Tensor | None = None) -> Tensor:
        if teacher_scores.shape != (audio_embeds.shape[0], label_embeds.shape[0]):
            raise ValueError(f"teacher scores must be (B, C) = {(audio_embeds.shape[0], label_embeds.shape[0])}, "
                             f"got {tuple(teacher_scores.shape)}")
        keep = teacher_scores.clamp_min(0).sum(-1) > 0
        if mask is not None:
            keep = keep & mask.to(keep.device).bool()
        if not bool(keep.any()):
            return audio_embeds.sum() * 0.0
        audio, scores = _upcast(audio_embeds[keep]), teacher_scores[keep]
        dims = self.dims or [audio.shape[1]]
        total = audio.new_zeros(())
        for d in dims:
            target = composed_targets(label_embeds, scores, d)
            total = total + (1.0 - (F.normalize(audio[:, :d], dim=-1) * target).sum(-1)).mean()
        return total / len(dims)


def similarity_logits(
    audio_embeds: Tensor,
    text_embeds: Tensor,
    loss_type: str,
    logit_scale: Tensor,
    logit_bias: Tensor | None = None,
    siglip_logit_scale: Tensor | None = None,
) -> Tensor:
    """(A, T) audio-to-text logits in the form the model was trained with, from `loss_scales(loss_type)`.

    SigLIP-trained models give ``exp(t') * cos + b`` (read with a sigmoid, as transformers' SigLIP does); CLIP
    and CLIP+SigLIP models give CLIP's ``min(exp(t), 100) * cos`` (read with a softmax over the texts; for the
    combination the softmax-trained scale is the one whose probabilities sum to one).
    """
    sims = audio_embeds @ text_embeds.t()
    if str(loss_type).strip().lower().replace(" ", "") == "siglip":
        if logit_bias is None:
            raise ValueError("SigLIP logits need logit_bias")
        return logit_scale.exp().to(sims.dtype) * sims + logit_bias.to(sims.dtype)
    return logit_scale.exp().clamp(max=100).to(sims.dtype) * sims


def is_sigmoid_loss(loss_type: str) -> bool:
    """Whether a model trained with `loss_type` reads its logits one sigmoid per pair (SigLIP) rather than with a
    softmax over the candidates (CLIP; CLIP+SigLIP, whose softmax-trained scale `similarity_logits` uses)."""
    return str(loss_type).strip().lower().replace(" ", "") == "siglip"


def logits_to_probabilities(logits: Tensor, loss_type: str) -> Tensor:
    """Zero-shot label probabilities from `similarity_logits` output, read as the loss was trained: a softmax over
    the last axis (the labels) for CLIP-trained models, an independent sigmoid per label for SigLIP-trained ones
    (those need not sum to one: a clip may match several labels, or none)."""
    logits = logits.float()
    return torch.sigmoid(logits) if is_sigmoid_loss(loss_type) else torch.softmax(logits, dim=-1)


def zero_shot_probabilities(audio_embeds: Tensor, label_embeds: Tensor, model: nn.Module) -> Tensor:
    """(A, L) probabilities of L candidate labels for A clips on the model's trained logit scale (and bias): the one
    score scale of ``wavlink classify``, the web app and the folder's zero-shot pipeline. Embeddings are
    L2-normalised here; `model` is a WavLink / Omni model (its ``config.loss_type`` and ``loss_scales``)."""
    scales_of = getattr(model, "loss_scales", None)
    if scales_of is None:
        raise ValueError(f"{type(model).__name__} has no trained logit scale (loss_scales), so its cosines cannot "
                         "be read as probabilities; use raw cosines (wavlink classify --scores cosine)")
    loss_type = getattr(model.config, "loss_type", "clip")
    scales = {k: v.detach().float().cpu() for k, v in scales_of(loss_type).items()}
    audio = nn.functional.normalize(torch.as_tensor(audio_embeds).float().cpu(), dim=-1)
    labels = nn.functional.normalize(torch.as_tensor(label_embeds).float().cpu(), dim=-1)
    with torch.no_grad():
        return logits_to_probabilities(similarity_logits(audio, labels, loss_type, **scales), loss_type)


def build_loss(name: str, matryoshka_dims: Sequence[int] | None = None, **kw) -> nn.Module:
    """Loss from its config name ("clip", "siglip", "clip+siglip"), optionally wrapped in MatryoshkaLoss.

    ``kw`` goes to the loss constructor, except ``matryoshka_weights`` which goes to MatryoshkaLoss.
    """
    key = str(name).strip().lower().replace(" ", "")
    weights = kw.pop("matryoshka_weights", None)
    classes = {"clip": ClipLoss, "siglip": SigLipLoss, "clip+siglip": CombinedLoss}
    if key not in classes:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(LOSS_NAMES)}")
    cls = classes[key]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise ValueError(f"option(s) {unknown} do not apply to the {key!r} loss; its options: {', '.join(allowed)}")
    loss: nn.Module = cls(**kw)
    if matryoshka_dims:
        return MatryoshkaLoss(loss, matryoshka_dims, weights)
    if weights is not None:
        raise ValueError("matryoshka_weights given without matryoshka_dims")
    return loss
