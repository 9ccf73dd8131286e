"""Head stage: train the global token, the layers from it on, the final norm and the audio projection on cached
prefix states (`prefix_cache.py`), with the text side frozen and embedded once.

This is the WavLink paper's frozen-encoder regime ("projector-only") made affordable: the encoder layers below
`global_token_layer` are frozen, so their output is computed once per clip, and every epoch costs only the
head's layers for the global token (its query over all frames' keys and values) instead of a full encoder
forward and backward: many epochs over many hours of audio on a CPU. The objective is the package's:
CLIP loss on captions (identical captions are not negatives), Matryoshka over the trained dims, plus the
teacher's knowledge - cosine to the teacher-composed embedding (`ComposedDistillationLoss`) and KL over its
class names (`LabelDistillationLoss`). Checkpoints are written atomically every epoch; a killed run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..files import atomic_write
from ..remote_code.losses import (
    ClipLoss,
    ComposedDistillationLoss,
    LabelDistillationLoss,
    MatryoshkaLoss,
)
from .prefix_cache import PrefixCache


@dataclass
class HeadConfig:
    """Settings of a head stage (paper silent on all of them: the package's choices, measured in the model card)."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    max_grad_norm: float = 1.0
    contrastive_weight: float = 1.0
    composed_weight: float = 1.0  # cosine to the teacher-composed embedding
    label_weight: float = 0.5  # KL over the teacher's class names
    label_temperature: float = 0.1
    label_top_k: int | None = 10
    matryoshka_dims: list[int] | None = None  # None: the model's
    train_layers: bool = True  # also train the Whisper layers from global_token_layer on (else token + projection)
    autocast_bf16: bool = False
    device: str = "cpu"  # the model must already be there; cached states are moved batch by batch
    seed: int = 0
    output_dir: str = "runs/head"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class HeadData:
    """What a head stage trains on: cache rows, their captions (indices into `caption_embeds`) and teacher scores."""

    rows: list[int]  # cache row of each training clip
    captions: list[list[int]]  # caption ids per training clip
    caption_embeds: torch.Tensor  # (N_captions, D) frozen text embeddings, L2-normalised
    teacher_scores: torch.Tensor | None = None  # (clips, C), aligned with `rows`
    label_embeds: torch.Tensor | None = None  # (C, D) class-name text embeddings


def head_parameters(model: torch.nn.Module, train_layers: bool = True) -> dict[str, torch.nn.Parameter]:
    """The parameters a head stage trains (everything else is frozen)."""
    layer = model.config.global_token_layer
    names = ["global_token", "global_token_position", "audio_projection.", "logit_scale",
             "audio_model.layer_norm."]
    if train_layers:
        names += [f"audio_model.layers.{i}." for i in range(layer, len(model.audio_model.layers))]
    return {n: p for n, p in model.named_parameters()
            if any(n == k or n.startswith(k) for k in names) and not n.startswith("siglip")}


def _no_decay(name: str, param: torch.nn.Parameter) -> bool:
    return param.ndim < 2 or "global_token" in name or "norm" in name or name == "logit_scale"


class HeadTrainer:
    def __init__(self, model: torch.nn.Module, cache: PrefixCache, data: HeadData, config: HeadConfig,
                 validation: dict[str, Any] | None = None) -> None:
        self.model, self.cache, self.data, self.cfg = model, cache, data, config
        self.validation = validation
        self.out = Path(config.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        for p in model.parameters():
            p.requires_grad_(False)
        self.params = head_parameters(model, config.train_layers)
        for p in self.params.values():
            p.requires_grad_(True)
        groups = [
            {"params": [p for n, p in self.params.items() if not _no_decay(n, p)], "weight_decay": config.weight_decay},
            {"params": [p for n, p in self.params.items() if _no_decay(n, p)], "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6)
        self.steps_per_epoch = max(1, len(data.rows) // config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        warmup = max(1, int(config.warmup_ratio * self.total_steps))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, self.total_steps - warmup))))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        dims = config.matryoshka_dims or list(model.config.matryoshka_dims)
        self.dims = dims
        self.contrastive = MatryoshkaLoss(ClipLoss(), dims)
        self.composed = ComposedDistillationLoss(dims)
        self.labels = LabelDistillationLoss(config.label_temperature, config.label_top_k, dims=dims)
        self.epoch, self.step = 0, 0
        self.log_file = self.out / "log.jsonl"
        lengths = cache.lengths()
        self.lengths = np.array([lengths[r] for r in data.rows])

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def save(self) -> None:
        state = {"params": {n: p.detach().clone() for n, p in self.params.items()},
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "epoch": self.epoch, "step": self.step, "config": self.cfg.to_dict()}
        try:
            atomic_write(self._checkpoint_path(), lambda tmp: torch.save(state, tmp))
        except OSError as err:
            raise OSError(f"checkpoint write failed ({err.strerror or err}; no space left on device?); the "
                          f"previous checkpoint {self._checkpoint_path()} is kept") from err

    def resume(self) -> bool:
        path = self._checkpoint_path()
        if not path.is_file():
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = {k: v for k, v in state["config"].items() if k not in ("output_dir", "extra")}
        current = {k: v for k, v in self.cfg.to_dict().items() if k not in ("output_dir", "extra")}
        if saved != current:
            raise ValueError(f"{path} was written with other head settings: {saved} (now {current}); "
                             "use another output_dir")
        missing = set(self.params) - set(state["params"])
        if missing:
            raise ValueError(f"{path} lacks trained weights {sorted(missing)[:5]}")
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(state["params"][n])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step = state["epoch"], state["step"]
        return True

    # ------------------------------------------------------------------ training
    def _batches(self, epoch: int) -> list[list[int]]:
        """Length-bucketed batches (clips of similar length together: little padding), shuffled, seeded."""
        rng = np.random.default_rng(self.cfg.seed * 1000 + epoch)
        order = rng.permutation(len(self.data.rows))
        pool = self.cfg.batch_size * 16
        batches = []
        for i in range(0, len(order), pool):
            chunk = order[i:i + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[j:j + self.cfg.batch_size].tolist()
                        for j in range(0, len(chunk) - self.cfg.batch_size + 1, self.cfg.batch_size)]
        rng.shuffle(batches)
        return batches[: self.steps_per_epoch]

    def embed(self, rows: Sequence[int], grad: bool) -> torch.Tensor:
        states, mask = self.cache.batch(rows)
        device = torch.device(self.cfg.device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.cfg.autocast_bf16), \
                torch.set_grad_enabled(grad):
            out = self.model.get_audio_features_from_prefix(states.to(device), mask.to(device), pooled_only=True)
        return out.pooler_output.float()

    def train_step(self, batch: list[int], epoch: int) -> dict[str, float]:
        rng = random.Random(f"{self.cfg.seed}-{epoch}-{batch[0]}")
        rows = [self.data.rows[i] for i in batch]
        caption_ids = [rng.choice(self.data.captions[i]) for i in batch]
        audio = self.embed(rows, grad=True)
        device = audio.device
        text = self.data.caption_embeds[caption_ids].to(device)
        logs: dict[str, float] = {}
        loss = audio.new_zeros(())
        if self.cfg.contrastive_weight > 0:
            groups = torch.tensor(caption_ids, device=device)
            c = self.contrastive(audio, text, self.model.logit_scale, group_ids=groups)
            loss = loss + self.cfg.contrastive_weight * c
            logs["contrastive"] = float(c.detach())
        if self.data.teacher_scores is not None:
            scores = self.data.teacher_scores[batch].float().to(device)
            labels = self.data.label_embeds.to(device)
            if self.cfg.composed_weight > 0:
                c = self.composed(audio, labels, scores)
                loss = loss + self.cfg.composed_weight * c
                logs["composed"] = float(c.detach())
            if self.cfg.label_weight > 0:
                c = self.labels(audio, labels, scores)
                loss = loss + self.cfg.label_weight * c
                logs["label_kl"] = float(c.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        with torch.no_grad():
            self.model.logit_scale.clamp_(0.0, math.log(100.0))
        return {"loss": float(loss.detach()), "grad_norm": float(norm), **logs}

    def fit(self, evaluate=None, log=print) -> list[dict[str, Any]]:
        """Train to `epochs` (resuming from the checkpoint when there is one); `evaluate(model) -> dict` runs
        after each epoch (its results are logged). Returns the per-epoch records."""
        if self.resume():
            log(f"head stage: resumed at epoch {self.epoch} (step {self.step})")
        records = []
        self.model.train()
        while self.epoch < self.cfg.epochs:
            start, sums, n = time.time(), {}, 0
            for batch in self._batches(self.epoch):
                out = self.train_step(batch, self.epoch)
                self.step += 1
                n += 1
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v
            self.epoch += 1
            record = {"epoch": self.epoch, "step": self.step, "seconds": round(time.time() - start, 1),
                      "clip_passes": self.step * self.cfg.batch_size,
                      **{k: round(v / max(n, 1), 4) for k, v in sums.items()}}
            if evaluate is not None:
                self.model.eval()
                record.update(evaluate(self.model))
                self.model.train()
            self.save()
            with open(self.log_file, "a") as f:
                f.write(json.dumps(record) + "\n")
            records.append(record)
            log(" ".join(f"{k}={v}" for k, v in record.items()))
        self.model.eval()
        return records


@torch.no_grad()
def cache_embeddings(model: torch.nn.Module, cache: PrefixCache, rows: Sequence[int], batch_size: int = 64,
                     autocast_bf16: bool = False) -> torch.Tensor:
    """L2-normalised audio embeddings of cached clips (eval mode, full width, on the CPU)."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(cache.states[rows[i]]))
    out = torch.zeros(len(rows), model.config.projection_dim)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        states, mask = cache.batch([rows[j] for j in idx])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            emb = model.get_audio_features_from_prefix(states.to(device), mask.to(device), pooled_only=True)
        out[idx] = F.normalize(emb.pooler_output.float().cpu(), dim=-1)
    return out


__all__ = ["HeadConfig", "HeadData", "HeadTrainer", "cache_embeddings", "head_parameters"]
