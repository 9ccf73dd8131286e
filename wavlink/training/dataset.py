"""`AudioCaptionDataset`: (audio, caption) examples for contrastive training and validation, built from the
clip and pair records of `wavlink.data.records` (the package's one data reader).

Why it looks the way it does:

* Decoding happens in ``__getitem__`` (so in DataLoader workers) with soundfile + soxr (the package's one
  decoder, `wavlink.data.decode_audio`); only the crop window is read from disk.
* Training crops a random window of ``max_seconds``; the window is drawn from ``(seed, epoch, index)``, so a
  resumed run sees exactly the crops an uninterrupted run would. Evaluation never crops randomly.
* ``group_ids``: rows of the same clip and rows with the same caption (after case/space/full-stop
  normalisation) share an id, computed once over the whole dataset (connected components), so the ids mean the
  same on every process and duplicates are never used as negatives by the loss.
* `validate` probes every clip once (header read) and returns a `DataReport` listing missing, empty,
  zero-length or undecodable files with the manifest rows that use them; ``on_error="fail"`` raises with that
  list, ``"skip"`` drops the pairs and says how many. A bad file met later still raises naming the file:
  never a silent wrong pair.
* `split_clips` holds out whole clips (with all their captions) for validation, so no caption of a
  validation clip is trained on.

Batching (length buckets, collation into model inputs) is `batching`'s job.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..data import decode_audio, probe_audio
from ..data.records import CaptionPair, ClipRef, load_source, read_audiofolder, read_hf_dataset, read_manifest
from .augment import AugmentConfig, augment_wave, join_captions, mix_clips

logger = logging.getLogger(__name__)

ON_ERROR = ("fail", "skip")
CAPTION_SAMPLING = ("all", "random")
MAX_LISTED_PROBLEMS = 20


def normalize_caption(text: str) -> str:
    """Key under which two captions count as identical (case, spacing and a final full stop ignored)."""
    return re.sub(r"\s+", " ", text).strip().casefold().rstrip(".").strip()


@dataclass
class AudioProblem:
    clip: str
    reason: str
    origins: list[str]


@dataclass
class DataReport:
    """Outcome of `AudioCaptionDataset.validate`: what was checked and every problem found."""

    name: str
    n_clips: int
    n_pairs: int
    problems: list[AudioProblem] = field(default_factory=list)
    skipped_pairs: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.name}: {self.n_pairs} pairs, {self.n_clips} clips"
        if self.ok:
            return head + ", all audio readable"
        lines = [f"{head}; {len(self.problems)} clip(s) with missing or unreadable audio:"]
        for p in self.problems[:MAX_LISTED_PROBLEMS]:
            where = ", ".join(p.origins[:3]) + (f" (+{len(p.origins) - 3} more)" if len(p.origins) > 3 else "")
            lines.append(f"  {p.clip}: {p.reason} [{where}]")
        if len(self.problems) > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED_PROBLEMS} more")
        if self.skipped_pairs:
            lines.append(f"  skipped {self.skipped_pairs} pair(s) that use these clips")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "n_clips": self.n_clips, "n_pairs": self.n_pairs,
                "skipped_pairs": self.skipped_pairs,
                "problems": [{"clip": p.clip, "reason": p.reason, "origins": p.origins} for p in self.problems]}


def decode_segment(
    data: str | bytes,
    sampling_rate: int,
    start_fraction: float | None = None,
    max_seconds: float | None = None,
    name: str = "audio",
) -> np.ndarray:
    """Mono float32 at `sampling_rate`; with `max_seconds`, only a window is read (start = fraction of the slack;
    None: the start, deterministic, used at evaluation). The package's one decoder (`decode_audio`)."""
    return decode_audio(data, sampling_rate, max_seconds=max_seconds, start_fraction=start_fraction, name=name)


