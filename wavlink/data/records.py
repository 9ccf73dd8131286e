"""The two views of a `Source` the package uses: caption pairs (training, retrieval evaluation) and labels
(zero-shot evaluation), plus `load_source`, which reads a training or validation source spec into pairs.

Caption pairs: clips (`ClipRef`: a file path, or row `row` of the `datasets` / shard source number `source`)
and (clip, caption) pairs (`CaptionPair`). Rows naming the same clip are one clip; a caption cell may hold a
list; wide ``caption_1 .. caption_N`` columns work too. Nothing here touches audio samples.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from .shards import BadSample, is_shard_spec, sample_captions
from .sources import (
    CAPTION_COLUMNS,
    LABEL_COLUMNS,
    Source,
    SourceRow,
    dataset_dict_key,
    is_dataset_dict,
    is_dataset_dir,
    load_dataset_source,
    open_source,
    pick_column,
    read_dataset_rows,
    read_folder_rows,
    read_manifest_rows,
    read_shard_rows,
    shard_meta,
)
from .splits import normalize_split


@dataclass
class ClipRef:
    """One audio clip: a file path, or row `row` of the `datasets` (or shard) source number `source`."""

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
    """Optional ``duration`` cell (seconds): lets bucketing skip reading file headers."""
    if value in (None, ""):
        return None
    try:
        duration = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{origin}: duration {value!r} is not a number of seconds") from None
    if not duration > 0:
        raise ValueError(f"{origin}: duration must be positive, got {value!r}")
    return duration


def caption_records(source: Source, caption_column: str | None = None, source_index: int = 0,
                    on_bad_sample: str = "fail") -> tuple[list[ClipRef], list[CaptionPair]]:
    """Clips and (clip, caption) pairs of `source`'s rows; `source_index` is what dataset and shard clips
    point at. A shard sample without a caption fails naming shard and key, or is skipped and counted."""
    clips: list[ClipRef] = []
    by_key: dict[str, int] = {}
    pairs: list[CaptionPair] = []

    def add(key: str, clip: ClipRef, texts: list[str], origin: str) -> None:
        if key not in by_key:
            by_key[key] = len(clips)
            clips.append(clip)
        pairs.extend(CaptionPair(by_key[key], text, origin) for text in texts)

    if source.kind == "shards":
        bad = 0
        for row in source.rows:
            try:
                texts = sample_captions(row.cells)
            except BadSample:
                if on_bad_sample != "skip":
                    raise
                bad += 1
                continue
            add(row.origin, ClipRef(row.origin, source=source_index, row=row.index), texts, row.origin)
        if bad:
            logging.getLogger(__name__).warning("%s: skipped %d sample(s) without a caption", source.name, bad)
        return clips, pairs
    where = str(source.file or source.name)
    wide = sorted((c for c in source.columns if c.startswith("caption_") and c[8:].isdigit()),
                  key=lambda c: int(c[8:]))
    column = pick_column(source.columns, caption_column, CAPTION_COLUMNS, "caption", where,
                         required=not wide or caption_column is not None)
    for row in source.rows:
        if column is not None:
            texts = _captions_of(row.cells.get(column), row.origin, column)
        else:
            texts = [t for c in wide for t in _captions_of(row.cells.get(c), row.origin, c)]
        if source.kind == "dataset":
            key = f"{source.name}:{row.audio}" if row.audio else f"{source.name}:row{row.index}"
            add(key, ClipRef(key, None, source_index, row.index), texts, row.origin)
        else:
            add(row.audio, ClipRef(row.audio, row.audio, duration=_duration_cell(row.cells.get("duration"),
                                                                                  row.origin)), texts, row.origin)
    return clips, pairs


@dataclass
class LabelRecords:
    """One label per row (zero-shot evaluation): the rows, their labels, their folds (None without a
    ``fold`` column) and the class list a `datasets` ClassLabel column declares (else None)."""

    rows: list[SourceRow]
    labels: list[str]
    folds: list[int] | None
    declared_classes: list[str] | None = None


def label_records(source: Source, label_column: str | None = None) -> LabelRecords:
    """The label (and fold) of every row; shards take the ``.json`` member's ``label``."""
    if source.kind == "shards":
        labels = []
        for row in source.rows:
            label = shard_meta(row).get("label")
            if label is None or not str(label).strip():
                raise BadSample(f"shard {row.cells.get('__url__')} key {row.cells.get('__key__')!r}: no label "
                                "(zero-shot shards need a .json member with 'label')")
            labels.append(str(label).strip())
        return LabelRecords(source.rows, labels, None)
    where = str(source.file or source.name)
    column = pick_column(source.columns, label_column, LABEL_COLUMNS, "label", where)
    declared = None
    if source.kind == "dataset":
        import datasets

        feature = source.data.features[column]
        if isinstance(feature, datasets.ClassLabel):
            declared = list(feature.names)
    labels, folds = [], []
    has_fold = "fold" in source.columns
    for row in source.rows:
        value = row.cells.get(column)
        if value is None or not str(value).strip():
            raise ValueError(f"{row.origin}: no label in column {column!r}")
        labels.append(declared[int(value)] if declared is not None else str(value).strip())
        if has_fold:
            try:
                folds.append(int(row.cells["fold"]))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{row.origin}: non-integer fold {row.cells.get('fold')!r}") from err
    return LabelRecords(source.rows, labels, folds if has_fold else None, declared)


