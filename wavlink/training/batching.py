"""From dataset examples to training batches: which examples go together (`LengthBucketBatchSampler`) and
how a batch becomes model inputs (`AudioCaptionCollator`).

* `LengthBucketBatchSampler` sorts by duration inside shuffled buckets so each batch pads little, is
  deterministic per (seed, epoch) so a resumed run replays the same batches, and shards whole batches across
  processes (equal local batch sizes, as the gathered losses require).
* `AudioCaptionCollator` runs the model's processor once per modality and carries the group ids that keep
  duplicate clips and captions from being used as negatives. It only needs the processor, so any model family
  trains through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch


class LengthBucketBatchSampler:
    """Batches of similar duration, deterministic per (seed, epoch), sharded by whole batches across ranks.

    Shuffle all examples, cut them into buckets of ``bucket_size`` (default 50 batches), sort each bucket by
    duration, cut into batches, shuffle the batch order. Only the last batch can be short (dropped with
    ``drop_last``, which training needs: every rank must hold the same local batch size). Batch ``i`` goes to
    rank ``i % num_replicas``; batches that would leave ranks unequal are dropped.
    """

    def __init__(
        self,
        lengths: Sequence[float],
        batch_size: int,
        *,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        bucket_size: int | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
        name: str = "dataset",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(lengths)
        if n == 0:
            raise ValueError(f"{name} is empty")
        needed = batch_size * num_replicas if drop_last else num_replicas
        if n < needed:
            raise ValueError(
                f"batch size {batch_size} x {num_replicas} process(es) = {batch_size * num_replicas} is larger "
                f"than {name} ({n} examples); lower the batch size or add data"
            )
        self.lengths = np.asarray(lengths, dtype=np.float64)
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.bucket_size = bucket_size or batch_size * 50
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def global_batches(self, epoch: int | None = None) -> list[list[int]]:
        epoch = self.epoch if epoch is None else epoch
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            batches = [order[i : i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
        else:
            rng = np.random.default_rng([self.seed, epoch, 7919])
            order = rng.permutation(n)
            batches = []
            for start in range(0, n, self.bucket_size):
                bucket = order[start : start + self.bucket_size]
                bucket = bucket[np.argsort(-self.lengths[bucket], kind="stable")]
                batches.extend(bucket[i : i + self.batch_size].tolist()
                               for i in range(0, len(bucket), self.batch_size))
            # only a bucket's tail can be short: merge the short tails so at most one short batch remains
            full = [b for b in batches if len(b) == self.batch_size]
            rest = [i for b in batches if len(b) < self.batch_size for i in b]
            full.extend(rest[i : i + self.batch_size] for i in range(0, len(rest), self.batch_size))
            batches = [full[i] for i in rng.permutation(len(full))]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        usable = len(batches) - len(batches) % self.num_replicas
        return batches[:usable]

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        """This rank's batches for an epoch."""
        return self.global_batches(epoch)[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())


class AudioCaptionCollator:
    """Examples -> model inputs: ``audio_inputs`` / ``text_inputs`` (processor outputs, each modality processed
    in its own call) and ``group_ids`` for the loss. Model-agnostic: whatever keys the processor returns are
    passed to ``get_audio_features`` / ``get_text_features``."""

    def __init__(self, processor: Any, sampling_rate: int = 16000, text_kwargs: dict | None = None) -> None:
        self.processor = processor
        self.sampling_rate = sampling_rate
        self.text_kwargs = dict(text_kwargs or {})

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        audio = self.processor(audio=[it["audio"] for it in items], sampling_rate=self.sampling_rate,
                               return_tensors="pt")
        text = self.processor(text=[it["caption"] for it in items], return_tensors="pt", **self.text_kwargs)
        batch = {
            "audio_inputs": dict(audio),
            "text_inputs": dict(text),
            "group_ids": torch.tensor([it["group_id"] for it in items], dtype=torch.long),
            "clip_ids": torch.tensor([it["clip_id"] for it in items], dtype=torch.long),
            "indices": torch.tensor([it["index"] for it in items], dtype=torch.long),
        }
        if "teacher_scores" in items[0]:
            batch["teacher_scores"] = torch.from_numpy(np.stack([it["teacher_scores"] for it in items]))
            batch["has_teacher"] = torch.tensor([it["has_teacher"] for it in items], dtype=torch.bool)
        return batch


__all__ = ["AudioCaptionCollator", "LengthBucketBatchSampler"]
