"""WebDataset shards as training and evaluation data: written from any manifest, streamed (never extracted),
shuffled with a buffer, split across processes and DataLoader workers, resumable exactly.

A shard is a plain tar (the WebDataset layout): the members of one sample share a key, e.g.
``000042.flac`` + ``000042.json``. A sample holds one audio member (``.flac``, ``.wav``, ``.mp3`` or ``.ogg``)
and its caption(s): a ``.txt`` member, or a ``.json`` member with ``caption`` (a string) or ``captions`` (a
list). Shards are named by a brace pattern, a list, or a folder: ``shards/train-{000000..000099}.tar``; local
paths, ``pipe:CMD`` and ``http(s)://`` URLs are opened by `webdataset` (the reading engine used here:
``tarfile_to_samples`` groups members into samples, its ``pick`` draws from the shuffle buffer).

`write_shards` (``wavlink shard MANIFEST --out DIR``) reads any source `load_source` reads (the package's one
table reader) through the package's one decoder (every clip is checked before it is written), keeps the
original bytes of FLAC/WAV/MP3/OGG files (other formats are re-encoded as FLAC), and writes ``shards.json``:
the number of samples of every shard, so a reader knows the stream's length without reading it.

How one epoch is streamed (`ShardStream`), deterministically from (seed, epoch):

* the shard order is a permutation drawn from (seed, epoch); process ``r`` of ``R`` takes every R-th shard of
  it (``order[r::R]``, as `webdataset.split_by_node`) and its DataLoader worker ``w`` of ``W`` every W-th of
  those (as `webdataset.split_by_worker`): each shard is read by exactly one (process, worker) slot, so no
  sample is seen twice in an epoch;
* each slot shuffles its samples with a buffer (``shuffle_buffer`` samples, seeded by seed, epoch, rank,
  worker) and yields exactly ``M x batch_size`` examples, where M is the same for every slot and every epoch
  (the fewest full batches any slot can make from its shards, from the shard lengths). Equal counts are what
  data-parallel training needs (every process takes the same number of steps) and make the DataLoader's
  round-robin over workers deterministic. A slot's samples beyond that count are not used in this epoch
  (reported once at setup; zero when the shards are equally long and their number is a multiple of R x W);
  the next epoch's permutation puts other shards together;
* a corrupt member (``on_bad_audio="skip"``) is skipped, counted and logged with its shard and key, and the
  slot takes the next sample; a slot that runs short because of skipped samples starts another pass over its
  shards (another shuffle), so the counts stay equal. ``"fail"`` (the default) raises naming shard and key.

Resume (what is guaranteed): the trainer saves, per process, the epoch, the number of batches taken in it and,
per worker, the raw stream position (samples drawn from the shuffle buffer, bad ones included). A resumed run
yields exactly the batches the uninterrupted run would have yielded next, in the same order: nothing repeated,
nothing skipped. The shuffle buffer's state is recomputed from the shard lengths (the buffer's draws depend
only on counts), so the resumed worker re-reads only from the shard holding the oldest sample still in the
buffer (typically the last few shards: a sample survives a buffer of B draws with probability ~1/e per B
draws) and decodes only the samples it has not yet yielded. Resuming with another number of processes or
workers splits the shards differently: the epoch then continues after the same number of batches, but not
exactly (a warning says so).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from ..data.shards import (  # the reading side lives in the data layer (evaluation reads shards too)
    INDEX_FILE,
    BadSample,
    _require_webdataset,
    count_samples,
    decode_sample,
    expand_shards,
    iter_raw,
    sample_captions,
)
from .dataset import normalize_caption
from .workers import loader_kwargs

logger = logging.getLogger(__name__)

ON_BAD = ("fail", "skip")
_BIG = 1 << 40  # example ids: slot * _BIG + raw position


# ---------------------------------------------------------------------------------------------- samples


def caption_group(caption: str) -> int:
    """A group id from the caption's key (`dataset.normalize_caption`: case, spacing and a final full stop
    ignored), the same on every process and worker."""
    key = normalize_caption(caption)
    return int(hashlib.sha1(key.encode()).hexdigest()[:15], 16)


# ---------------------------------------------------------------------------------------------- streaming


def _shuffle_sim(n_items: int, bufsize: int, initial: int, rng: random.Random, outputs: int
                 ) -> tuple[list[int], int]:
    """Replay webdataset's shuffle buffer on item numbers only: (buffer after `outputs` draws, items read).

    The buffer's draws depend only on how many items it holds, so this reproduces the real buffer exactly."""
    from webdataset.filters import pick

    buf: list[int] = []
    nxt, done = 0, 0
    while done < outputs:
        if nxt < n_items:
            buf.append(nxt)
            nxt += 1
            if len(buf) < bufsize and nxt < n_items:
                buf.append(nxt)
                nxt += 1
            if len(buf) < initial:
                continue
        if not buf:
            break
        pick(buf, rng)
        done += 1
    return buf, nxt


