"""Generic evaluation data: caption / label manifests and `datasets` datasets, to `RetrievalSet` /
`ClassificationSet`; plus the row, column and file checks the benchmark loaders share.

Layouts (``PATH`` is what ``--data`` points at):

* retrieval: a manifest ``.csv``/``.tsv``/``.jsonl``/``.json`` with ``audio`` + ``caption`` (one row per
  caption, clips repeat; or ``caption_1..caption_N`` columns; an optional ``split`` column as in training
  manifests), or a folder holding ``manifest.csv``/``manifest.jsonl``/``metadata.csv`` (possibly in
  ``train/ validation/ test/`` sub-folders), or a ``datasets.save_to_disk`` folder;
* zero-shot: the same with ``audio`` + ``label`` (+ optional ``fold``).

Tables are read by the data layer's one reader (`wavlink.data.read_table`) and splits named with its one
vocabulary, so a manifest means the same here as in training. `datasets` Audio columns are left undecoded
(the runner decodes bytes/paths with soundfile). Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SPLIT_ALIASES, SPLITS, normalize_split
from ..data import read_table as _read_table
from .sets import AudioItem, ClassificationSet, RetrievalSet, check_class_names, label_order

AUDIO_COLUMNS = ("audio", "audio_path", "path", "file_name", "filename", "file")
CAPTION_COLUMNS = ("caption", "text", "captions")
LABEL_COLUMNS = ("label", "category", "class", "labels")


# --------------------------------------------------------------------------- helpers
def require_path(path: Path, what: str, hint: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}\n{hint}")
    return path


def read_table(path: str | os.PathLike, header: bool = True) -> list[dict[str, Any]]:
    """Rows of a CSV/TSV (with a header, or `header=False`), JSONL or JSON manifest (the data layer's reader)."""
    return _read_table(path, header=header).rows


def _pick_column(columns: Iterable[str], wanted: str | None, candidates: Sequence[str], what: str,
                 source: str, required: bool = True) -> str | None:
    cols = list(columns)
    if wanted is not None:
        if wanted not in cols:
            raise ValueError(f"{source}: no column {wanted!r} for the {what}; columns: {cols}")
        return wanted
    for c in candidates:
        if c in cols:
            return c
    if required:
        raise ValueError(f"{source}: no {what} column (looked for {list(candidates)}); columns: {cols}")
    return None


def _resolve_audio(value: Any, root: Path) -> str:
    path = Path(os.path.expanduser(str(value).strip()))
    return str(path if path.is_absolute() else root / path)


def check_files(paths: list[str], source: str, hint: str = "") -> None:
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(
            f"{source}: {len(missing)} of {len(paths)} clip(s) listed in the manifest are missing on disk, "
            f"e.g. {missing[:3]}{hint}"
        )


# --------------------------------------------------------------------------- generic manifests
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl", "manifest.tsv", "manifest.json", "metadata.csv",
                  "metadata.jsonl", "metadata.tsv")
EVAL_SPLIT_ORDER = ("test", "validation")  # the default split of a manifest that has several


def _default_split(present: Iterable[str], source: str) -> str:
    present = set(present)
    for name in EVAL_SPLIT_ORDER:
        if name in present:
            return name
    raise ValueError(f"{source}: only {sorted(present)} data; evaluating on training data must be asked for "
                     "explicitly with --split train")


def _manifest_file(path: Path, split: str | None = None) -> tuple[Path, str | None]:
    """The manifest file of ``path`` and, for the audiofolder layout with ``train/ validation/ test/``
    sub-folders (each with its own metadata file), the split whose sub-folder was chosen."""
    if not path.is_dir():
        return require_path(path, "manifest", "give a .csv/.tsv/.jsonl/.json manifest or a folder containing "
                                          "manifest.csv"), None
    for name in MANIFEST_NAMES:
        if (path / name).is_file():
            return path / name, None
    subs: dict[str, Path] = {}
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        try:
            sub_split = normalize_split(sub.name, str(sub))
        except ValueError:
            continue
        meta = next((sub / n for n in MANIFEST_NAMES if (sub / n).is_file()), None)
        if meta is not None:
            subs.setdefault(sub_split, meta)
    if subs:
        chosen = normalize_split(split, str(path)) if split is not None else _default_split(subs, str(path))
        if chosen not in subs:
            raise ValueError(f"{path}: no {chosen}/ sub-folder with a metadata file; splits present: {sorted(subs)}")
        return subs[chosen], chosen
    raise FileNotFoundError(
        f"no manifest in {path}: put a manifest.csv (or .jsonl) there with an `audio` column (paths "
        "relative to that folder) and a `caption` (retrieval) or `label` (zero-shot) column (or metadata.csv "
        "with `file_name`, optionally in train/ validation/ test/ sub-folders), or point --data at the "
        "manifest file itself"
    )


