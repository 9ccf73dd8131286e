"""Where training pairs come from: manifests, audio folders and `datasets` datasets, read into clip and
(clip, caption) records.

Three kinds of source, one result (lists of `ClipRef` and `CaptionPair`):

* a CSV/TSV/JSONL manifest with columns ``audio`` (path, relative to the manifest's folder) and ``caption``;
  several rows may share a clip; an optional ``split`` column holds train / validation / test;
* an audio folder with ``metadata.csv`` or ``metadata.jsonl`` (``file_name`` + ``caption``, the Hugging Face
  audiofolder layout; ``train/``, ``validation/``, ``test/`` sub-folders with their own metadata also work);
* a `datasets.Dataset` with an ``Audio`` column (left undecoded here; `dataset.AudioCaptionDataset` decodes
  its ``path``/``bytes`` with soundfile, so neither torchcodec nor torchaudio is needed).

Tables are read by the data layer's one reader (`wavlink.data.read_table`) and splits named with its one
vocabulary, so a manifest means the same to training as to evaluation. `load_source` turns any source spec
(path, ``hf:NAME``, dict, `datasets` object) into these records; nothing here touches audio samples.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import SPLIT_ALIASES, TABLE_SUFFIXES, normalize_split, read_table

MANIFEST_SUFFIXES = TABLE_SUFFIXES
METADATA_NAMES = ("metadata.csv", "metadata.jsonl", "metadata.tsv")


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


def read_shards(spec: Any, name: str | None = None, source: int = 0, on_bad_audio: str = "fail"):
    """All samples of (small) shards in memory as `ClipRef` / `CaptionPair` records plus a row list that
    `AudioCaptionDataset` reads like a `datasets` source (``rows[i]["audio"]["bytes"]``): evaluation sets.
    Bad samples are skipped and counted, or fail naming shard and key."""
    from ..data.shards import BadSample, expand_shards, iter_raw, sample_audio, sample_captions

    urls = expand_shards(spec)
    name = name or (os.fspath(spec) if not isinstance(spec, dict) else str(spec["shards"]))
    clips, pairs, rows, bad = [], [], [], 0
    for sample in iter_raw(urls):
        try:
            captions = sample_captions(sample)
            audio = sample_audio(sample)
        except BadSample:
            if on_bad_audio != "skip":
                raise
            bad += 1
            continue
        key = f"{sample['__url__']}:{sample['__key__']}"
        clips.append(ClipRef(key=key, source=source, row=len(rows)))
        rows.append({"audio": {"bytes": audio, "path": key}})
        pairs.extend(CaptionPair(len(clips) - 1, c, key) for c in captions)
    if bad:
        logging.getLogger(__name__).warning("%s: skipped %d sample(s) without audio or caption", name, bad)
    return clips, pairs, rows, name


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
    WebDataset shards (a ``.tar`` pattern or URL, ``pipe:``, a folder with ``shards.json``, ``{"shards": ...}``)
    are read whole into memory (`read_shards`: evaluation sets; training streams them, `shards.ShardStream`);
    they are one split, so they contribute nothing when another role's split is asked for.
    Returns (clips, pairs, dataset or None, audio column or None, display name).
    """
    from ..data.shards import is_shard_spec

    if is_shard_spec(spec):
        if split is not None and split != default_split:
            return [], [], None, None, str(spec)
        clips, pairs, rows, name = read_shards(spec, source=source_index)
        return clips, pairs, rows, "audio", name
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


__all__ = [
    "MANIFEST_SUFFIXES",
    "METADATA_NAMES",
    "CaptionPair",
    "ClipRef",
    "load_source",
    "read_audiofolder",
    "read_hf_dataset",
    "read_manifest",
    "read_shards",
]
