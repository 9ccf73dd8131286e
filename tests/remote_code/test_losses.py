"""Tests for wavlink.remote_code.losses: references, simulated multi-rank gathering, chunking, Matryoshka, duplicates."""

from __future__ import annotations

import ast
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn_f
import torch.nn.functional as F

# losses.py is shipped verbatim in remote-code model folders, so load it as a standalone file (no `wavlink`
# package around it, exactly as the Hub loads it); this also skips the package's heavy imports.
LOSSES_PATH = Path(__file__).resolve().parents[2] / "wavlink" / "remote_code" / "losses.py"
_spec = importlib.util.spec_from_file_location("wavlink_losses_standalone", LOSSES_PATH)
losses = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(losses)

LOSS_NAMES = losses.LOSS_NAMES
ClipLoss = losses.ClipLoss
CombinedLoss = losses.CombinedLoss
MatryoshkaLoss = losses.MatryoshkaLoss
SigLipLoss = losses.SigLipLoss
all_gather_tensor = losses.all_gather_tensor
build_loss = losses.build_loss
default_matryoshka_dims = losses.default_matryoshka_dims
gather_features = losses.gather_features
rank_and_world_size = losses.rank_and_world_size

DT = torch.float64  # exact comparisons; the losses keep float64 as is


def embeds(batch: int = 8, dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(batch, dim, generator=g, dtype=DT), dim=-1)
    t = F.normalize(torch.randn(batch, dim, generator=g, dtype=DT), dim=-1)
    return a, t


def scalar(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=DT, requires_grad=True)


def ref_clip(a: torch.Tensor, t: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    logits = logit_scale.exp() * a @ t.T
    labels = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def ref_siglip(a, t, logit_scale, logit_bias, group_ids=None) -> torch.Tensor:
    logits = logit_scale.exp() * a @ t.T + logit_bias
    positive = torch.eye(a.shape[0], dtype=torch.bool)
    if group_ids is not None:
        positive = positive | (group_ids[:, None] == group_ids[None, :])
    labels = positive.to(DT) * 2 - 1
    return -F.logsigmoid(labels * logits).sum() / a.shape[0]


def grads(loss: torch.Tensor, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(loss, inputs)


def assert_close(x, y, **kw) -> None:
    kw.setdefault("rtol", 1e-9)
    kw.setdefault("atol", 1e-11)
    torch.testing.assert_close(x, y, **kw)


def test_losses_file_imports_only_stdlib_and_torch():
    tree = ast.parse(LOSSES_PATH.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports break remote-code loading"
            roots.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"torch", "__future__"}
    assert roots <= allowed, roots - allowed


# --------------------------------------------------------------------------------------------------------------
# CLIP
# --------------------------------------------------------------------------------------------------------------


def test_clip_matches_cross_entropy_reference_value_and_grads():
    a, t = embeds()
    a.requires_grad_()
    t.requires_grad_()
    s1, s2 = scalar(math.log(14.0)), scalar(math.log(14.0))
    ours = ClipLoss()(a, t, s1)
    ref = ref_clip(a, t, s2)
    assert_close(ours, ref)
    for g_ours, g_ref in zip(grads(ours, a, t, s1), grads(ref, a, t, s2)):
        assert_close(g_ours, g_ref)


def test_clip_hand_computed_2x2():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=DT)
    t = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=DT)
    # scale 2 -> logits [[2, 1.2], [0, 1.6]]; rows: a->t, columns: t->a
    a2t = [math.log(1 + math.exp(-0.8)), math.log(1 + math.exp(-1.6))]
    t2a = [math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(-0.4))]
    expected = 0.5 * (sum(a2t) / 2 + sum(t2a) / 2)
    got = ClipLoss()(a, t, torch.tensor(math.log(2.0), dtype=DT))
    assert got.item() == pytest.approx(expected, rel=1e-12)
    # a plain float logit_scale works too
    assert ClipLoss()(a, t, math.log(2.0)).item() == pytest.approx(expected, rel=1e-6)


