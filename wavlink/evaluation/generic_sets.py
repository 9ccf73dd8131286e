"""The generic ``retrieval`` / ``zero-shot`` tasks: any layout the data reader (`wavlink.data.sources`) reads
- a caption or label manifest, a folder holding one (possibly in ``train/ validation/ test/`` sub-folders), a
`datasets` dataset or ``save_to_disk`` folder, WebDataset shards - as a `RetrievalSet` / `ClassificationSet`.

Reading is the data layer's, so a manifest means the same here as in training; this module only applies
evaluation's rules: the split (``test``, else ``validation``; training rows only when asked for), clips that
must exist on disk, one label per clip, and the class list (given, declared by a `datasets` ClassLabel, or the
labels of every split, so a split scores against all classes). Nothing is downloaded; audio stays undecoded.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.records import caption_records, label_records
from ..data.shards import is_shard_spec
from ..data.sources import (
    LABEL_COLUMNS,
    Source,
    SourceRow,
    check_files,
    dataset_audio_items,
    dataset_dict_key,
    display_name,
    is_dataset_dict,
    is_dataset_dir,
    load_dataset_source,
    open_source,
    pick_column,
    read_dataset_rows,
)
from ..data.splits import normalize_split
from .sets import ClassificationSet, RetrievalSet, label_order


def open_for_evaluation(data: Any, split: str | None = None, audio_column: str | None = None,
                        audio_root: str | os.PathLike | None = None) -> tuple[Source, Source, str | None]:
    """(all rows, the rows of the evaluated split, that split) of any layout. A `DatasetDict` is evaluated on
    ``split``, else ``test``, else its only split."""
    if isinstance(data, (str, os.PathLike)) and not is_shard_spec(data) and is_dataset_dir(data):
        name, data = Path(data).name, load_dataset_source(data)
    else:
        name = "dataset"
    if hasattr(data, "column_names"):
        used = None
        if is_dataset_dict(data):
            wanted = normalize_split(split, name) if split is not None else None
            used = dataset_dict_key(data, wanted) if wanted is not None else (
                "test" if "test" in data else next(iter(data)) if len(data) == 1 else None)
            if used is None:
                raise ValueError(f"{name}: choose a split with --split; available: {list(data)}")
            data = data[used]
        source = read_dataset_rows(data, audio_column, name)
        return source, source, used
    source = open_source(data, audio_column, audio_root)
    if not source.rows:
        raise ValueError(f"{source.file or source.name}: empty query set: no rows")
    if source.kind == "shards":
        return source, source, None
    selected, used = source.select_for_evaluation(split)
    return source, selected, used


def _file_audio(source: Source, paths: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Clips on disk (they must exist) and their ids: paths relative to the data's folder."""
    check_files(paths, str(source.file), f" (paths are relative to {source.root})")
    return list(paths), [os.path.relpath(p, source.root) for p in paths]


def _row_audio(source: Source, rows: Sequence[SourceRow]) -> tuple[list[Any], list[str] | None]:
    """Dataset rows' undecoded audio (no ids), or shard samples' bytes (their shard keys as ids)."""
    if source.kind == "dataset":
        return dataset_audio_items(source, rows), None
    return [source.data[r.index]["audio"] for r in rows], [r.origin for r in rows]


def load_retrieval_set(data: Any, split: str | None = None, audio_root: str | os.PathLike | None = None,
                       audio_column: str | None = None, caption_column: str | None = None,
                       name: str | None = None) -> RetrievalSet:
    """Clips and captions: rows naming the same clip are captions of one clip (first-seen order); a caption
    cell may hold a list, and wide ``caption_1 .. caption_N`` columns work too."""
    _, source, used = open_for_evaluation(data, split, audio_column, audio_root)
    clips, pairs = caption_records(source, caption_column)
    if source.kind in ("dataset", "shards"):
        by_index = {r.index: r for r in source.rows}
        audio, ids = _row_audio(source, [by_index[c.row] for c in clips])
    else:
        audio, ids = _file_audio(source, [c.path for c in clips])
    default = "retrieval" if source.kind == "dataset" and source.name == "dataset" else display_name(source)
    return RetrievalSet(audio, [p.caption for p in pairs], [p.clip for p in pairs], name=name or default,
                        audio_ids=ids, split=used)


def load_classification_set(data: Any, split: str | None = None, audio_root: str | os.PathLike | None = None,
                            audio_column: str | None = None, label_column: str | None = None,
                            class_names: Sequence[str] | None = None, name: str | None = None) -> ClassificationSet:
    """One label per clip (+ optional ``fold``); a clip listed twice is an error (it would count twice)."""
    everything, source, used = open_for_evaluation(data, split, audio_column, audio_root)
    records = label_records(source, label_column)
    if class_names is None and records.declared_classes is not None:
        class_names = records.declared_classes
    elif class_names is None and used is not None and source.kind != "dataset":  # every split's labels
        column = pick_column(everything.columns, label_column, LABEL_COLUMNS, "label", everything.name)
        class_names = sorted({str(r.cells.get(column)).strip() for r in everything.rows
                              if str(r.cells.get(column) or "").strip()})
    if source.kind in ("dataset", "shards"):
        audio, ids = _row_audio(source, records.rows)
    else:
        audio, ids = _file_audio(source, [r.audio for r in records.rows])
        dupes = [a for a, c in Counter(audio).items() if c > 1]
        if dupes:
            raise ValueError(f"{source.file}: {len(dupes)} clip(s) listed more than once, e.g. {dupes[0]}")
    where = str(source.file or source.name)
    names, idx = label_order(records.labels, class_names, where)
    default = "zero-shot" if source.kind == "dataset" and source.name == "dataset" else display_name(source)
    return ClassificationSet(audio, idx, names, folds=records.folds, name=name or default, audio_ids=ids,
                             split=used)


__all__ = ["load_classification_set", "load_retrieval_set", "open_for_evaluation"]