class AudioCaptionDataset(Dataset):
    """(audio, caption) examples with crops, group ids and a validation pass; see the module docstring.

    Args:
        clips / pairs: from `read_manifest`, `read_audiofolder`, `read_hf_dataset` (or the `from_*` helpers).
        sampling_rate: the model's rate; every clip is resampled to it.
        train: random crops of `max_seconds` (else the first `max_seconds`, or the whole clip when None).
        max_seconds: crop window (training) / truncation (evaluation); None keeps whole clips.
        seed: base of the per-(epoch, index) crop and caption choice.
        caption_sampling: ``"all"`` = every (clip, caption) row is one example per epoch; ``"random"`` = one
            example per clip per epoch with a caption drawn from (seed, epoch, clip) (the paper is silent).
        hf_sources: `datasets` objects that `ClipRef.source` points into.
        augment: training-time augmentation (augment.py); ignored when ``train`` is False.

    `attach_teacher` adds per-clip teacher scores (distill.py): examples then carry ``teacher_scores`` (zeros
    and ``has_teacher=False`` for clips the teacher did not score).
    """

    def __init__(
        self,
        clips: list[ClipRef],
        pairs: list[CaptionPair],
        *,
        sampling_rate: int = 16000,
        train: bool = False,
        max_seconds: float | None = None,
        seed: int = 0,
        caption_sampling: str = "all",
        hf_sources: Sequence[Any] = (),
        hf_audio_columns: Sequence[str] = (),
        name: str = "dataset",
        augment: AugmentConfig | None = None,
    ) -> None:
        if caption_sampling not in CAPTION_SAMPLING:
            raise ValueError(f"caption_sampling must be one of {CAPTION_SAMPLING}, got {caption_sampling!r}")
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}")
        self.clips = list(clips)
        self.pairs = list(pairs)
        self.sampling_rate = int(sampling_rate)
        self.train = train
        self.max_seconds = max_seconds
        self.seed = int(seed)
        self.caption_sampling = caption_sampling
        self.hf_sources = list(hf_sources)
        self.hf_audio_columns = list(hf_audio_columns)
        self.name = name
        self.augment = augment if augment is not None and augment.active else None
        self.teacher = None
        self.teacher_rows: np.ndarray | None = None
        self.epoch = 0
        self.report: DataReport | None = None
        self._reindex()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_manifest(cls, path: str | os.PathLike, split: str | None = None, *, audio_column: str | None = None,
                      caption_column: str | None = None, **kwargs: Any) -> AudioCaptionDataset:
        clips, pairs = read_manifest(path, split, audio_column=audio_column, caption_column=caption_column)
        kwargs.setdefault("name", f"{Path(path).name}" + (f" [{split}]" if split else ""))
        return cls(clips, pairs, **kwargs)

    @classmethod
    def from_audiofolder(cls, folder: str | os.PathLike, split: str | None = None, *,
                         caption_column: str | None = None, **kwargs: Any) -> AudioCaptionDataset:
        clips, pairs = read_audiofolder(folder, split, caption_column=caption_column)
        kwargs.setdefault("name", f"{Path(folder).name}/" + (f" [{split}]" if split else ""))
        return cls(clips, pairs, **kwargs)

    @classmethod
    def from_hf(cls, dataset: Any, split: str | None = None, *, audio_column: str = "audio",
                caption_column: str = "caption", **kwargs: Any) -> AudioCaptionDataset:
        name = kwargs.setdefault("name", "hf-dataset" + (f" [{split}]" if split else ""))
        clips, pairs, ds = read_hf_dataset(dataset, 0, split, audio_column, caption_column, name=name)
        return cls(clips, pairs, hf_sources=[ds], hf_audio_columns=[audio_column], **kwargs)

    @classmethod
    def from_sources(cls, sources: Sequence[Any], split: str | None = None, default_split: str = "train",
                     **kwargs: Any) -> AudioCaptionDataset:
        """Concatenate several sources; see `load_source` for what a source may be."""
        if isinstance(sources, (str, os.PathLike, dict)):
            sources = [sources]
        clips: list[ClipRef] = []
        pairs: list[CaptionPair] = []
        hf: list[Any] = []
        hf_cols: list[str] = []
        names = []
        for spec in sources:
            c, p, ds, col, name = load_source(spec, split, source_index=len(hf), default_split=default_split)
            if ds is not None:
                hf.append(ds)
                hf_cols.append(col)
            offset = len(clips)
            clips.extend(c)
            pairs.extend(CaptionPair(x.clip + offset, x.caption, x.origin) for x in p)
            names.append(name)
        kwargs.setdefault("name", " + ".join(names) + (f" [{split}]" if split else ""))
        return cls(clips, pairs, hf_sources=hf, hf_audio_columns=hf_cols, **kwargs)

    # ------------------------------------------------------------------ bookkeeping
    def _reindex(self) -> None:
        """Captions per clip, examples, and dataset-wide group ids (same clip or same caption)."""
        self.captions_of: list[list[int]] = [[] for _ in self.clips]
        for i, p in enumerate(self.pairs):
            self.captions_of[p.clip].append(i)
        self.example_clips = [c for c, caps in enumerate(self.captions_of) if caps]
        parent = list(range(len(self.clips)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        first_clip_of_caption: dict[str, int] = {}
        for p in self.pairs:
            other = first_clip_of_caption.setdefault(normalize_caption(p.caption), p.clip)
            ra, rb = find(p.clip), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        roots = [find(c) for c in range(len(self.clips))]
        ids = {r: i for i, r in enumerate(sorted(set(roots)))}
        self.clip_group = [ids[r] for r in roots]

    def __len__(self) -> int:
        return len(self.pairs) if self.caption_sampling == "all" else len(self.example_clips)

    def set_epoch(self, epoch: int) -> None:
        """Crops and random captions depend on the epoch; set it before building the epoch's DataLoader."""
        self.epoch = int(epoch)

    def _rng(self, index: int, stream: int = 0) -> np.random.Generator:
        """Randomness of one example in one epoch (stream 0: crop, 1: caption choice), independent of workers."""
        return np.random.default_rng([self.seed, self.epoch, index, stream])

    def _example(self, index: int) -> tuple[int, int]:
        """(pair index, clip index) of an example."""
        if self.caption_sampling == "all":
            return index, self.pairs[index].clip
        clip = self.example_clips[index]
        caps = self.captions_of[clip]
        choice = caps[int(self._rng(index, 1).integers(len(caps)))] if self.train and len(caps) > 1 else caps[0]
        return choice, clip

    def example_durations(self) -> list[float]:
        """Seconds each example contributes after cropping (for length bucketing); probes if unknown."""
        self._fill_durations()
        cap = self.max_seconds if self.max_seconds is not None else float("inf")
        if self.caption_sampling == "all":
            return [min(self.clips[p.clip].duration or 0.0, cap) for p in self.pairs]
        return [min(self.clips[c].duration or 0.0, cap) for c in self.example_clips]

    def _fill_durations(self) -> None:
        for c in self.example_clips:
            clip = self.clips[c]
            if clip.duration is None:
                duration, problem = probe_audio(self._audio_data(clip))
                if problem:
                    raise ValueError(f"{self.name}: {clip.key}: {problem}; run validate() to list every bad file")
                clip.duration = duration

    def _audio_data(self, clip: ClipRef) -> str | bytes | None:
        if clip.source is None:
            return clip.path
        value = self.hf_sources[clip.source][clip.row][self.hf_audio_columns[clip.source]]
        if isinstance(value, str):
            return value
        if value.get("bytes"):
            return value["bytes"]
        return value.get("path")

    def load_clip(self, clip_index: int, crop_index: int | None = None) -> np.ndarray:
        """Waveform of a clip: random window when training (seeded by `crop_index`), else deterministic."""
        clip = self.clips[clip_index]
        fraction = float(self._rng(crop_index).random()) if self.train and crop_index is not None else None
        name = f"{clip.key} ({self.pairs[self.captions_of[clip_index][0]].origin})" if self.captions_of[
            clip_index] else clip.key
        return decode_segment(self._audio_data(clip), self.sampling_rate, fraction, self.max_seconds, name=name)

    def attach_teacher(self, teacher: Any) -> int:
        """Use a `TeacherScores` table for this dataset's clips; returns how many clips it covers."""
        self.teacher = teacher
        self.teacher_rows = np.array([teacher.row(c.path) for c in self.clips], dtype=np.int64)
        return int((self.teacher_rows[self.example_clips] >= 0).sum()) if self.example_clips else 0

    def _teacher_scores(self, clip: int) -> np.ndarray | None:
        if self.teacher is None:
            return None
        row = self.teacher_rows[clip]
        if row < 0:
            return np.zeros(len(self.teacher.labels), dtype=np.float32)
        return self.teacher.scores[row].astype(np.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} examples")
        pair_index, clip = self._example(index)
        wave, caption = self.load_clip(clip, crop_index=index), self.pairs[pair_index].caption
        scores = self._teacher_scores(clip)
        has_teacher = scores is not None and self.teacher_rows[clip] >= 0
        if self.train and self.augment is not None:
            rng = self._rng(index, 2)
            cfg = self.augment
            if cfg.mix_p and len(self) > 1 and rng.random() < cfg.mix_p:
                other = int(rng.integers(len(self) - 1))
                other += other >= index
                other_pair, other_clip = self._example(other)
                if self.clip_group[other_clip] != self.clip_group[clip]:
                    wave = mix_clips(wave, self.load_clip(other_clip, crop_index=other),
                                     float(rng.uniform(*cfg.mix_snr_db)), rng)
                    caption = join_captions(caption, self.pairs[other_pair].caption)
                    if scores is not None:
                        other_scores = self._teacher_scores(other_clip)
                        has_teacher = has_teacher and self.teacher_rows[other_clip] >= 0
                        scores = np.maximum(scores, other_scores) if has_teacher else scores * 0
            wave = augment_wave(wave, cfg, rng, self.sampling_rate)
        item = {"audio": wave, "caption": caption, "group_id": self.clip_group[clip], "clip_id": clip, "index": index}
        if scores is not None:
            item["teacher_scores"], item["has_teacher"] = scores, bool(has_teacher)
        return item

    # ------------------------------------------------------------------ validation
    def validate(self, on_error: str = "fail", deep: bool = False, progress: bool = False) -> DataReport:
        """Probe every clip once; fill durations; report (and skip or fail on) missing/unreadable audio.

        Raises:
            ValueError: ``on_error="fail"`` and some clip is bad (message lists them with their rows), or
                no pair is left.
        """
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        problems: list[AudioProblem] = []
        bad: set[int] = set()
        clips = range(len(self.clips))
        if progress:
            clips = tqdm(clips, desc=f"checking audio ({self.name})", unit="clip")
        for c in clips:
            clip = self.clips[c]
            if not self.captions_of[c]:
                continue
            if clip.duration is not None and not deep and clip.source is None:
                # a duration column was given: still make sure the file is there
                if clip.path and os.path.isfile(clip.path) and os.path.getsize(clip.path) > 0:
                    continue
            duration, problem = probe_audio(self._audio_data(clip), deep=deep)
            if problem:
                bad.add(c)
                problems.append(AudioProblem(clip.key, problem, [self.pairs[i].origin for i in self.captions_of[c]]))
            else:
                clip.duration = duration
        report = DataReport(self.name, len(self.example_clips), len(self.pairs), problems)
        if problems and on_error == "fail":
            raise ValueError(str(report) + "\n(pass on_error='skip' / --on-bad-audio skip to drop them)")
        if problems:
            keep = [p for p in self.pairs if p.clip not in bad]
            report.skipped_pairs = len(self.pairs) - len(keep)
            self.pairs = keep
            self._reindex()
            logger.warning("%s", report)
        if not self.pairs:
            raise ValueError(f"{self.name}: no usable (audio, caption) pairs")
        self.report = report
        return report

    # ------------------------------------------------------------------ evaluation view
    def retrieval_items(self) -> tuple[list[int], list[str], list[int]]:
        """(clip indices, captions, caption -> position in the clip list) for retrieval metrics."""
        clips = list(self.example_clips)
        position = {c: i for i, c in enumerate(clips)}
        captions = [p.caption for p in self.pairs]
        return clips, captions, [position[p.clip] for p in self.pairs]


def split_clips(dataset: AudioCaptionDataset, fraction: float, seed: int = 0,
                ) -> tuple[AudioCaptionDataset, AudioCaptionDataset]:
    """Hold out `fraction` of the clips (with all their captions) as a validation set; seeded."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    clips = dataset.example_clips
    n_val = max(1, int(round(len(clips) * fraction)))
    if n_val >= len(clips):
        raise ValueError(f"{dataset.name}: {len(clips)} clips are too few to hold out {fraction:.0%} for validation")
    held = set(np.random.default_rng([seed, 104729]).permutation(clips)[:n_val].tolist())
    common = dict(sampling_rate=dataset.sampling_rate, seed=dataset.seed, hf_sources=dataset.hf_sources,
                  hf_audio_columns=dataset.hf_audio_columns)
    train = AudioCaptionDataset(dataset.clips, [p for p in dataset.pairs if p.clip not in held], train=dataset.train,
                                max_seconds=dataset.max_seconds, caption_sampling=dataset.caption_sampling,
                                name=dataset.name + " (train part)", augment=dataset.augment, **common)
    val = AudioCaptionDataset(dataset.clips, [p for p in dataset.pairs if p.clip in held], train=False,
                              name=dataset.name + " (held-out validation)", **common)
    train.report = val.report = dataset.report
    return train, val


__all__ = [
    "CAPTION_SAMPLING",
    "ON_ERROR",
    "AudioCaptionDataset",
    "AudioProblem",
    "DataReport",
    "decode_segment",
    "normalize_caption",
    "split_clips",
]
