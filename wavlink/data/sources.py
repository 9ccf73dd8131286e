"""The one reader of every data layout. Training, evaluation, the index and search read their data here, so a
manifest, a folder, a dataset or a shard set means the same to each of them.

Layouts (`open_source` tells them apart; nothing here touches audio samples):

* a manifest file (``.csv``/``.tsv``/``.jsonl``/``.json``, read by `read_table`): one row per caption or
  label, an audio column (``audio``, ``audio_path``, ``path``, ``file_name``, ...) with paths relative to the
  manifest's folder (or absolute, or relative to `audio_root`), and an optional ``split`` column;
* a folder holding such a file (``manifest.*`` or the Hugging Face audiofolder's ``metadata.*``), at the top or
  in ``train/ validation/ test/`` sub-folders (then the sub-folder is the split);
* a `datasets` dataset: in memory, a ``save_to_disk`` folder, or ``hf:NAME``; its Audio column stays
  undecoded (the package decodes with soundfile: neither torchcodec nor torchaudio is needed);
* WebDataset shards (a ``.tar`` pattern or URL, ``pipe:``, a folder with ``shards.json``): read whole into
  memory, the audio kept encoded.

Every layout becomes a `Source`: one `SourceRow` per row with its origin ("data.csv line 12", "shard X key
Y") for error messages, its resolved audio path or its row in `Source.data`, its other cells, and its split.
`records` builds the two views the package uses (caption pairs, labels) from a `Source`.

Splits: a row's split is its ``split`` cell or its sub-folder, in `normalize_split`'s vocabulary, or None when
the layout names none. `Source.select` keeps one split as training asks for it (unlabelled rows count as the
role's default split); `Source.select_for_evaluation` as evaluation asks (``test``, else ``validation``;
training rows only when asked for by name).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .shards import BadSample, expand_shards, is_shard_spec, iter_raw, sample_audio
from .splits import SPLIT_ALIASES, SPLITS, normalize_split
from .tables import TABLE_SUFFIXES, read_table

AUDIO_COLUMNS = ("audio", "audio_path", "path", "file_name", "filename", "file")
CAPTION_COLUMNS = ("caption", "text", "captions")
LABEL_COLUMNS = ("label", "category", "class", "labels")
#: The manifest a folder may hold, in the order looked for (``metadata.*`` is the Hugging Face audiofolder's).
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl", "manifest.tsv", "manifest.json", "metadata.csv",
                  "metadata.jsonl", "metadata.tsv")
#: Files a `datasets` ``save_to_disk`` folder holds.
DATASET_MARKERS = ("dataset_dict.json", "state.json", "dataset_info.json")


class DataNotFoundError(FileNotFoundError, ValueError):
    """A data path that does not exist or holds no data (both errors, for either kind of caller)."""


#: The default split of an evaluation on data that has several, in order of preference.
EVALUATION_SPLITS = ("test", "validation")


@dataclass
class SourceRow:
    """One row of a source. `audio` is the resolved file path (manifests, folders; for datasets the path the
    Audio cell names, possibly None), `index` the row in `Source.data` (datasets, shards)."""

    origin: str
    audio: str | None
    cells: dict[str, Any]
    split: str | None = None
    index: int | None = None


@dataclass
class Source:
    """Rows of one layout. `data` is the undecoded `datasets.Dataset`, or the shards' in-memory rows
    (``[{"audio": {"bytes", "path"}}]``, read by training like a dataset); None for files on disk."""

    name: str
    kind: str  # "manifest" | "folder" | "dataset" | "shards"
    rows: list[SourceRow]
    columns: list[str]
    audio_column: str | None = None
    root: Path | None = None  # the folder relative audio paths were resolved against
    file: Path | None = None  # the manifest read (the first one for split sub-folders)
    split_column: bool = False  # rows take their split from a ``split`` column
    split_folders: dict[str, Path] = field(default_factory=dict)  # split -> metadata file of its sub-folder
    data: Any = None

    @property
    def splits_present(self) -> list[str]:
        return sorted({r.split or "train" for r in self.rows} if self.split_column else set(self.split_folders))

    def select(self, split: str | None, default_split: str = "train") -> Source:
        """The rows of `split` (None: all), rows without a split counting as `default_split` (training's rule)."""
        if split is None:
            return self
        split = normalize_split(split, self.name)
        return replace(self, rows=[r for r in self.rows if (r.split or default_split) == split])

    def select_for_evaluation(self, split: str | None) -> tuple[Source, str | None]:
        """Evaluation's rule: the asked split, else ``test``, else ``validation`` (training data only when asked
        for); empty split cells count as ``train``. A layout without splits is one split, and asking it for one
        is an error. Returns the rows kept and the split used (None for a layout without splits)."""
        where = str(self.file or self.name)
        if self.split_folders:
            chosen = normalize_split(split, self.name) if split is not None else _evaluation_split(
                self.split_folders, self.name)
            if chosen not in self.split_folders:
                raise ValueError(f"{self.name}: no {chosen}/ sub-folder with a metadata file; splits present: "
                                 f"{sorted(self.split_folders)}")
            file = self.split_folders[chosen]
            return replace(self.select(chosen), file=file, root=self.root or file.parent), chosen
        if not self.split_column:
            if split is not None:
                raise ValueError(f"{where}: --split {split!r} given but the manifest has no split column")
            return self, None
        present = self.splits_present
        chosen = normalize_split(split, where) if split is not None else _evaluation_split(present, where)
        selected = self.select(chosen)  # empty split cells count as train, as in training
        if not selected.rows:
            raise ValueError(f"{where}: no rows in split {chosen!r}; splits present: {present}")
        return selected, chosen


def _evaluation_split(present: Iterable[str], where: str) -> str:
    present = set(present)
    for name in EVALUATION_SPLITS:
        if name in present:
            return name
    raise ValueError(f"{where}: only {sorted(present)} data; evaluating on training data must be asked for "
                     "explicitly with --split train")


# --------------------------------------------------------------------------- checks shared by every reader
def require_path(path: Path, what: str, hint: str) -> Path:
    if not path.exists():
        raise DataNotFoundError(f"{what} not found: {path}\n{hint}")
    return path


def check_files(paths: Sequence[str], source: str, hint: str = "") -> None:
    """Every listed clip exists, or one error counting the missing ones."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(
            f"{source}: {len(missing)} of {len(paths)} clip(s) listed in the manifest are missing on disk, "
            f"e.g. {missing[:3]}{hint}"
        )


def pick_column(columns: Iterable[str], wanted: str | None, candidates: Sequence[str], what: str, source: str,
                required: bool = True) -> str | None:
    """`wanted` if given (it must exist), else the first of `candidates` present."""
    cols = list(columns)
    if wanted is not None:
        if wanted not in cols:
            raise ValueError(f"{source}: missing column(s) {wanted!r} for the {what} (found: "
                             f"{', '.join(cols) or 'none'})")
        return wanted
    for c in candidates:
        if c in cols:
            return c
    if required:
        raise ValueError(f"{source}: missing column(s) {candidates[0]!r} for the {what} (looked for "
                         f"{', '.join(candidates)}; found: {', '.join(cols) or 'none'})")
    return None


def is_dataset_dir(path: str | os.PathLike) -> bool:
    """A `datasets` ``save_to_disk`` folder (and not an audio folder with a manifest)."""
    p = Path(path)
    return p.is_dir() and not folder_manifest(p) and any((p / f).is_file() for f in DATASET_MARKERS)


def folder_manifest(folder: Path) -> Path | None:
    return next((folder / n for n in MANIFEST_NAMES if (folder / n).is_file()), None)


# --------------------------------------------------------------------------- manifests and folders
def _resolve(value: Any, root: Path) -> str:
    path = os.path.expanduser(str(value).strip())
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(root, path))


def read_manifest_rows(path: str | os.PathLike, audio_column: str | None = None,
                       audio_root: str | os.PathLike | None = None, split: str | None = None) -> Source:
    """A manifest file's rows; `split` tags every row (a split sub-folder's manifest), else the split column."""
    path = Path(path)
    table = read_table(path)
    column = pick_column(table.columns, audio_column, AUDIO_COLUMNS, "audio path", str(path))
    root = Path(audio_root) if audio_root else path.parent
    has_split = split is None and "split" in table.columns
    rows = []
    for origin, cells in table.items():
        value = cells.get(column)
        if value is None or not str(value).strip():
            raise ValueError(f"{origin}: empty {column!r} path")
        row_split = split
        if has_split and str(cells.get("split") or "").strip():
            row_split = normalize_split(cells["split"], origin)
        rows.append(SourceRow(origin, _resolve(value, root), cells, row_split))
    return Source(path.name, "manifest", rows, table.columns, column, root=root, file=path, split_column=has_split)


def read_folder_rows(folder: str | os.PathLike, audio_column: str | None = None,
                     audio_root: str | os.PathLike | None = None) -> Source:
    """A folder's manifest (``manifest.*`` / ``metadata.*``) at the top, or one per ``train/ validation/ test/``
    sub-folder (each sub-folder's paths relative to it)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"audio folder not found: {folder}")
    top = folder_manifest(folder)
    if top is not None:
        return replace(read_manifest_rows(top, audio_column, audio_root), kind="folder", name=folder.name + "/")
    subs: dict[str, Path] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            sub_split = normalize_split(sub.name, str(sub))
        except ValueError:
            continue
        meta = folder_manifest(sub)
        if meta is not None:
            subs.setdefault(sub_split, meta)
    if not subs:
        raise DataNotFoundError(
            f"no manifest in {folder}: put a manifest.csv (or .jsonl, or the audiofolder's metadata.csv with "
            "`file_name`) there with an audio column (paths relative to that folder) and a `caption` or `label` "
            "column, optionally in train/ validation/ test/ sub-folders, or point at the manifest file itself"
        )
    rows: list[SourceRow] = []
    columns: list[str] = []
    column = None
    for split, meta in subs.items():
        part = read_manifest_rows(meta, audio_column, audio_root, split=split)
        rows.extend(part.rows)
        columns.extend(c for c in part.columns if c not in columns)
        column = column or part.audio_column
    first = next(iter(subs.values()))
    return Source(folder.name + "/", "folder", rows, columns, column,
                  root=Path(audio_root) if audio_root else None, file=first, split_folders=subs)


# --------------------------------------------------------------------------- datasets
def load_dataset_source(spec: str | os.PathLike, config: str | None = None, split: str | None = None) -> Any:
    """A ``save_to_disk`` folder, or `datasets.load_dataset(NAME)` (from the local cache when offline)."""
    import datasets

    name = os.fspath(spec)
    try:
        if Path(name).is_dir():
            return datasets.load_from_disk(name)
        return datasets.load_dataset(name, config, split=split)
    except Exception as err:  # datasets raises FileNotFoundError, DatasetNotFoundError, ConnectionError...
        raise ValueError(f"cannot load the datasets source {name!r}: {type(err).__name__}: {err}") from err


def dataset_dict_key(dataset: Any, split: str | None) -> str | None:
    """The key of a `DatasetDict` holding `split` ('val' / 'valid' / 'dev' count as validation), or None."""
    if split is None:
        return None
    for key in dataset:
        if key == split or SPLIT_ALIASES.get(str(key).lower(), str(key).lower()) == split:
            return key
    return None


def is_dataset_dict(dataset: Any) -> bool:
    import datasets

    return isinstance(dataset, datasets.DatasetDict)


def read_dataset_rows(dataset: Any, audio_column: str | None = None, name: str = "dataset") -> Source:
    """A `datasets.Dataset`'s rows, its Audio column cast to undecoded; every other column becomes cells. A
    ``split`` column tags rows as in manifests."""
    import datasets

    if is_dataset_dict(dataset):
        raise ValueError(f"{name}: a DatasetDict needs split= one of {list(dataset)}")
    column = pick_column(dataset.column_names, audio_column, AUDIO_COLUMNS, "audio", name)
    feature = dataset.features[column]
    if isinstance(feature, datasets.Audio):
        dataset = dataset.cast_column(column, datasets.Audio(decode=False))
        paths = list(dataset.select_columns([column]).flatten()[f"{column}.path"])
    elif isinstance(feature, datasets.Value) and feature.dtype == "string":
        paths = list(dataset[column])
    else:
        paths = [None] * len(dataset)
    others = [c for c in dataset.column_names if c != column]
    cells = dataset.select_columns(others).to_list() if others else [{} for _ in range(len(dataset))]
    has_split = "split" in others
    rows = []
    for i, (path, row) in enumerate(zip(paths, cells)):
        origin = f"{name} row {i}"
        split = normalize_split(row["split"], origin) if has_split and row.get("split") else None
        rows.append(SourceRow(origin, path or None, row, split, index=i))
    return Source(name, "dataset", rows, list(dataset.column_names), column, split_column=has_split, data=dataset)


def dataset_audio_items(source: Source, rows: Sequence[SourceRow] | None = None) -> list[Any]:
    """The audio of dataset rows as items the processors decode: ``{"bytes", "path"}``, a path, or
    ``{"array", "sampling_rate"}`` (read column-wise: one pass over the dataset)."""
    rows = source.rows if rows is None else rows
    values = source.data.select([r.index for r in rows])[source.audio_column]
    items: list[Any] = []
    for row, value in zip(rows, values):
        if isinstance(value, Mapping):
            if value.get("array") is not None:
                rate = value.get("sampling_rate")
                if rate is None:
                    raise ValueError(f"{row.origin}: an audio array needs a sampling_rate")
                items.append({"array": np.asarray(value["array"], dtype=np.float32), "sampling_rate": int(rate)})
            elif value.get("bytes"):
                items.append({"bytes": value["bytes"], "path": value.get("path")})
            elif value.get("path"):
                items.append(str(value["path"]))
            else:
                raise ValueError(f"{row.origin}: audio has neither bytes, path nor array")
        elif isinstance(value, (str, os.PathLike)):
            items.append(os.fspath(value))
        elif value is None:
            raise ValueError(f"{row.origin}: audio is missing (None)")
        else:
            items.append(np.asarray(value, dtype=np.float32))
    return items


# --------------------------------------------------------------------------- shards
def read_shard_rows(spec: Any, name: str | None = None, on_bad_audio: str = "fail") -> Source:
    """Every sample of (small) shards in memory, in shard order, the audio kept encoded; a row's cells are the
    raw sample (``txt``, ``json``, ... members, ``__url__``, ``__key__``). A sample without audio fails naming its shard and key, or
    is skipped and counted (``on_bad_audio="skip"``)."""
    urls = expand_shards(spec)
    name = name or (os.fspath(spec) if not isinstance(spec, dict) else str(spec["shards"]))
    rows: list[SourceRow] = []
    data: list[dict[str, Any]] = []
    bad = 0
    for sample in iter_raw(urls):
        try:
            audio = sample_audio(sample)
        except BadSample:
            if on_bad_audio != "skip":
                raise
            bad += 1
            continue
        where = f"{sample.get('__url__')}#{sample.get('__key__')}"
        rows.append(SourceRow(where, None, sample, index=len(data)))
        data.append({"audio": {"bytes": audio, "path": where}})
    if bad:
        logging.getLogger(__name__).warning("%s: skipped %d sample(s) without audio", name, bad)
    return Source(name, "shards", rows, [], "audio", data=data)


def shard_meta(row: SourceRow) -> dict[str, Any]:
    """The ``.json`` member of a shard sample, parsed ({} without one)."""
    raw = row.cells.get("json")
    if raw is None:
        return {}
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadSample(f"{row.origin}: invalid .json member ({err})") from None
    return meta if isinstance(meta, dict) else {}


# --------------------------------------------------------------------------- dispatch
def open_source(spec: Any, audio_column: str | None = None, audio_root: str | os.PathLike | None = None) -> Source:
    """Read any layout (see the module docstring): a path (manifest, folder, ``save_to_disk`` folder), ``hf:NAME``,
    shards, or an in-memory `datasets.Dataset`. A `DatasetDict` is refused: which split to read is the caller's
    rule (training's `records.load_source`, evaluation's `generic_sets.open_for_evaluation`)."""
    if is_shard_spec(spec):
        return read_shard_rows(spec)
    if hasattr(spec, "column_names"):
        data, name = spec, "dataset"
    elif isinstance(spec, str) and spec.startswith("hf:"):
        data, name = load_dataset_source(spec[3:]), spec[3:]
    else:
        path = Path(os.path.expanduser(os.fspath(spec)))
        if is_dataset_dir(path):
            data, name = load_dataset_source(path), path.name
        elif path.is_dir():
            return read_folder_rows(path, audio_column, audio_root)
        elif not path.exists() and path.suffix.lower() not in TABLE_SUFFIXES:
            raise DataNotFoundError(f"data not found: {path} (no such folder, and not a manifest file name: "
                                    f"{', '.join(TABLE_SUFFIXES)})")
        else:
            return read_manifest_rows(path, audio_column, audio_root)
    return read_dataset_rows(data, audio_column, name)


def display_name(source: Source) -> str:
    """A data set's name for results: the manifest's stem, or its folder's name for generic stems (the folder
    above a train/ validation/ test/ sub-folder)."""
    if source.file is None:
        return source.name
    file = source.file
    generic = {"manifest", "metadata", "labels", "captions", "test", "eval", "evaluation"}
    folder = file.parent
    if folder.name.lower() in SPLITS or folder.name.lower() in SPLIT_ALIASES:
        folder = folder.parent
    return folder.name if file.stem.lower() in generic and folder.name else file.stem


__all__ = [
    "AUDIO_COLUMNS",
    "CAPTION_COLUMNS",
    "DATASET_MARKERS",
    "DataNotFoundError",
    "EVALUATION_SPLITS",
    "LABEL_COLUMNS",
    "MANIFEST_NAMES",
    "Source",
    "SourceRow",
    "check_files",
    "dataset_audio_items",
    "dataset_dict_key",
    "display_name",
    "folder_manifest",
    "is_dataset_dir",
    "is_dataset_dict",
    "load_dataset_source",
    "open_source",
    "pick_column",
    "read_dataset_rows",
    "read_folder_rows",
    "read_manifest_rows",
    "read_shard_rows",
    "require_path",
    "shard_meta",
]