# --------------------------------------------------------------------------- training's source specs
def read_manifest(path: str | os.PathLike, split: str | None = None, audio_column: str | None = None,
                  caption_column: str | None = None, default_split: str = "train",
                  ) -> tuple[list[ClipRef], list[CaptionPair]]:
    """Clips and pairs of a manifest file; ``split=None`` keeps every row, else rows of that split (rows
    without one count as `default_split`)."""
    source = read_manifest_rows(path, audio_column).select(split, default_split)
    return caption_records(source, caption_column)


def read_audiofolder(folder: str | os.PathLike, split: str | None = None, caption_column: str | None = None,
                     default_split: str = "train") -> tuple[list[ClipRef], list[CaptionPair]]:
    """An audio folder: ``metadata.csv/jsonl`` (or ``manifest.*``) at the top, or one per ``train/
    validation/ test/`` sub-folder."""
    source = read_folder_rows(folder).select(split, default_split)
    return caption_records(source, caption_column)


def read_hf_dataset(dataset: Any, source: int = 0, split: str | None = None, audio_column: str | None = None,
                    caption_column: str | None = None, name: str = "dataset", default_split: str = "train",
                    ) -> tuple[list[ClipRef], list[CaptionPair], Any]:
    """Clips and pairs of a `datasets.Dataset` (a `DatasetDict` needs `split`); returns the undecoded dataset
    that the clips' rows point into."""
    if is_dataset_dict(dataset):
        key = dataset_dict_key(dataset, normalize_split(split, name) if split is not None else None)
        if key is None:
            raise ValueError(f"{name}: a DatasetDict needs split= one of {list(dataset)}")
        dataset, split = dataset[key], None
    rows = read_dataset_rows(dataset, audio_column, name).select(split, default_split)
    clips, pairs = caption_records(rows, caption_column, source)
    return clips, pairs, _audio_only(rows)


def _audio_only(source: Source) -> Any:
    """The dataset the clips point into, with its audio column only (what DataLoader workers get a copy of)."""
    return source.data.select_columns([source.audio_column])


def read_shards(spec: Any, name: str | None = None, source: int = 0, on_bad_audio: str = "fail"):
    """All samples of (small) shards in memory: clips, pairs, and the rows the clips point into
    (``rows[i]["audio"]["bytes"]``, read by `AudioCaptionDataset` like a `datasets` source)."""
    shards = read_shard_rows(spec, name, on_bad_audio)
    clips, pairs = caption_records(shards, source_index=source, on_bad_sample=on_bad_audio)
    return clips, pairs, shards.data, shards.name