def _select_split(rows: list[dict[str, Any]], file: Path, split: str | None,
                  folder_split: str | None) -> tuple[list[tuple[int, dict[str, Any]]], str | None]:
    """Rows of the requested split. A ``split`` column is read as training reads it: empty values count as
    ``train``; without ``--split`` the ``test`` rows are used, else the ``validation`` rows (training rows
    only when asked for). A manifest without a split column is one split: ``--split`` is then an error.
    Returns the kept rows with their 1-based row numbers in the file (for error messages)."""
    numbered = list(enumerate(rows, 1))
    if folder_split is not None:  # train/ validation/ test/ sub-folders: the folder is the split
        return numbered, folder_split
    has_column = any("split" in r for r in rows)
    if not has_column:
        if split is not None:
            raise ValueError(f"{file}: --split {split!r} given but the manifest has no split column")
        return numbered, None
    tagged = [(normalize_split(r.get("split") or "train", f"{file}: row {n}"), (n, r)) for n, r in numbered]
    present = sorted({t for t, _ in tagged})
    chosen = normalize_split(split, str(file)) if split is not None else _default_split(present, str(file))
    kept = [nr for t, nr in tagged if t == chosen]
    if not kept:
        raise ValueError(f"{file}: no rows in split {chosen!r}; splits present: {present}")
    return kept, chosen


def _manifest_name(file: Path) -> str:
    """A dataset name for results: the manifest's stem, or its folder's name for generic stems (the folder
    above a train/ validation/ test/ sub-folder)."""
    generic = {"manifest", "metadata", "labels", "captions", "test", "eval", "evaluation"}
    folder = file.parent
    if folder.name.lower() in SPLITS or folder.name.lower() in SPLIT_ALIASES:
        folder = folder.parent
    return folder.name if file.stem.lower() in generic and folder.name else file.stem


def load_retrieval_manifest(path: str | os.PathLike, audio_root: str | os.PathLike | None = None,
                            audio_column: str | None = None, caption_column: str | None = None,
                            name: str | None = None, split: str | None = None) -> RetrievalSet:
    """A caption manifest (the training format): one row per caption with ``audio`` + ``caption``.

    Rows naming the same audio file are captions of one clip (in first-seen order). Wide manifests with
    ``caption_1 .. caption_N`` columns are accepted too. Relative paths are relative to the manifest's folder
    (or ``audio_root``). A ``split`` column (train / validation / test, as in training manifests) selects
    rows: ``split``, else ``test``, else ``validation`` (see :func:`_select_split`); so do ``train/
    validation/ test/`` sub-folders with their own ``metadata.csv`` (the audiofolder layout).
    """
    file, folder_split = _manifest_file(Path(path), split)
    rows = read_table(file)
    if not rows:
        raise ValueError(f"{file}: empty query set: the manifest has no rows")
    rows, used_split = _select_split(rows, file, split, folder_split)
    root = Path(audio_root) if audio_root else file.parent
    columns = list(rows[0][1])
    a_col = _pick_column(columns, audio_column, AUDIO_COLUMNS, "audio path", str(file))
    c_col = _pick_column(columns, caption_column, CAPTION_COLUMNS, "caption", str(file), required=False)
    wide = sorted((c for c in columns if c.startswith("caption_") and c[8:].isdigit()), key=lambda c: int(c[8:]))
    if c_col is None and not wide:
        raise ValueError(f"{file}: no caption column (looked for {list(CAPTION_COLUMNS)} or caption_1..N); "
                         f"columns: {columns}")
    clip_index: dict[str, int] = {}
    audio: list[str] = []
    captions: list[str] = []
    owner: list[int] = []
    for n, row in rows:
        value = row.get(a_col)
        if value is None or not str(value).strip():
            raise ValueError(f"{file}: row {n} has no audio path")
        clip = _resolve_audio(value, root)
        if clip not in clip_index:
            clip_index[clip] = len(audio)
            audio.append(clip)
        texts: list[Any] = [row.get(c) for c in wide] if c_col is None else [row.get(c_col)]
        if c_col is not None and isinstance(texts[0], list):  # JSONL: "caption": ["a", "b"]
            texts = texts[0]
        for text in texts:
            if text is None or not str(text).strip():
                raise ValueError(f"{file}: row {n} ({value}) has an empty caption")
            captions.append(str(text).strip())
            owner.append(clip_index[clip])
    check_files(audio, str(file), f" (paths are relative to {root})")
    return RetrievalSet(audio, captions, owner, name=name or _manifest_name(file),
                        audio_ids=[os.path.relpath(a, root) for a in audio], split=used_split)


