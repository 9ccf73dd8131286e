"""(audio, caption) pairs for contrastive training: manifests, audio folders, `datasets` datasets.

Three sources, one dataset class:

* a CSV/TSV/JSONL manifest with columns ``audio`` (path, relative to the manifest's folder) and ``caption``;
  several rows may share a clip; an optional ``split`` column holds train / validation / test;
* an audio folder with ``metadata.csv`` or ``metadata.jsonl`` (``file_name`` + ``caption``, the Hugging Face
  audiofolder layout; ``train/``, ``validation/``, ``test/`` sub-folders with their own metadata also work);
* a `datasets.Dataset` with an ``Audio`` column (decoded here from its ``path``/``bytes`` with soundfile, so
  neither torchcodec nor torchaudio is needed).

Why the pieces look the way they do:

* Decoding happens in ``__getitem__`` (so in DataLoader workers) with soundfile + soxr; only the crop window
  is read from disk.
* Training crops a random window of ``max_seconds``; the window is drawn from ``(seed, epoch, index)``, so a
  resumed run sees exactly the crops an uninterrupted run would. Evaluation never crops randomly.
* `LengthBucketBatchSampler` sorts by duration inside shuffled buckets so each batch pads little, and shards
  whole batches across processes (equal local batch sizes, as the gathered losses require).
* ``group_ids``: rows of the same clip and rows with the same caption (after case/space/full-stop
  normalisation) share an id, computed once over the whole dataset (connected components), so the ids mean the
  same on every process and duplicates are never used as negatives by the loss.
* `validate` probes every clip once (header read) and returns a `DataReport` listing missing, empty,
  zero-length or undecodable files with the manifest rows that use them; ``on_error="fail"`` raises with that
  list, ``"skip"`` drops the pairs and says how many. A bad file met later still raises naming the file:
  never a silent wrong pair.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data import SPLIT_ALIASES, TABLE_SUFFIXES, decode_audio, normalize_split, probe_audio, read_table
from .augment import AugmentConfig, augment_wave, join_captions, mix_clips

logger = logging.getLogger(__name__)

MANIFEST_SUFFIXES = TABLE_SUFFIXES
METADATA_NAMES = ("metadata.csv", "metadata.jsonl", "metadata.tsv")
ON_ERROR = ("fail", "skip")
CAPTION_SAMPLING = ("all", "random")
MAX_LISTED_PROBLEMS = 20


def normalize_caption(text: str) -> str:
    """Key under which two captions count as identical (case, spacing and a final full stop ignored)."""
    return re.sub(r"\s+", " ", text).strip().casefold().rstrip(".").strip()


@dataclass
class ClipRef:
    """One audio clip: a file path, or row `row` of the `datasets` source number `source`."""

    key: str
    path: str | None = None
    source: int | None = None
    row: int | None = None
    duration: float | None = None


@dataclass(frozen=True)
class CaptionPair:
    clip: int
    caption: str
    origin: str


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


# ---------------------------------------------------------------------------------------------- reading sources


def _read_table(path: Path) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """(columns, (origin, row) pairs) of a manifest file (the data layer's reader)."""
    table = read_table(path)
    return table.columns, table.items()


def _captions_of(value: Any, origin: str, column: str) -> list[str]:
    """A caption cell: one string, or a list of strings (several captions of the clip)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{origin}: empty caption list in column {column!r}")
    out = []
    for v in values:
        if v is None or not isinstance(v, str) or not v.strip():
            raise ValueError(f"{origin}: empty caption in column {column!r}")
        out.append(v.strip())
    return out


def _duration_cell(value: Any, origin: str) -> float | None:
    """Optional ``duration`` column (seconds): lets bucketing skip reading file headers."""
    if value in (None, ""):
        return None
    try:
        duration = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{origin}: duration {value!r} is not a number of seconds") from None
    if not duration > 0:
        raise ValueError(f"{origin}: duration must be positive, got {value!r}")
    return duration


def _table_pairs(
    table_path: Path,
    base_dir: Path,
    audio_column: str,
    caption_column: str,
    split_column: str,
    split: str | None,
    split_override: str | None = None,
    default_split: str = "train",
) -> tuple[list[ClipRef], list[CaptionPair]]:
    columns, rows = _read_table(table_path)
    missing = [c for c in (audio_column, caption_column) if c not in columns]
    if missing:
        raise ValueError(
            f"{table_path}: missing column(s) {', '.join(repr(c) for c in missing)} (found: "
            f"{', '.join(columns) or 'none'}); a manifest needs {audio_column!r} (audio path) and "
            f"{caption_column!r}"
        )
    clips: list[ClipRef] = []
    by_key: dict[str, int] = {}
    pairs: list[CaptionPair] = []
    for origin, row in rows:
        if split_override is not None:
            row_split = split_override
        elif split_column in columns and str(row.get(split_column) or "").strip():
            row_split = normalize_split(row[split_column], origin)
        else:
            row_split = default_split
        if split is not None and row_split != split:
            continue
        rel = row.get(audio_column)
        if rel is None or not str(rel).strip():
            raise ValueError(f"{origin}: empty {audio_column!r} path")
        path = os.path.normpath(os.path.join(base_dir, str(rel).strip()))
        for caption in _captions_of(row.get(caption_column), origin, caption_column):
            if path not in by_key:
                by_key[path] = len(clips)
                clips.append(ClipRef(key=path, path=path, duration=_duration_cell(row.get("duration"), origin)))
            pairs.append(CaptionPair(by_key[path], caption, origin))
    return clips, pairs


def read_manifest(
    path: str | os.PathLike,
    split: str | None = None,
    audio_column: str = "audio",
    caption_column: str = "caption",
    split_column: str = "split",
    default_split: str = "train",
) -> tuple[list[ClipRef], list[CaptionPair]]:
    """Clips and pairs of a manifest; audio paths are relative to the manifest's folder (or absolute).

    ``split=None`` keeps every row; otherwise rows of that split, where rows without a split value (or
    manifests without a split column) count as `default_split` ("train" for training sources, "validation"
    for explicit evaluation sources).
    """
    path = Path(path)
    split = normalize_split(split, str(path)) if split is not None else None
    return _table_pairs(path, path.parent, audio_column, caption_column, split_column, split,
                        default_split=default_split)


def read_audiofolder(
    folder: str | os.PathLike,
    split: str | None = None,
    caption_column: str = "caption",
    file_column: str = "file_name",
    default_split: str = "train",
) -> tuple[list[ClipRef], list[CaptionPair]]:
    """An audiofolder: ``metadata.csv/jsonl`` at the top, or one per ``train/ validation/ test/`` sub-folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"audio folder not found: {folder}")
    split = normalize_split(split, str(folder)) if split is not None else None
    top = [folder / n for n in METADATA_NAMES if (folder / n).is_file()]
    if top:
        return _table_pairs(top[0], folder, file_column, caption_column, "split", split, default_split=default_split)
    clips: list[ClipRef] = []
    pairs: list[CaptionPair] = []
    found = False
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            sub_split = normalize_split(sub.name, str(sub))
        except ValueError:
            continue
        meta = [sub / n for n in METADATA_NAMES if (sub / n).is_file()]
        if not meta:
            continue
        found = True
        if split is not None and sub_split != split:
            continue
        c, p = _table_pairs(meta[0], sub, file_column, caption_column, "split", None, split_override=sub_split)
        offset = len(clips)
        clips.extend(c)
        pairs.extend(CaptionPair(x.clip + offset, x.caption, x.origin) for x in p)
    if not found:
        raise ValueError(
            f"{folder}: no {' / '.join(METADATA_NAMES)} (with {file_column!r} and {caption_column!r} columns) "
            "at the top or in train/ validation/ test/ sub-folders"
        )
    return clips, pairs