def test_clip_scale_is_clamped_at_100():
    a, t = embeds()
    big = scalar(math.log(1000.0))
    loss = ClipLoss()(a, t, big)
    assert_close(loss, ref_clip(a, t, torch.tensor(math.log(100.0), dtype=DT)))
    (g,) = grads(loss, big)
    assert g.item() == 0.0
    unclamped = ClipLoss(max_logit_scale=None)(a, t, big)
    assert_close(unclamped, ref_clip(a, t, big.detach()))


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 100])
def test_clip_chunked_equals_reference_forward_and_backward(chunk_size):
    a, t = embeds(batch=8)
    a.requires_grad_()
    t.requires_grad_()
    groups = torch.tensor([0, 1, 2, 1, 4, 5, 0, 7])
    s1, s2 = scalar(math.log(20.0)), scalar(math.log(20.0))
    ref = ClipLoss()(a, t, s1, group_ids=groups)
    chunked = ClipLoss(chunk_size=chunk_size)(a, t, s2, group_ids=groups)
    assert_close(chunked, ref)
    for g_c, g_r in zip(grads(chunked, a, t, s2), grads(ref, a, t, s1)):
        assert_close(g_c, g_r)


def test_logits_are_upcast_from_half_precision():
    a, t = embeds()
    loss = ClipLoss()(a.bfloat16(), t.bfloat16(), torch.tensor(math.log(10.0), dtype=torch.bfloat16))
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(
        ref_clip(a, t, torch.tensor(math.log(10.0), dtype=DT)).item(), rel=2e-2
    )


# --------------------------------------------------------------------------------------------------------------
# Simulated torch.distributed (all ranks in one process)
# --------------------------------------------------------------------------------------------------------------