def load_classification_manifest(path: str | os.PathLike, audio_root: str | os.PathLike | None = None,
                                 audio_column: str | None = None, label_column: str | None = None,
                                 class_names: Sequence[str] | None = None, name: str | None = None,
                                 split: str | None = None) -> ClassificationSet:
    """A label manifest: ``audio`` + ``label`` (+ optional ``fold``); classes = ``class_names`` or the sorted
    unique labels. One row per clip: a clip listed twice is an error (it would be counted twice). A
    ``split`` column or split sub-folders select rows as in :func:`load_retrieval_manifest`; the default
    class list is the labels of every split, so that a split scores against all classes."""
    file, folder_split = _manifest_file(Path(path), split)
    rows = read_table(file)
    if not rows:
        raise ValueError(f"{file}: empty label list: the manifest has no rows")
    all_rows = rows
    rows, used_split = _select_split(rows, file, split, folder_split)
    root = Path(audio_root) if audio_root else file.parent
    columns = list(rows[0][1])
    a_col = _pick_column(columns, audio_column, AUDIO_COLUMNS, "audio path", str(file))
    l_col = _pick_column(columns, label_column, LABEL_COLUMNS, "label", str(file))
    if class_names is None and used_split is not None:  # every split's labels: score against all classes
        class_names = sorted({str(r.get(l_col)).strip() for r in all_rows if str(r.get(l_col) or "").strip()})
    audio, labels, folds = [], [], []
    has_fold = "fold" in columns
    for n, row in rows:
        value, label = row.get(a_col), row.get(l_col)
        if value is None or not str(value).strip():
            raise ValueError(f"{file}: row {n} has no audio path")
        if label is None or not str(label).strip():
            raise ValueError(f"{file}: row {n} ({value}) has no label")
        audio.append(_resolve_audio(value, root))
        labels.append(str(label).strip())
        if has_fold:
            try:
                folds.append(int(row["fold"]))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{file}: row {n} has a non-integer fold {row.get('fold')!r}") from err
    dupes = [a for a, c in Counter(audio).items() if c > 1]
    if dupes:
        raise ValueError(f"{file}: {len(dupes)} clip(s) listed more than once, e.g. {dupes[0]}")
    check_files(audio, str(file), f" (paths are relative to {root})")
    names, idx = label_order(labels, class_names, str(file))
    return ClassificationSet(audio, idx, names, folds=folds if has_fold else None, name=name or _manifest_name(file),
                             audio_ids=[os.path.relpath(a, root) for a in audio], split=used_split)


# --------------------------------------------------------------------------- datasets
def is_hf_dataset_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and any((p / f).is_file() for f in ("dataset_info.json", "state.json", "dataset_dict.json"))


def _hf_split(ds: Any, split: str | None, source: str) -> tuple[Any, str | None]:
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            split = "test" if "test" in ds else (next(iter(ds)) if len(ds) == 1 else None)
        if split is None or split not in ds:
            raise ValueError(f"{source}: choose a split with --split; available: {list(ds)}")
        ds = ds[split]
    return ds, split


def _hf_audio_items(ds: Any, column: str, source: str) -> list[AudioItem]:
    """Audio items without decoding: `datasets` decodes Audio columns with torchcodec, which this
    environment does not have (and must not: see docs); the runner decodes bytes/paths with soundfile."""
    import datasets

    feature = ds.features[column]
    if isinstance(feature, datasets.Audio):
        ds = ds.cast_column(column, datasets.Audio(decode=False))
    items: list[AudioItem] = []
    for n, value in enumerate(ds[column]):
        if isinstance(value, Mapping):
            if value.get("array") is not None:
                rate = value.get("sampling_rate")
                if rate is None:
                    raise ValueError(f"{source}: row {n}: an audio array needs a sampling_rate")
                items.append({"array": np.asarray(value["array"], dtype=np.float32), "sampling_rate": int(rate)})
            elif value.get("bytes"):
                items.append({"bytes": value["bytes"], "path": value.get("path")})
            elif value.get("path"):
                items.append(str(value["path"]))
            else:
                raise ValueError(f"{source}: row {n}: audio has neither bytes, path nor array")
        elif isinstance(value, (str, os.PathLike)):
            items.append(os.fspath(value))
        elif value is None:
            raise ValueError(f"{source}: row {n}: audio is missing (None)")
        else:
            items.append(np.asarray(value, dtype=np.float32))
    return items