def _dataset_dict_key(dataset: Any, split: str | None) -> str | None:
    """The key of a `DatasetDict` holding `split` ('val' / 'valid' / 'dev' count as validation), or None."""
    if split is None:
        return None
    for key in dataset:
        if key == split or SPLIT_ALIASES.get(str(key).lower(), str(key).lower()) == split:
            return key
    return None


def read_hf_dataset(
    dataset: Any,
    source: int = 0,
    split: str | None = None,
    audio_column: str = "audio",
    caption_column: str = "caption",
    split_column: str = "split",
    name: str = "dataset",
    default_split: str = "train",
) -> tuple[list[ClipRef], list[CaptionPair], Any]:
    """Clips and pairs of a `datasets.Dataset` (a `DatasetDict` needs `split`); returns the undecoded dataset.

    Rows whose audio has the same ``path`` are one clip; the caption column may hold a string or a list.
    """
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        key = _dataset_dict_key(dataset, split)
        if key is None:
            raise ValueError(f"{name}: a DatasetDict needs split= one of {list(dataset)}")
        dataset, split = dataset[key], None
    missing = [c for c in (audio_column, caption_column) if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing} (found: {dataset.column_names})")
    if split is not None:
        wanted = normalize_split(split, name)
        if split_column in dataset.column_names:
            keep = [i for i, s in enumerate(dataset[split_column])
                    if (normalize_split(s, f"{name} row {i}") if s else default_split) == wanted]
        else:  # as in manifests, rows without a split value belong to `default_split`
            keep = list(range(len(dataset))) if wanted == default_split else []
        dataset = dataset.select(keep)
    feature = dataset.features[audio_column]
    if isinstance(feature, datasets.Audio):
        dataset = dataset.cast_column(audio_column, datasets.Audio(decode=False))
        paths = list(dataset.select_columns([audio_column]).flatten()[f"{audio_column}.path"])
    elif isinstance(feature, datasets.Value) and feature.dtype == "string":
        paths = list(dataset[audio_column])
    else:
        raise ValueError(f"{name}: column {audio_column!r} must be an Audio feature or a string path, got {feature}")
    dataset = dataset.select_columns([audio_column, caption_column])
    captions = list(dataset[caption_column])
    clips: list[ClipRef] = []
    by_key: dict[str, int] = {}
    pairs: list[CaptionPair] = []
    for row, (path, caption) in enumerate(zip(paths, captions)):
        origin = f"{name} row {row}"
        key = f"{name}:{path}" if path else f"{name}:row{row}"
        for text in _captions_of(caption, origin, caption_column):
            if key not in by_key:
                by_key[key] = len(clips)
                clips.append(ClipRef(key=key, path=None, source=source, row=row))
            pairs.append(CaptionPair(by_key[key], text, origin))
    return clips, pairs, dataset