def load_source(spec: Any, split: str | None = None, source_index: int = 0, default_split: str = "train",
                ) -> tuple[list[ClipRef], list[CaptionPair], Any, str | None, str]:
    """Read one training / validation source: a manifest path, an audio folder, a `datasets` object or
    ``save_to_disk`` folder, ``hf:NAME``, shards, or a dict ``{"manifest": PATH}`` / ``{"audiofolder": DIR}`` /
    ``{"hf": NAME_OR_DIR, "config": ..., "hf_split": ...}`` plus optional ``audio_column``, ``caption_column``
    and ``split``.

    ``split`` (and ``hf_split``) pin a source to the split it is read for in its role (training sources are
    asked for `default_split` "train", evaluation sources for "validation"): such a source contributes nothing
    when another split is asked for, so the trainer's look for a validation split in the training sources
    never returns the training rows. A `DatasetDict` lacking the asked split likewise contributes nothing,
    unless it is the source's own role (then it is an error listing its splits). Shards are one split: they
    contribute nothing when another role's split is asked for.
    Returns (clips, pairs, dataset / shard rows or None, their audio column or None, display name).
    """
    other_role = split is not None and split != default_split
    if is_shard_spec(spec):
        if other_role:
            return [], [], None, None, str(spec)
        clips, pairs, rows, name = read_shards(spec, source=source_index)
        return clips, pairs, rows, "audio", name
    if not isinstance(spec, dict):
        if hasattr(spec, "column_names"):
            spec = {"hf_object": spec}
        elif isinstance(spec, str) and spec.startswith("hf:"):
            spec = {"hf": spec[3:]}
        elif is_dataset_dir(spec):
            spec = {"hf": os.fspath(spec)}
        else:
            spec = {"path": spec}  # a manifest file or an audio folder
    spec = dict(spec)
    pinned = spec.pop("split", None)
    audio_column = spec.pop("audio_column", None)
    caption_column = spec.pop("caption_column", None)
    label = str(spec.get("manifest") or spec.get("audiofolder") or spec.get("hf") or spec.get("path") or "dataset")
    if pinned is not None or spec.get("hf_split") is not None:
        if other_role:  # e.g. the validation look-up in a training source pinned to its training split
            return [], [], None, None, label
        if pinned is not None:
            split = pinned
    if "manifest" in spec or "audiofolder" in spec or "path" in spec:
        if "manifest" in spec:
            source = read_manifest_rows(spec["manifest"], audio_column)
        elif "audiofolder" in spec:
            source = read_folder_rows(spec["audiofolder"], audio_column)
        else:
            source = open_source(spec["path"], audio_column)
        clips, pairs = caption_records(source.select(split, default_split), caption_column)
        return clips, pairs, None, None, source.name
    if "hf" in spec or "hf_object" in spec:
        data = spec.get("hf_object")
        name = "hf-dataset"
        if data is None:
            name = str(spec["hf"])
            data = load_dataset_source(name, spec.get("config"), spec.get("hf_split"))
        hf_split = spec.get("hf_split")
        if is_dataset_dict(data):
            key = hf_split if hf_split is not None else dataset_dict_key(data, split)
            if key not in data:
                if hf_split is None and other_role:  # this source simply has no such split
                    return [], [], None, None, name
                raise ValueError(f"{name}: split {key if hf_split is not None else split!r} not in {list(data)}")
            data, split = data[key], None
        rows = read_dataset_rows(data, audio_column, name)
        clips, pairs = caption_records(rows.select(split, default_split), caption_column, source_index)
        return clips, pairs, _audio_only(rows), rows.audio_column, name
    raise ValueError(f"unknown data source {spec!r}: give a manifest path, an audio folder, or a dict with "
                     "'manifest', 'audiofolder' or 'hf'")


__all__ = [
    "CaptionPair",
    "ClipRef",
    "LabelRecords",
    "caption_records",
    "label_records",
    "load_source",
    "read_audiofolder",
    "read_hf_dataset",
    "read_manifest",
    "read_shards",
]