def load_hf_dataset(data: Any, kind: str, split: str | None = None, audio_column: str | None = None,
                    text_column: str | None = None, label_column: str | None = None,
                    class_names: Sequence[str] | None = None, name: str | None = None
                    ) -> RetrievalSet | ClassificationSet:
    """A `datasets.Dataset`/`DatasetDict` (in memory, or a `save_to_disk` folder) with an audio column and a
    caption (``kind="retrieval"``) or label (``kind="zero-shot"``) column. A caption column may hold a list
    of captions per clip; a `ClassLabel` label column supplies the class names."""
    import datasets

    source = os.fspath(data) if isinstance(data, (str, os.PathLike)) else "dataset"
    if isinstance(data, (str, os.PathLike)):
        if not is_hf_dataset_dir(data):
            raise FileNotFoundError(f"{data} is not a datasets.save_to_disk folder (no dataset_info.json/state.json)")
        data = datasets.load_from_disk(os.fspath(data))
    ds, split_used = _hf_split(data, split, source)
    if name is None and source != "dataset":
        name = Path(source).name
    if len(ds) == 0:
        raise ValueError(f"{source}: the dataset has no rows (empty query set)")
    a_col = _pick_column(ds.column_names, audio_column, AUDIO_COLUMNS, "audio", source)
    audio = _hf_audio_items(ds, a_col, source)
    if kind == "retrieval":
        c_col = _pick_column(ds.column_names, text_column, CAPTION_COLUMNS, "caption", source)
        captions, owner = [], []
        for i, value in enumerate(ds[c_col]):
            for text in value if isinstance(value, (list, tuple)) else [value]:
                captions.append("" if text is None else str(text))
                owner.append(i)
        return RetrievalSet(audio, captions, owner, name=name or "retrieval", split=split_used)
    l_col = _pick_column(ds.column_names, label_column, LABEL_COLUMNS, "label", source)
    feature = ds.features[l_col]
    raw = list(ds[l_col])
    folds = [int(f) for f in ds["fold"]] if "fold" in ds.column_names else None
    if isinstance(feature, datasets.ClassLabel):
        names = list(class_names) if class_names is not None else list(feature.names)
        check_class_names(names, f"{source}: class list")
        if class_names is not None:
            names, labels = label_order([feature.names[y] for y in raw], names, source)
        else:
            labels = [int(y) for y in raw]
    else:
        names, labels = label_order([str(y) for y in raw], class_names, source)
    return ClassificationSet(audio, labels, names, folds=folds, name=name or "zero-shot", split=split_used)



# --------------------------------------------------------------------------- WebDataset shards
def load_shards(spec: Any, kind: str, class_names: Sequence[str] | None = None,
                name: str | None = None) -> RetrievalSet | ClassificationSet:
    """A test set from WebDataset shards (`wavlink shard`; brace patterns, folders, ``pipe:`` / http URLs),
    read once in shard order into memory. The audio stays encoded (``{"bytes", "path"}`` items, decoded by the
    processor when embedded, and keyed by their bytes in the embedding cache). Retrieval takes every caption of
    a sample (``.txt``, or ``.json`` ``caption`` / ``captions``); zero-shot takes the ``.json`` ``label``. A
    sample without audio, caption or label fails naming its shard and key."""
    import json

    from ..data.shards import BadSample, expand_shards, iter_raw, sample_audio, sample_captions

    urls = expand_shards(spec)
    source = name or os.path.basename(os.fspath(urls[0])).split(".")[0]
    audio: list[AudioItem] = []
    ids: list[str] = []
    captions: list[str] = []
    owners: list[int] = []
    labels: list[str] = []
    for sample in iter_raw(urls):
        where = f"{sample.get('__url__')}#{sample.get('__key__')}"
        item = {"bytes": sample_audio(sample), "path": where}
        if kind == "retrieval":
            for caption in sample_captions(sample):
                captions.append(caption)
                owners.append(len(audio))
        else:
            meta = json.loads(sample["json"]) if sample.get("json") is not None else {}
            label = meta.get("label") if isinstance(meta, dict) else None
            if label is None or not str(label).strip():
                raise BadSample(f"shard {sample.get('__url__')} key {sample.get('__key__')!r}: no label "
                                "(zero-shot shards need a .json member with 'label')")
            labels.append(str(label).strip())
        audio.append(item)
        ids.append(where)
    if not audio:
        raise ValueError(f"{source}: the shards hold no samples")
    if kind == "retrieval":
        return RetrievalSet(audio, captions, owners, name=source, audio_ids=ids)
    names, idx = label_order(labels, class_names, source)
    return ClassificationSet(audio, idx, names, name=source, audio_ids=ids)


__all__ = [
    "load_shards",
    "AUDIO_COLUMNS",
    "CAPTION_COLUMNS",
    "LABEL_COLUMNS",
    "MANIFEST_NAMES",
    "check_files",
    "is_hf_dataset_dir",
    "load_classification_manifest",
    "load_hf_dataset",
    "load_retrieval_manifest",
    "read_table",
    "require_path",
]