# ---------------------------------------------------------------------------------------------- decoding


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


# ---------------------------------------------------------------------------------------------- dataset


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
    def from_manifest(cls, path: str | os.PathLike, split: str | None = None, *, audio_column: str = "audio",
                      caption_column: str = "caption", **kwargs: Any) -> AudioCaptionDataset:
        clips, pairs = read_manifest(path, split, audio_column=audio_column, caption_column=caption_column)
        kwargs.setdefault("name", f"{Path(path).name}" + (f" [{split}]" if split else ""))
        return cls(clips, pairs, **kwargs)

    @classmethod
    def from_audiofolder(cls, folder: str | os.PathLike, split: str | None = None, *,
                         caption_column: str = "caption", **kwargs: Any) -> AudioCaptionDataset:
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
            from tqdm.auto import tqdm

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


def load_source(
    spec: Any, split: str | None = None, source_index: int = 0, default_split: str = "train"
) -> tuple[list[ClipRef], list[CaptionPair], Any, str | None, str]:
    """Read one data source: a manifest path, an audio folder, a `datasets` object, or a dict.

    A string is a manifest file, an audio folder, a `datasets` ``save_to_disk`` folder (recognised by its
    ``dataset_dict.json`` / ``state.json``), or ``hf:NAME`` for `datasets.load_dataset(NAME)`.
    Dict form: ``{"manifest": PATH}`` / ``{"audiofolder": DIR}`` / ``{"hf": NAME_OR_DIR, "config": ...,
    "hf_split": ...}`` plus optional ``audio_column``, ``caption_column`` and ``split``.

    ``split`` (and ``hf_split``) pin a source to the split it is read for in its role (training sources are
    asked for `default_split` "train", evaluation sources for "validation"): such a source contributes nothing
    when another split is asked for, so the trainer's look for a validation split in the training sources
    never returns the training rows. A `DatasetDict` lacking the asked split likewise contributes nothing,
    unless it is the source's own role (then it is an error listing its splits). ``hf`` is tried as a
    `save_to_disk` folder first, then with `datasets.load_dataset`.
    Returns (clips, pairs, dataset or None, audio column or None, display name).
    """
    if not isinstance(spec, dict):
        if hasattr(spec, "column_names"):
            spec = {"hf_object": spec}
        elif isinstance(spec, str) and spec.startswith("hf:"):
            spec = {"hf": spec[3:]}
        else:
            path = Path(spec)
            if path.is_dir() and not any((path / n).is_file() for n in METADATA_NAMES) and any(
                    (path / n).is_file() for n in ("dataset_dict.json", "state.json")):
                spec = {"hf": str(path)}
            else:
                spec = {"audiofolder": str(path)} if path.is_dir() else {"manifest": str(path)}
    spec = dict(spec)
    pinned = spec.pop("split", None)
    audio_column = spec.pop("audio_column", None)
    caption_column = spec.pop("caption_column", "caption")
    other_role = split is not None and split != default_split
    if pinned is not None or spec.get("hf_split") is not None:
        if other_role:  # e.g. the validation look-up in a training source pinned to its training split
            return [], [], None, None, str(spec.get("manifest") or spec.get("audiofolder") or spec.get("hf"))
        if pinned is not None:
            split = pinned
    if "manifest" in spec:
        path = Path(spec["manifest"])
        c, p = read_manifest(path, split, audio_column=audio_column or "audio", caption_column=caption_column,
                             default_split=default_split)
        return c, p, None, None, path.name
    if "audiofolder" in spec:
        path = Path(spec["audiofolder"])
        c, p = read_audiofolder(path, split, caption_column=caption_column, default_split=default_split)
        return c, p, None, None, path.name + "/"
    if "hf" in spec or "hf_object" in spec:
        import datasets

        ds = spec.get("hf_object")
        name = "hf-dataset"
        if ds is None:
            name = str(spec["hf"])
            try:
                if Path(name).is_dir():
                    ds = datasets.load_from_disk(name)
                else:
                    ds = datasets.load_dataset(name, spec.get("config"), split=spec.get("hf_split"))
            except Exception as err:  # datasets raises FileNotFoundError, DatasetNotFoundError, ConnectionError...
                raise ValueError(f"cannot load the datasets source {name!r}: {type(err).__name__}: {err}") from err
        hf_split = spec.get("hf_split")
        if isinstance(ds, datasets.DatasetDict):
            key = hf_split if hf_split is not None else _dataset_dict_key(ds, split)
            if key not in ds:
                if hf_split is None and other_role:  # this source simply has no such split
                    return [], [], None, None, name
                raise ValueError(f"{name}: split {key if hf_split is not None else split!r} not in {list(ds)}")
            ds, split = ds[key], None
        col = audio_column or "audio"
        c, p, ds = read_hf_dataset(ds, source_index, split, col, caption_column, name=name,
                                   default_split=default_split)
        return c, p, ds, col, name
    raise ValueError(f"unknown data source {spec!r}: give a manifest path, an audio folder, or a dict with "
                     "'manifest', 'audiofolder' or 'hf'")


# ---------------------------------------------------------------------------------------------- batching


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
    "AudioCaptionCollator",
    "AudioCaptionDataset",
    "AudioProblem",
    "CaptionPair",
    "ClipRef",
    "DataReport",
    "LengthBucketBatchSampler",
    "decode_segment",
    "load_source",
    "normalize_caption",
    "probe_audio",
    "read_audiofolder",
    "read_hf_dataset",
    "read_manifest",
    "split_clips",
]