class FakeWorld:
    """Pretends to be `world` ranks. Tensors are registered whole and split into per-rank shards.

    The differentiable all_gather returns live views of the registered leaves, so backpropagating rank r's loss
    deposits gradients in every rank's slot, which is what the real reduce-scatter backward delivers. The plain
    all_gather returns detached copies, like the real collective.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, world: int) -> None:
        self.world = world
        self.rank = 0
        self.shards: list[list[torch.Tensor]] = []
        self.calls = {"with_grad": 0, "plain": 0}
        monkeypatch.setattr(dist, "is_available", lambda: True)
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "get_world_size", lambda group=None: self.world)
        monkeypatch.setattr(dist, "get_rank", lambda group=None: self.rank)
        monkeypatch.setattr(dist, "all_gather", self.all_gather)
        monkeypatch.setattr(dist_nn_f, "all_gather", self.all_gather_with_grad)

    def shard(self, full: torch.Tensor) -> list[torch.Tensor]:
        parts = list(full.chunk(self.world))
        self.shards.append(parts)
        return parts

    def _lookup(self, x: torch.Tensor) -> list[torch.Tensor]:
        for parts in self.shards:
            local = parts[self.rank]
            if local.shape == x.shape and local.dtype == x.dtype and torch.equal(local.detach(), x.detach()):
                return parts
        raise AssertionError("all_gather called with a tensor that is not a registered local shard")

    def all_gather_with_grad(self, x, group=None):
        self.calls["with_grad"] += 1
        return tuple(self._lookup(x))

    def all_gather(self, out, x, group=None, async_op=False):
        self.calls["plain"] += 1
        assert len(out) == self.world
        for o, p in zip(out, self._lookup(x)):
            o.copy_(p.detach())


def run_ranks(fw: FakeWorld, loss_fn, a_full, t_full, groups=None, **kw) -> list[torch.Tensor]:
    """Each simulated rank computes its loss on its shard; returns the per-rank losses (graph attached)."""
    a_parts, t_parts = fw.shard(a_full), fw.shard(t_full)
    g_parts = fw.shard(groups) if groups is not None else [None] * fw.world
    losses = []
    for r in range(fw.world):
        fw.rank = r
        losses.append(loss_fn(a_parts[r], t_parts[r], group_ids=g_parts[r], **kw))
    fw.rank = 0
    return losses


def leaves(batch: int = 8, dim: int = 16, seed: int = 0):
    a, t = embeds(batch, dim, seed)
    return a.requires_grad_(), t.requires_grad_()


def test_not_distributed_is_a_no_op():
    a, t = embeds()
    assert rank_and_world_size() == (0, 1)
    ga, gt = gather_features(a, t)
    assert ga is a and gt is t
    assert all_gather_tensor(a, with_grad=False) is a


def test_gather_features_with_fake_world(monkeypatch):
    fw = FakeWorld(monkeypatch, 2)
    a, t = leaves()
    a_parts, t_parts = fw.shard(a), fw.shard(t)
    fw.rank = 1
    assert rank_and_world_size() == (1, 2)
    ga, gt = gather_features(a_parts[1], t_parts[1], gather_with_grad=True)
    assert_close(ga, a) and assert_close(gt, t)
    assert fw.calls == {"with_grad": 2, "plain": 0}
    # plain gather: the local slot is the graph-connected local tensor, other slots carry no gradient
    ga, _ = gather_features(a_parts[1], t_parts[1], gather_with_grad=False)
    assert_close(ga, a)
    (g,) = grads(ga.sum(), a)
    assert torch.equal(g[:4], torch.zeros_like(g[:4])) and torch.equal(g[4:], torch.ones_like(g[4:]))
    # local_loss with the plain gather leaves every slot detached (rows use the local tensors directly)
    ga, _ = gather_features(a_parts[1], t_parts[1], local_loss=True, gather_with_grad=False)
    assert not ga.requires_grad


@pytest.mark.parametrize("local_loss", [False, True])
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_clip_gathered_matches_single_process(monkeypatch, local_loss, chunk_size):
    a, t = leaves()
    s_full, s_ranks = scalar(math.log(10.0)), scalar(math.log(10.0))
    full = ClipLoss()(a, t, s_full)
    g_full = grads(full, a, t, s_full)

    fw = FakeWorld(monkeypatch, 2)
    loss = ClipLoss(local_loss=local_loss, gather_with_grad=True, chunk_size=chunk_size)
    per_rank = run_ranks(fw, loss, a, t, logit_scale=s_ranks)
    mean = torch.stack(per_rank).mean()  # what DDP optimises: gradients are averaged over ranks
    assert_close(mean, full)
    if not local_loss:  # every rank computes the full N x N loss
        for value in per_rank:
            assert_close(value, full)
    for g_r, g_f in zip(grads(mean, a, t, s_ranks), g_full):
        assert_close(g_r, g_f)
    assert fw.calls["with_grad"] > 0


def test_clip_plain_gather_gives_each_rank_its_exact_local_gradient(monkeypatch):
    a, t = leaves()
    s = math.log(10.0)
    full = ClipLoss()(a, t, s)
    g_full = grads(full, a, t)

    fw = FakeWorld(monkeypatch, 2)
    per_rank = run_ranks(fw, ClipLoss(gather_with_grad=False), a, t, logit_scale=s)
    assert fw.calls["with_grad"] == 0 and fw.calls["plain"] > 0
    for value in per_rank:
        assert_close(value, full)
    # gradients reach each rank only through its own slot, and summed over ranks they are the full gradient
    summed = grads(torch.stack(per_rank).sum(), a, t)
    for g_s, g_f in zip(summed, g_full):
        assert_close(g_s, g_f)


def test_clip_label_offsets_on_rank_1(monkeypatch):
    fw = FakeWorld(monkeypatch, 2)
    a, t = embeds(batch=8)
    a_parts, t_parts = fw.shard(a), fw.shard(t)
    fw.rank = 1
    scale = math.log(5.0)
    lpa, lpt, labels = ClipLoss(local_loss=True).get_logits(a_parts[1], t_parts[1], scale)
    assert lpa.shape == lpt.shape == (4, 8)
    assert labels.tolist() == [4, 5, 6, 7]
    positives = 5.0 * (a_parts[1] * t_parts[1]).sum(-1)
    assert_close(lpa[torch.arange(4), labels], positives)
    assert_close(lpt[torch.arange(4), labels], positives)
    # each row's argmax over the gathered columns lands on its own pair when pairs are near-identical
    lpa, _, labels = ClipLoss(local_loss=True).get_logits(a_parts[1], a_parts[1], scale)
    assert torch.equal(lpa.argmax(dim=1), labels)
    # the non-local variant contrasts the whole gathered batch, so targets are the global diagonal
    lpa, lpt, labels = ClipLoss(local_loss=False).get_logits(a_parts[1], t_parts[1], scale)
    assert lpa.shape == (8, 8) and labels.tolist() == list(range(8))
    assert_close(lpt, lpa.T)


def test_siglip_gathered_matches_single_process(monkeypatch):
    a, t = leaves()
    s_full, b_full = scalar(math.log(10.0)), scalar(-10.0)
    s_ranks, b_ranks = scalar(math.log(10.0)), scalar(-10.0)
    full = SigLipLoss()(a, t, s_full, b_full)
    g_full = grads(full, a, t, s_full, b_full)

    fw = FakeWorld(monkeypatch, 2)
    per_rank = run_ranks(fw, SigLipLoss(), a, t, logit_scale=s_ranks, logit_bias=b_ranks)
    mean = torch.stack(per_rank).mean()
    assert_close(mean, full)
    for g_r, g_f in zip(grads(mean, a, t, s_ranks, b_ranks), g_full):
        assert_close(g_r, g_f)


@pytest.mark.parametrize("name", ["clip", "clip_local", "siglip"])
def test_group_ids_are_gathered_across_ranks(monkeypatch, name):
    a, t = leaves()
    # rows 1 (rank 0) and 6 (rank 1) share a caption; rows 0 and 2 share one on rank 0
    groups = torch.tensor([10, 11, 10, 13, 14, 15, 11, 17])
    make = {
        "clip": lambda: ClipLoss(),
        "clip_local": lambda: ClipLoss(local_loss=True),
        "siglip": lambda: SigLipLoss(),
    }[name]
    kw = {"logit_scale": math.log(10.0), "logit_bias": -5.0}
    full = make()(a, t, group_ids=groups, **kw)
    assert not torch.allclose(full, make()(a, t, **kw))
    g_full = grads(full, a, t)

    fw = FakeWorld(monkeypatch, 2)
    mean = torch.stack(run_ranks(fw, make(), a, t, groups, **kw)).mean()
    assert_close(mean, full)
    for g_r, g_f in zip(grads(mean, a, t), g_full):
        assert_close(g_r, g_f)


def test_unequal_local_batches_are_rejected(monkeypatch):
    fw = FakeWorld(monkeypatch, 2)
    a, t = embeds(batch=8)
    fw.shard(a[:6]), fw.shard(t[:6])
    # the fake collective returns 3 + 3 rows although this rank holds 4: sizes disagree
    monkeypatch.setattr(dist_nn_f, "all_gather", lambda x, group=None: (x[:3], x[:3]))
    with pytest.raises(ValueError, match="same local batch size"):
        ClipLoss()(a[:4], t[:4], 0.0)


# --------------------------------------------------------------------------------------------------------------
# SigLIP
# --------------------------------------------------------------------------------------------------------------


def test_siglip_matches_reference():
    a, t = leaves()
    groups = torch.tensor([0, 1, 0, 3, 4, 5, 6, 1])
    s1, b1, s2, b2 = scalar(math.log(10.0)), scalar(-10.0), scalar(math.log(10.0)), scalar(-10.0)
    for g in (None, groups):
        ours = SigLipLoss()(a, t, s1, b1, group_ids=g)
        ref = ref_siglip(a, t, s2, b2, g)
        assert_close(ours, ref)
        for g_o, g_r in zip(grads(ours, a, t, s1, b1), grads(ref, a, t, s2, b2)):
            assert_close(g_o, g_r)


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 64])
@pytest.mark.parametrize("with_groups", [False, True])
def test_siglip_chunked_equals_reference_forward_and_backward(chunk_size, with_groups):
    a, t = leaves()
    groups = torch.tensor([0, 1, 0, 3, 4, 5, 6, 1]) if with_groups else None
    s1, b1, s2, b2 = scalar(math.log(10.0)), scalar(-3.0), scalar(math.log(10.0)), scalar(-3.0)
    ref = SigLipLoss()(a, t, s1, b1, group_ids=groups)
    chunked = SigLipLoss(chunk_size=chunk_size)(a, t, s2, b2, group_ids=groups)
    assert_close(chunked, ref)
    for g_c, g_r in zip(grads(chunked, a, t, s2, b2), grads(ref, a, t, s1, b1)):
        assert torch.allclose(g_c, g_r, rtol=1e-9, atol=1e-12)


def test_siglip_requires_bias():
    a, t = embeds()
    with pytest.raises(ValueError, match="logit_bias"):
        SigLipLoss()(a, t, 0.0)


# --------------------------------------------------------------------------------------------------------------
# Duplicate captions (group_ids)
# --------------------------------------------------------------------------------------------------------------


def clip_without_duplicate_negatives(a, t, logit_scale, groups) -> torch.Tensor:
    """Reference: per row, drop the other same-group columns entirely, then plain cross-entropy."""
    logits = logit_scale.exp() * a @ t.T
    terms = []
    for matrix in (logits, logits.T):
        row_losses = []
        for i in range(matrix.shape[0]):
            keep = [j for j in range(matrix.shape[1]) if j == i or groups[j] != groups[i]]
            target = keep.index(i)
            row_losses.append(F.cross_entropy(matrix[i, keep][None], torch.tensor([target])))
        terms.append(torch.stack(row_losses).mean())
    return 0.5 * (terms[0] + terms[1])


def test_duplicate_captions_are_not_negatives():
    a, t = leaves(batch=6)
    with torch.no_grad():
        t[3] = t[1]  # the same caption twice in the batch
    groups = torch.tensor([0, 1, 2, 1, 4, 5])
    s1, s2 = scalar(math.log(30.0)), scalar(math.log(30.0))
    ours = ClipLoss()(a, t, s1, group_ids=groups)
    ref = clip_without_duplicate_negatives(a, t, s2, groups)
    assert_close(ours, ref)
    for g_o, g_r in zip(grads(ours, a, t, s1), grads(ref, a, t, s2)):
        assert_close(g_o, g_r)
    naive = ClipLoss()(a, t, math.log(30.0))
    assert abs(naive.item() - ours.item()) > 1e-3


def test_duplicate_pairs_are_not_pushed_apart():
    # rows 0 and 1 are the same (clip, caption) pair; the others are orthogonal to them and to each other
    a = torch.eye(4, dtype=DT)[[0, 0, 1, 2]].requires_grad_()
    t = torch.eye(4, dtype=DT)[[0, 0, 1, 2]].requires_grad_()
    groups = torch.tensor([0, 0, 1, 2])
    s = math.log(50.0)
    naive = ClipLoss()(a, t, s)
    masked = ClipLoss()(a, t, s, group_ids=groups)
    # naive InfoNCE cannot go below log 2 on the 2 duplicated rows of 4 (the duplicate takes half the mass)
    assert naive.item() >= 0.5 * math.log(2.0) - 1e-9
    assert masked.item() < 1e-4
    # the naive gradient pulls a_0 toward t_0 only because the duplicate term cancels part of it; with groups
    # the descent direction on a_0 has a non-negative component toward its duplicate caption t_1
    (g_masked,) = grads(masked, a)
    (g_naive,) = grads(naive, a)
    assert (-g_masked[0] @ t[1]).item() >= 0
    assert (-g_masked[0] @ t[1]).item() > (-g_naive[0] @ t[1]).item() - 1e-12
    # SigLIP treats same-group pairs as positives: descent pulls a_0 toward the duplicate caption
    (g_sig,) = grads(SigLipLoss()(a, t, s, -5.0, group_ids=groups), a)
    (g_sig_naive,) = grads(SigLipLoss()(a, t, s, -5.0), a)
    assert (-g_sig[0] @ t[1]).item() > 0
    assert (-g_sig_naive[0] @ t[1]).item() < (-g_sig[0] @ t[1]).item()


# --------------------------------------------------------------------------------------------------------------
# Combined, Matryoshka, factory, gradients to the learnable scalars
# --------------------------------------------------------------------------------------------------------------


def test_combined_is_weighted_sum_and_uses_siglip_scale():
    a, t = embeds()
    groups = torch.tensor([0, 1, 0, 3, 4, 5, 6, 7])
    clip = ClipLoss()(a, t, math.log(20.0), group_ids=groups)
    sig = SigLipLoss()(a, t, math.log(10.0), -10.0, group_ids=groups)
    combined = CombinedLoss(clip_weight=0.7, siglip_weight=0.3)
    got = combined(a, t, math.log(20.0), -10.0, group_ids=groups, siglip_logit_scale=math.log(10.0))
    assert_close(got, 0.7 * clip + 0.3 * sig, rtol=1e-6, atol=1e-7)
    reuse = combined(a, t, math.log(20.0), -10.0, group_ids=groups)
    expected = 0.7 * clip + 0.3 * SigLipLoss()(a, t, math.log(20.0), -10.0, group_ids=groups)
    assert_close(reuse, expected, rtol=1e-6, atol=1e-7)


def manual_matryoshka(a, t, logit_scale, dims, weights):
    total = sum(
        w * ref_clip(F.normalize(a[:, :d], dim=-1), F.normalize(t[:, :d], dim=-1), logit_scale)
        for d, w in zip(dims, weights)
    )
    return total / sum(weights)


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 3.0, 4.0]])
def test_matryoshka_equals_manual_renormalised_average(weights):
    a, t = leaves(dim=16)
    dims = default_matryoshka_dims(16)
    assert dims == [16, 8, 4, 2]
    s1, s2 = scalar(math.log(10.0)), scalar(math.log(10.0))
    loss = MatryoshkaLoss(ClipLoss(), dims, weights)
    total, per_dim = loss(a, t, s1, return_per_dim=True)
    ref = manual_matryoshka(a, t, s2, dims, weights or [1.0] * 4)
    assert_close(total, ref)
    assert list(per_dim) == dims and not any(v.requires_grad for v in per_dim.values())
    if weights is None:  # the paper's equal weights: a plain mean over dims
        assert_close(total, torch.stack(list(per_dim.values())).mean())
    for g_o, g_r in zip(grads(total, a, t, s1), grads(ref, a, t, s2)):
        assert_close(g_o, g_r)
    # re-normalisation matters: without it the truncated slices would give a different value
    unnormalised = sum(ref_clip(a[:, :d], t[:, :d], s2) for d in dims) / len(dims)
    assert abs(unnormalised.item() - manual_matryoshka(a, t, s2, dims, [1.0] * 4).item()) > 1e-3


def test_matryoshka_bad_arguments_raise():
    a, t = embeds(dim=16)
    with pytest.raises(ValueError, match="exceed the embedding width 16"):
        MatryoshkaLoss(ClipLoss(), [32, 16])(a, t, 0.0)
    for bad in ([0, 8], [-4], [8.0], [8, 8], []):
        with pytest.raises(ValueError):
            MatryoshkaLoss(ClipLoss(), bad)
    with pytest.raises(ValueError, match="weights"):
        MatryoshkaLoss(ClipLoss(), [16, 8], [1.0])
    with pytest.raises(ValueError, match="weights"):
        MatryoshkaLoss(ClipLoss(), [16, 8], [0.0, 0.0])
    assert MatryoshkaLoss(ClipLoss(), [torch.tensor(8).item(), 4]).dims == [8, 4]


def test_build_loss_factory():
    assert isinstance(build_loss("clip"), ClipLoss)
    assert isinstance(build_loss("SigLIP", chunk_size=4), SigLipLoss)
    combined = build_loss("clip+siglip", clip_weight=2.0)
    assert isinstance(combined, CombinedLoss) and combined.clip_weight == 2.0
    wrapped = build_loss("clip", matryoshka_dims=[16, 8], matryoshka_weights=[3.0, 1.0], local_loss=True)
    assert (
        isinstance(wrapped, MatryoshkaLoss) and wrapped.base_loss.local_loss and wrapped.weights == [3.0, 1.0]
    )
    with pytest.raises(ValueError) as err:
        build_loss("triplet")
    assert all(name in str(err.value) for name in LOSS_NAMES)
    with pytest.raises(ValueError, match="matryoshka_dims"):
        build_loss("clip", matryoshka_weights=[1.0])
    # a config's loss_kwargs meant for another loss: a clear error naming the option, not a TypeError
    with pytest.raises(ValueError, match=r"option\(s\) \['local_loss'\] do not apply to the 'siglip' loss"):
        build_loss("siglip", local_loss=True)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("matryoshka", [None, [16, 4]])
def test_gradients_reach_learnable_scalars_and_uniform_signature(name, matryoshka):
    a, t = leaves()
    scale, bias, sig_scale = scalar(math.log(10.0)), scalar(-10.0), scalar(math.log(10.0))
    loss = build_loss(name, matryoshka_dims=matryoshka)
    groups = torch.arange(8)
    value = loss(a, t, logit_scale=scale, logit_bias=bias, group_ids=groups, siglip_logit_scale=sig_scale)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    uses_clip, uses_siglip = "clip" in name, "siglip" in name
    if uses_clip:
        assert scale.grad is not None and scale.grad.item() != 0
    if uses_siglip:
        assert bias.grad is not None and bias.grad.item() != 0
        scale_used = sig_scale if name == "clip+siglip" else scale
        assert scale_used.grad is not None and scale_used.grad.item() != 0
    if name == "clip":
        assert bias.grad is None and sig_scale.grad is None


def test_input_validation():
    a, t = embeds()
    with pytest.raises(ValueError, match="same shape"):
        ClipLoss()(a, t[:, :8], 0.0)
    with pytest.raises(ValueError, match="batch, dim"):
        ClipLoss()(a[0], t[0], 0.0)
    with pytest.raises(ValueError, match="group_ids"):
        ClipLoss()(a, t, 0.0, group_ids=torch.arange(7))
    with pytest.raises(ValueError, match="integer"):
        ClipLoss()(a, t, 0.0, group_ids=torch.arange(8.0))
    with pytest.raises(ValueError, match="scalar"):
        ClipLoss()(a, t, torch.zeros(2))
    with pytest.raises(ValueError, match="chunk_size"):
        ClipLoss(chunk_size=0)