def _shuffled(urls: list[str], counts: list[int], bufsize: int, seed: Any, skip: int = 0,
              on_damaged: str = "fail") -> Iterator[dict[str, Any]]:
    """Raw samples of `urls` through webdataset's shuffle buffer (its `pick`), starting after `skip` draws.

    Resuming (skip > 0) recomputes the buffer from the counts and reads only from the shard holding its oldest
    item; items are bytes, nothing is decoded here.
    """
    from webdataset.filters import pick

    total = sum(counts)
    initial = min(bufsize, max(1, bufsize // 10))
    rng = random.Random(seed)
    if skip:
        pending, nxt = _shuffle_sim(total, bufsize, initial, rng, skip)
    else:
        pending, nxt = [], 0
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    first = min(pending) if pending else nxt
    shard = int(np.searchsorted(starts, first, side="right") - 1) if first < total else len(urls)
    raw = iter_raw(urls[shard:], counts[shard:], on_damaged=on_damaged)
    position = int(starts[shard]) if shard < len(urls) else total
    wanted = set(pending)
    slots: dict[int, dict[str, Any]] = {}
    # read up to `nxt` (what the buffer had consumed), keeping the items still in it
    while position < nxt:
        try:
            sample = next(raw)
        except StopIteration:
            raise ValueError(f"shards {urls[shard:]} hold fewer samples than their counts say "
                             f"({position} < {nxt}); rewrite {INDEX_FILE}") from None
        if position in wanted:
            slots[position] = sample
        position += 1
    buf = [slots[i] for i in pending]
    for sample in raw:  # the loop of webdataset's `_shuffle`, continued from the restored buffer
        buf.append(sample)
        if len(buf) < bufsize:
            try:
                buf.append(next(raw))
            except StopIteration:
                pass
        if len(buf) >= initial:
            yield pick(buf, rng)
    while buf:
        yield pick(buf, rng)


@dataclass
class StreamPlan:
    """Which shards each (rank, worker) slot reads in an epoch, and how many examples each yields."""

    urls: list[str]
    counts: list[int]
    world_size: int
    num_workers: int
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        slots = self.world_size * self.num_workers
        if len(self.urls) < slots:
            raise ValueError(f"{len(self.urls)} shard(s) cannot feed {self.world_size} process(es) x "
                             f"{self.num_workers} worker(s) = {slots} readers; write more, smaller shards "
                             "(--shard-size) or use fewer workers")
        per_slot = len(self.urls) // slots
        floor = int(sum(sorted(self.counts)[:per_slot]))  # the fewest samples any slot can get in any epoch
        self.batches_per_worker = floor // self.batch_size
        if self.batches_per_worker == 0:
            raise ValueError(f"a reader gets as few as {floor} samples, less than one batch of "
                             f"{self.batch_size}; lower the batch size or write larger shards")

    @property
    def examples_per_worker(self) -> int:
        return self.batches_per_worker * self.batch_size

    @property
    def batches_per_rank(self) -> int:
        return self.batches_per_worker * self.num_workers

    @property
    def samples(self) -> int:
        return int(sum(self.counts))

    def unused_per_epoch(self) -> int:
        """Samples an epoch leaves out to keep every reader's count equal (at most; bad samples aside)."""
        return self.samples - self.examples_per_worker * self.world_size * self.num_workers

    def slot_shards(self, epoch: int, rank: int, worker: int) -> tuple[list[str], list[int]]:
        order = np.random.default_rng([self.seed, epoch, 7727]).permutation(len(self.urls))
        mine = order[rank :: self.world_size][worker :: self.num_workers]
        return [self.urls[i] for i in mine], [self.counts[i] for i in mine]


class ShardStream(IterableDataset):
    """Training examples streamed from shards; see the module docstring. Use through `StreamLoader`.

    Examples look like `AudioCaptionDataset`'s (``audio``, ``caption``, ``group_id``, ``clip_id``, ``index``)
    plus the stream position the loader records for resuming. ``group_id`` is a hash of the normalised
    caption, so identical captions in one batch are not used as each other's negatives.
    """

    def __init__(self, spec: Any, *, batch_size: int, sampling_rate: int = 16000, max_seconds: float | None = 10.0,
                 seed: int = 0, rank: int = 0, world_size: int = 1, num_workers: int = 0,
                 shuffle_buffer: int = 1000, on_bad_audio: str = "fail", train: bool = True,
                 name: str | None = None) -> None:
        _require_webdataset()
        if on_bad_audio not in ON_BAD:
            raise ValueError(f"on_bad_audio must be one of {ON_BAD}, got {on_bad_audio!r}")
        specs = spec if isinstance(spec, (list, tuple)) else [spec]
        self.urls = [u for s in specs for u in expand_shards(s)]
        self.name = name or " + ".join(os.fspath(s) if not isinstance(s, dict) else str(s["shards"]) for s in specs)
        self.counts = [count_samples(u, on_damaged=on_bad_audio) for u in self.urls]
        self.plan = StreamPlan(self.urls, self.counts, world_size, max(1, num_workers), batch_size, seed)
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        self.batch_size, self.sampling_rate, self.max_seconds = batch_size, sampling_rate, max_seconds
        self.seed, self.shuffle_buffer, self.on_bad_audio, self.train = seed, shuffle_buffer, on_bad_audio, train
        self.epoch, self.batches_done, self.positions = 0, 0, None
        self.bad_samples = 0  # counted in this process (num_workers=0); workers log their own counts
        self.damaged_shards: set[str] = set()

    def start(self, epoch: int, batches_done: int = 0, positions: dict[int, int] | None = None) -> None:
        """Where the next iteration starts: `batches_done` batches of `epoch` already taken (by this rank),
        `positions` the raw stream position of each worker then (None: as many samples as examples taken)."""
        self.epoch, self.batches_done = int(epoch), int(batches_done)
        self.positions = None if positions is None else {int(k): int(v) for k, v in positions.items()}

    def worker_progress(self, worker: int) -> tuple[int, int]:
        """(examples already yielded, raw stream position) of a worker at the start point."""
        workers = self.plan.num_workers
        batches = len(range(worker, self.batches_done, workers))
        examples = batches * self.batch_size
        raw = examples if self.positions is None else self.positions.get(worker, examples if not batches else -1)
        if raw < 0:
            raise ValueError(f"resume state lacks worker {worker}'s stream position")
        return examples, raw

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        loader_worker = info.id if info is not None else 0
        workers = self.plan.num_workers
        if (info.num_workers if info is not None else 1) != workers:
            raise ValueError(f"ShardStream planned for {workers} worker(s), the DataLoader has "
                             f"{info.num_workers if info else 0}")
        # after a resume, loader worker 0 serves the worker whose batch comes next, so the order is unchanged
        worker = (loader_worker + self.batches_done) % workers
        yield from self._worker_stream(worker)

    def _worker_stream(self, worker: int) -> Iterator[dict[str, Any]]:
        urls, counts = self.plan.slot_shards(self.epoch, self.rank, worker)
        slot = self.rank * self.plan.num_workers + worker
        done, raw = self.worker_progress(worker)
        per_pass = sum(counts)
        target = self.plan.examples_per_worker
        while done < target:
            pass_no, offset = divmod(raw, per_pass)
            seed = [self.seed, self.epoch, self.rank, worker, pass_no]
            good_in_pass = 0
            for sample in _shuffled(urls, counts, self.shuffle_buffer, int(np.random.SeedSequence(seed)
                                                                             .generate_state(1)[0]), offset,
                                    on_damaged=self.on_bad_audio):
                raw += 1
                rng = np.random.default_rng(seed + [raw])
                try:
                    captions = sample_captions(sample)
                    fraction = float(rng.random()) if self.train else None
                    wave = decode_sample(sample, self.sampling_rate, self.max_seconds, fraction)
                except BadSample as err:
                    if self.on_bad_audio != "skip":
                        raise
                    self.bad_samples += 1
                    damaged = sample.get("__damaged__")
                    if damaged is None:
                        logger.warning("skipping bad sample (%d so far in this reader): %s", self.bad_samples, err)
                    elif sample["__url__"] not in self.damaged_shards:  # one line per shard, not per sample
                        self.damaged_shards.add(sample["__url__"])
                        logger.warning("skipping the rest of a shard (%d bad sample(s) so far in this reader): %s",
                                       self.bad_samples, damaged)
                    continue
                good_in_pass += 1
                caption = captions[int(rng.integers(len(captions)))] if self.train else captions[0]
                group = caption_group(caption)
                yield {"audio": wave, "caption": caption, "group_id": group, "clip_id": slot * _BIG + raw,
                       "index": slot * _BIG + raw, "stream_worker": worker, "stream_position": raw}
                done += 1
                if done >= target:
                    return
            if raw % per_pass:  # the pass ended early: the counts were wrong
                raise ValueError(f"{self.name}: shards hold fewer samples than counted; rewrite {INDEX_FILE}")
            if good_in_pass == 0:
                raise ValueError(f"{self.name}: a reader's shards hold no usable sample")


class StreamCollator:
    """Wraps a collator: the batch also carries ``stream_state`` = (worker, raw position after the batch)."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(items)
        batch["stream_state"] = torch.tensor([items[-1]["stream_worker"], items[-1]["stream_position"]])
        return batch


class StreamLoader:
    """A DataLoader over a `ShardStream` that records where the stream is, for checkpoints (`state`)."""

    def __init__(self, stream: ShardStream, collator: Any, epoch: int, batches_done: int = 0,
                 state: dict[str, Any] | None = None, pin_memory: bool = False) -> None:
        positions = None
        readers = [stream.world_size, stream.plan.num_workers]
        if state is not None and state.get("readers", readers) != readers:
            logger.warning("the stream was split %s (processes, workers) when saved, now %s: the epoch continues "
                           "after the same number of batches, but not exactly where it stopped",
                           state.get("readers"), readers)
            state = None
        if state is not None and int(state.get("epoch", -1)) == epoch and int(state.get("batches", -1)) == batches_done:
            positions = state.get("positions")
        elif state is not None and batches_done:
            logger.warning("stream state (epoch %s, batch %s) does not match the checkpoint (epoch %s, batch %s): "
                           "assuming no skipped samples", state.get("epoch"), state.get("batches"), epoch, batches_done)
        stream.start(epoch, batches_done, positions)
        self.epoch, self.batches, self.readers = epoch, batches_done, readers
        self.positions = {w: stream.worker_progress(w)[1] for w in range(stream.plan.num_workers)}
        self.loader = DataLoader(stream, batch_size=stream.batch_size, collate_fn=StreamCollator(collator),
                                 num_workers=stream.num_workers, pin_memory=pin_memory,
                                 **loader_kwargs(stream.num_workers))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.loader:
            worker, position = (int(x) for x in batch.pop("stream_state"))
            self.positions[worker] = position
            self.batches += 1
            yield batch

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batches": self.batches, "positions": dict(self.positions),
                "readers": self.readers}


__all__ = ["ON_BAD", "ShardStream", "StreamCollator", "StreamLoader", "StreamPlan", "caption_group"]
