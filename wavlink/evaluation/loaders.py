"""Benchmark loaders: local copies of the standard audio-text benchmarks, manifests and `datasets` folders.

Nothing is downloaded. Every loader reads files the user already has and returns one of two plain
dataclasses, so the runner, the metrics and user code never see a benchmark's own layout:

* :class:`RetrievalSet` - clips, captions and, for each caption, the index of its clip (several captions per
  clip are normal: Clotho and AudioCaps test have 5).
* :class:`ClassificationSet` - clips, integer labels into ``class_names`` and optional fold numbers.

A missing file or folder raises :class:`FileNotFoundError` whose message says exactly which files to put
where (the layouts are also documented in ``docs/evaluation.md``). Bad content raises :class:`ValueError`
naming the row, clip or class.

Accepted layouts (``PATH`` is what ``--data`` points at):

=============  ==================================================================================
task           layout
=============  ==================================================================================
retrieval      manifest ``.csv``/``.tsv``/``.jsonl``/``.json`` with ``audio`` + ``caption`` (one row per
               caption, clips repeat; or ``caption_1..caption_N`` columns; an optional ``split`` column as
               in training manifests), or a folder holding ``manifest.csv``/``manifest.jsonl``/
               ``metadata.csv`` (possibly in ``train/ validation/ test/`` sub-folders), or a
               ``datasets.save_to_disk`` folder
zero-shot      the same with ``audio`` + ``label`` (+ optional ``fold``)
clotho         ``PATH/clotho_captions_<split>.csv`` (file_name, caption_1..caption_5) +
               ``PATH/<split>/*.wav`` (split ``evaluation`` by default)
audiocaps      ``PATH/<split>.csv`` (audiocap_id, youtube_id, start_time, caption) + audio in
               ``PATH/audio/<split>/``, ``PATH/<split>/`` or ``PATH/audio/`` named
               ``<youtube_id>_<start_time>.wav`` / ``Y<youtube_id>.wav`` / ``<youtube_id>.wav`` /
               ``<audiocap_id>.wav`` (any audio extension)
esc50          ``PATH/meta/esc50.csv`` + ``PATH/audio/*.wav`` (the official repository), or
               ``PATH/manifest.csv`` with audio,label,fold (the project's ESC-50 subset)
us8k           ``PATH/metadata/UrbanSound8K.csv`` + ``PATH/audio/fold1..fold10/*.wav``
vggsound       ``PATH/vggsound.csv`` (youtube_id, start_seconds, label, split; no header) + audio in
               ``PATH/audio/test/``, ``PATH/test/`` or ``PATH/audio/`` named
               ``<youtube_id>_<start:06d>.<ext>`` or ``<youtube_id>_<start>.<ext>``
=============  ==================================================================================
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SPLIT_ALIASES, SPLITS, normalize_split
from ..data import read_table as _read_table
from ..inference import AUDIO_SUFFIXES

#: One audio item: a file path, a waveform at the model's rate, ``{"array", "sampling_rate"}``, or an
#: undecoded ``{"bytes", "path"}`` record from a `datasets` Audio column (decoded lazily by the runner).
AudioItem = Any

AUDIO_COLUMNS = ("audio", "audio_path", "path", "file_name", "filename", "file")
CAPTION_COLUMNS = ("caption", "text", "captions")
LABEL_COLUMNS = ("label", "category", "class", "labels")


# --------------------------------------------------------------------------- dataclasses
@dataclass
class RetrievalSet:
    """Clips and captions for text-to-audio / audio-to-text retrieval.

    ``caption_to_audio[i]`` is the index in ``audio`` of the clip that caption ``i`` describes. Every clip
    needs at least one caption (audio-to-text queries would otherwise have no relevant item).
    """

    audio: list[AudioItem]
    captions: list[str]
    caption_to_audio: list[int]
    name: str = "retrieval"
    audio_ids: list[str] | None = None
    n_missing: int = 0
    split: str | None = None

    def __post_init__(self) -> None:
        self.audio = list(self.audio)
        self.captions = [str(c) if c is not None else "" for c in self.captions]
        self.caption_to_audio = [int(i) for i in self.caption_to_audio]
        if not self.audio:
            raise ValueError(f"{self.name}: no audio clips (empty dataset)")
        if not self.captions:
            raise ValueError(f"{self.name}: empty query set: no captions")
        if len(self.captions) != len(self.caption_to_audio):
            raise ValueError(
                f"{self.name}: mismatched counts: {len(self.captions)} captions but "
                f"{len(self.caption_to_audio)} caption_to_audio entries"
            )
        if self.audio_ids is not None and len(self.audio_ids) != len(self.audio):
            raise ValueError(f"{self.name}: {len(self.audio_ids)} audio_ids for {len(self.audio)} clips")
        n = len(self.audio)
        bad = [i for i, a in enumerate(self.caption_to_audio) if not 0 <= a < n]
        if bad:
            raise ValueError(
                f"{self.name}: caption {bad[0]} points at clip {self.caption_to_audio[bad[0]]}, outside [0, {n})"
            )
        empty = [i for i, c in enumerate(self.captions) if not c.strip()]
        if empty:
            raise ValueError(f"{self.name}: caption {empty[0]} is empty ({len(empty)} empty caption(s))")
        counts = np.bincount(np.asarray(self.caption_to_audio, dtype=np.int64), minlength=n)
        orphans = np.flatnonzero(counts == 0)
        if len(orphans):
            first = self.clip_name(int(orphans[0]))
            raise ValueError(
                f"{self.name}: {len(orphans)} clip(s) have no caption, e.g. {first}; every clip needs at "
                "least one caption for audio-to-text retrieval"
            )

    def clip_name(self, index: int) -> str:
        if self.audio_ids is not None:
            return self.audio_ids[index]
        item = self.audio[index]
        return os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"clip {index}"

    @property
    def captions_per_clip(self) -> float:
        return len(self.captions) / len(self.audio)


@dataclass
class ClassificationSet:
    """Clips with integer labels into ``class_names`` (unique), and optional cross-validation folds."""

    audio: list[AudioItem]
    labels: list[int]
    class_names: list[str]
    folds: list[int] | None = None
    name: str = "zero-shot"
    audio_ids: list[str] | None = None
    n_missing: int = 0
    split: str | None = None

    def __post_init__(self) -> None:
        self.audio = list(self.audio)
        self.labels = [int(x) for x in self.labels]
        self.class_names = [str(c) for c in self.class_names]
        check_class_names(self.class_names, self.name)
        if not self.audio:
            raise ValueError(f"{self.name}: no audio clips (empty label list)")
        if len(self.labels) != len(self.audio):
            raise ValueError(
                f"{self.name}: mismatched counts: {len(self.audio)} clips but {len(self.labels)} labels"
            )
        bad = [i for i, y in enumerate(self.labels) if not 0 <= y < len(self.class_names)]
        if bad:
            raise ValueError(
                f"{self.name}: label {self.labels[bad[0]]} of clip {bad[0]} is outside the "
                f"{len(self.class_names)} classes"
            )
        if self.folds is not None:
            self.folds = [int(f) for f in self.folds]
            if len(self.folds) != len(self.audio):
                raise ValueError(
                    f"{self.name}: mismatched counts: {len(self.audio)} clips but {len(self.folds)} folds"
                )
        if self.audio_ids is not None and len(self.audio_ids) != len(self.audio):
            raise ValueError(f"{self.name}: {len(self.audio_ids)} audio_ids for {len(self.audio)} clips")

    @property
    def fold_numbers(self) -> list[int]:
        return sorted(set(self.folds)) if self.folds is not None else []

    def select(self, indices: Sequence[int], name: str | None = None) -> ClassificationSet:
        """A subset of the clips (same class list, so accuracies stay comparable)."""
        idx = list(indices)
        return replace(
            self,
            audio=[self.audio[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            folds=[self.folds[i] for i in idx] if self.folds is not None else None,
            audio_ids=[self.audio_ids[i] for i in idx] if self.audio_ids is not None else None,
            name=name or self.name,
        )

    def only_fold(self, fold: int) -> ClassificationSet:
        """The clips of one fold, evaluated against all classes (zero-shot has no training split)."""
        if self.folds is None:
            raise ValueError(f"{self.name}: --fold given but the data has no fold column")
        idx = [i for i, f in enumerate(self.folds) if f == int(fold)]
        if not idx:
            raise ValueError(f"{self.name}: fold {fold} has no clips; folds present: {self.fold_numbers}")
        return self.select(idx, name=f"{self.name} (fold {fold})")


def check_class_names(names: Sequence[str], what: str = "classes") -> None:
    """Class lists must be non-empty and unique: a duplicate would split one class's score in two."""
    if not names:
        raise ValueError(f"{what}: empty class list")
    empty = [i for i, n in enumerate(names) if not str(n).strip()]
    if empty:
        raise ValueError(f"{what}: empty class name at position {empty[0]}")
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise ValueError(f"{what}: duplicate class names in the label list: {dupes}")


# --------------------------------------------------------------------------- helpers
def _require(path: Path, what: str, hint: str) -> Path:
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


def _check_files(paths: list[str], source: str, hint: str = "") -> None:
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(
            f"{source}: {len(missing)} of {len(paths)} clip(s) listed in the manifest are missing on disk, "
            f"e.g. {missing[:3]}{hint}"
        )


def _index_audio_files(folder: Path) -> dict[str, str]:
    """Map file stem -> path for every audio file under ``folder`` (recursive, first one wins, sorted)."""
    index: dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(AUDIO_SUFFIXES):
                stem = name.rsplit(".", 1)[0]
                index.setdefault(stem, os.path.join(root, name))
    return index


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _first_existing(candidates: Sequence[Path]) -> Path | None:
    for c in candidates:
        if c.is_dir():
            return c
    return None


def _missing_policy(name: str, missing: list[str], total: int, folder: Path, skip_missing: bool,
                    expected: str) -> None:
    if missing and not skip_missing:
        raise ValueError(
            f"{name}: {len(missing)} of {total} clip(s) listed in the metadata were not found under {folder} "
            f"(e.g. {missing[:3]}). Expected file names: {expected}. Pass --skip-missing (skip_missing=True) "
            "to evaluate on the clips you have; the result JSON records how many were skipped."
        )


def _label_order(labels: Sequence[str], class_names: Sequence[str] | None, source: str) -> tuple[list[str], list[int]]:
    """Class list (given, or sorted unique labels) and each row's index into it."""
    if class_names is None:
        names = sorted(set(labels))
    else:
        names = list(class_names)
        check_class_names(names, f"{source}: class list")
    lookup = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(labels) - set(lookup))
    if unknown:
        raise ValueError(f"{source}: labels not in the class list: {unknown[:10]}")
    return names, [lookup[y] for y in labels]


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
        return _require(path, "manifest", "give a .csv/.tsv/.jsonl/.json manifest or a folder containing "
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
    _check_files(audio, str(file), f" (paths are relative to {root})")
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
    _check_files(audio, str(file), f" (paths are relative to {root})")
    names, idx = _label_order(labels, class_names, str(file))
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
            names, labels = _label_order([feature.names[y] for y in raw], names, source)
        else:
            labels = [int(y) for y in raw]
    else:
        names, labels = _label_order([str(y) for y in raw], class_names, source)
    return ClassificationSet(audio, labels, names, folds=folds, name=name or "zero-shot", split=split_used)


# --------------------------------------------------------------------------- benchmarks
def load_clotho(path: str | os.PathLike, split: str | None = None, skip_missing: bool = False) -> RetrievalSet:
    """Clotho (v2.1) ``evaluation`` split by default: ``clotho_captions_<split>.csv`` + ``<split>/`` audio."""
    split = split or "evaluation"
    root = Path(path)
    if root.is_file():
        csv_file, root = root, root.parent
    else:
        csv_file = root / f"clotho_captions_{split}.csv"
    hint = (f"Clotho layout: {root}/clotho_captions_{split}.csv (columns file_name, caption_1..caption_5) and "
            f"the clips of clotho_audio_{split}.7z extracted to {root}/{split}/ (from "
            "https://zenodo.org/records/4783391).")
    _require(csv_file, "Clotho captions file", hint)
    folder = _first_existing([root / split, root / f"clotho_audio_{split}", root / "audio" / split,
                              root / "audio"])
    if folder is None:
        raise FileNotFoundError(f"Clotho audio folder not found under {root}\n{hint}")
    rows = read_table(csv_file)
    if not rows:
        raise ValueError(f"{csv_file}: empty query set")
    cap_cols = sorted((c for c in rows[0] if c.startswith("caption_")), key=lambda c: int(c.split("_")[1]))
    if "file_name" not in rows[0] or not cap_cols:
        raise ValueError(f"{csv_file}: expected columns file_name, caption_1..caption_5; got {list(rows[0])}")
    audio, ids, captions, owner, missing = [], [], [], [], []
    for row in rows:
        file = folder / row["file_name"]
        if not file.is_file():
            missing.append(row["file_name"])
            continue
        ids.append(row["file_name"])
        audio.append(str(file))
        for c in cap_cols:
            captions.append((row[c] or "").strip())
            owner.append(len(audio) - 1)
    _missing_policy("clotho", missing, len(rows), folder, skip_missing, "the file_name column of the csv")
    if not audio:
        raise ValueError(f"clotho: none of the {len(rows)} clips was found under {folder}\n{hint}")
    return RetrievalSet(audio, captions, owner, name="clotho", audio_ids=ids, n_missing=len(missing), split=split)


def load_audiocaps(path: str | os.PathLike, split: str | None = None, skip_missing: bool = False) -> RetrievalSet:
    """AudioCaps ``test`` split by default (975 clips x 5 captions in v1); clips grouped by (youtube_id,
    start_time). YouTube clips disappear over time, hence ``skip_missing``."""
    split = split or "test"
    root = Path(path)
    if root.is_file():
        csv_file, root = root, root.parent
    else:
        csv_file = root / f"{split}.csv"
        if not csv_file.is_file() and (root / "dataset" / f"{split}.csv").is_file():
            csv_file = root / "dataset" / f"{split}.csv"
    hint = (f"AudioCaps layout: {root}/{split}.csv (columns audiocap_id, youtube_id, start_time, caption; from "
            f"https://github.com/cdjkim/audiocaps/tree/master/dataset) and the clips in {root}/audio/{split}/ "
            f"(or {root}/{split}/ or {root}/audio/) named <youtube_id>_<start_time>.wav, Y<youtube_id>.wav, "
            "<youtube_id>.wav or <audiocap_id>.wav (wav/flac/ogg/mp3; any sampling rate).")
    _require(csv_file, "AudioCaps csv", hint)
    folder = _first_existing([root / "audio" / split, root / split, root / "audio", root / "waveforms" / split])
    if folder is None:
        raise FileNotFoundError(f"AudioCaps audio folder not found under {root}\n{hint}")
    rows = read_table(csv_file)
    if not rows:
        raise ValueError(f"{csv_file}: empty query set")
    need = {"youtube_id", "start_time", "caption"}
    if not need <= set(rows[0]):
        raise ValueError(f"{csv_file}: expected columns audiocap_id, youtube_id, start_time, caption; "
                         f"got {list(rows[0])}")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["youtube_id"].strip(), row["start_time"].strip()), []).append(row)
    index = _index_audio_files(folder)
    audio, ids, captions, owner, missing = [], [], [], [], []
    for (ytid, start), members in groups.items():
        starts = {start}
        try:
            starts |= {str(int(float(start))), f"{float(start):.1f}", f"{float(start):.3f}",
                       f"{int(float(start)):06d}"}
        except ValueError:
            pass
        candidates = [f"{ytid}_{s}" for s in sorted(starts)] + [f"Y{ytid}", ytid]
        candidates += [str(m.get("audiocap_id", "")).strip() for m in members if m.get("audiocap_id")]
        found = next((index[c] for c in candidates if c in index), None)
        if found is None:
            missing.append(f"{ytid}_{start}")
            continue
        audio.append(found)
        ids.append(os.path.relpath(found, folder))
        for m in members:
            captions.append((m["caption"] or "").strip())
            owner.append(len(audio) - 1)
    _missing_policy("audiocaps", missing, len(groups), folder, skip_missing,
                    "<youtube_id>_<start_time>.wav, Y<youtube_id>.wav, <youtube_id>.wav or <audiocap_id>.wav")
    if not audio:
        raise ValueError(f"audiocaps: none of the {len(groups)} clips was found under {folder}\n{hint}")
    return RetrievalSet(audio, captions, owner, name="audiocaps", audio_ids=ids, n_missing=len(missing), split=split)


ESC50_HINT = ("ESC-50 layout: the official repository (https://github.com/karolpiczak/ESC-50) unpacked, i.e. "
              "{root}/meta/esc50.csv and {root}/audio/*.wav; or a project manifest {root}/manifest.csv with "
              "columns audio (path relative to that folder), label, fold.")


def load_esc50(path: str | os.PathLike, class_names: Sequence[str] | None = None) -> ClassificationSet:
    """ESC-50 (2000 clips, 50 classes, 5 folds) or the project's ``manifest.csv`` form of it."""
    root = Path(path)
    if root.is_file():
        if root.name == "esc50.csv":
            root = root.parent.parent
        else:
            return load_classification_manifest(root, class_names=class_names, name="esc50")
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        if (root / "manifest.csv").is_file():
            return load_classification_manifest(root / "manifest.csv", class_names=class_names, name="esc50")
        raise FileNotFoundError(f"ESC-50 metadata not found: {meta}\n{ESC50_HINT.format(root=root)}")
    folder = root / "audio"
    if not folder.is_dir():
        raise FileNotFoundError(f"ESC-50 audio folder not found: {folder}\n{ESC50_HINT.format(root=root)}")
    rows = read_table(meta)
    if not rows or not {"filename", "fold", "target", "category"} <= set(rows[0]):
        raise ValueError(f"{meta}: expected columns filename, fold, target, category")
    by_target = {int(r["target"]): r["category"] for r in rows}
    names = [by_target[t] for t in sorted(by_target)]
    check_class_names(names, str(meta))
    if class_names is not None:
        names = list(class_names)
    audio = [str(folder / r["filename"]) for r in rows]
    _check_files(audio, str(meta), f" (expected in {folder})")
    names, labels = _label_order([r["category"] for r in rows], names, str(meta))
    return ClassificationSet(audio, labels, names, folds=[int(r["fold"]) for r in rows], name="esc50",
                             audio_ids=[r["filename"] for r in rows])


US8K_CLASSES = ("air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
                "gun_shot", "jackhammer", "siren", "street_music")


def load_us8k(path: str | os.PathLike, class_names: Sequence[str] | None = None) -> ClassificationSet:
    """UrbanSound8K (8732 clips, 10 classes, 10 folds)."""
    root = Path(path)
    if root.is_file():
        meta, root = root, root.parent.parent
    else:
        meta = root / "metadata" / "UrbanSound8K.csv"
    hint = (f"UrbanSound8K layout (https://urbansounddataset.weebly.com/urbansound8k.html): {root}/metadata/"
            f"UrbanSound8K.csv and the clips in {root}/audio/fold1/ ... {root}/audio/fold10/.")
    _require(meta, "UrbanSound8K metadata", hint)
    rows = read_table(meta)
    if not rows or not {"slice_file_name", "fold", "classID", "class"} <= set(rows[0]):
        raise ValueError(f"{meta}: expected columns slice_file_name, fold, classID, class")
    by_id = {int(r["classID"]): r["class"] for r in rows}
    names = [by_id[i] for i in sorted(by_id)] if class_names is None else list(class_names)
    audio = [str(root / "audio" / f"fold{int(r['fold'])}" / r["slice_file_name"]) for r in rows]
    if not (root / "audio").is_dir():
        raise FileNotFoundError(f"UrbanSound8K audio folder not found: {root / 'audio'}\n{hint}")
    _check_files(audio, str(meta), f" (expected in {root}/audio/fold<N>/)")
    names, labels = _label_order([r["class"] for r in rows], names, str(meta))
    return ClassificationSet(audio, labels, names, folds=[int(r["fold"]) for r in rows], name="us8k",
                             audio_ids=[r["slice_file_name"] for r in rows])


def load_vggsound(path: str | os.PathLike, split: str | None = None, skip_missing: bool = False,
                  class_names: Sequence[str] | None = None) -> ClassificationSet:
    """VGGSound ``test`` split (15,446 clips, 309 classes listed over the whole csv)."""
    split = split or "test"
    root = Path(path)
    if root.is_file():
        csv_file, root = root, root.parent
    else:
        csv_file = root / "vggsound.csv"
    hint = (f"VGGSound layout (https://www.robots.ox.ac.uk/~vgg/data/vggsound/): {root}/vggsound.csv (rows "
            f"youtube_id,start_seconds,label,split) and the {split} clips' audio in {root}/audio/{split}/ (or "
            f"{root}/{split}/ or {root}/audio/) named <youtube_id>_<start:06d>.wav or <youtube_id>_<start>.wav "
            "(extract audio from the mp4 files first, e.g. ffmpeg -i X.mp4 -ac 1 -ar 16000 X.wav).")
    _require(csv_file, "VGGSound csv", hint)
    rows = read_table(csv_file, header=False)
    if rows and not _is_number(rows[0].get("1", "")):  # a header row (youtube_id,start_seconds,...)
        rows = rows[1:]
    if not rows or len(rows[0]) < 4:
        raise ValueError(f"{csv_file}: expected 4 columns youtube_id,start_seconds,label,split")
    all_labels = [r["2"].strip() for r in rows]
    names = sorted(set(all_labels)) if class_names is None else list(class_names)
    test = [r for r in rows if r["3"].strip() == split]
    if not test:
        raise ValueError(f"{csv_file}: no rows with split {split!r}")
    folder = _first_existing([root / "audio" / split, root / split, root / "audio"])
    if folder is None:
        raise FileNotFoundError(f"VGGSound audio folder not found under {root}\n{hint}")
    index = _index_audio_files(folder)
    audio, labels, ids, missing = [], [], [], []
    for r in test:
        ytid, start = r["0"].strip(), r["1"].strip()
        try:
            s = int(float(start))
            candidates = [f"{ytid}_{s:06d}", f"{ytid}_{s}", f"{ytid}_{start}"]
        except ValueError:
            candidates = [f"{ytid}_{start}"]
        found = next((index[c] for c in candidates if c in index), None)
        if found is None:
            missing.append(f"{ytid}_{start}")
            continue
        audio.append(found)
        labels.append(r["2"].strip())
        ids.append(os.path.relpath(found, folder))
    _missing_policy("vggsound", missing, len(test), folder, skip_missing,
                    "<youtube_id>_<start:06d>.<ext> or <youtube_id>_<start>.<ext>")
    if not audio:
        raise ValueError(f"vggsound: none of the {len(test)} {split} clips was found under {folder}\n{hint}")
    names, idx = _label_order(labels, names, str(csv_file))
    return ClassificationSet(audio, idx, names, name="vggsound", audio_ids=ids, n_missing=len(missing), split=split)


# --------------------------------------------------------------------------- dispatch
TASK_ALIASES: dict[str, str] = {
    "retrieval": "retrieval", "zero-shot": "zero-shot", "zeroshot": "zero-shot", "zero_shot": "zero-shot",
    "classification": "zero-shot", "clotho": "clotho", "audiocaps": "audiocaps", "esc50": "esc50",
    "esc-50": "esc50", "us8k": "us8k", "urbansound8k": "us8k", "vggsound": "vggsound",
}
RETRIEVAL_TASKS = ("retrieval", "clotho", "audiocaps")
CLASSIFICATION_TASKS = ("zero-shot", "esc50", "us8k", "vggsound")


def canonical_task(task: str) -> str:
    key = task.strip().lower()
    if key not in TASK_ALIASES:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(set(TASK_ALIASES.values()))}")
    return TASK_ALIASES[key]


def task_kind(task: str) -> str:
    """``"retrieval"`` or ``"zero-shot"``."""
    return "retrieval" if canonical_task(task) in RETRIEVAL_TASKS else "zero-shot"


def load_task_data(task: str, data: Any, split: str | None = None, skip_missing: bool = False,
                   class_names: Sequence[str] | None = None, audio_root: str | os.PathLike | None = None,
                   audio_column: str | None = None, text_column: str | None = None,
                   label_column: str | None = None) -> RetrievalSet | ClassificationSet:
    """Load ``data`` for ``task`` (a benchmark name or ``retrieval``/``zero-shot``).

    ``data`` is a path (layouts in the module docstring) or, for the generic tasks, an in-memory
    `datasets.Dataset`/`DatasetDict`.
    """
    name = canonical_task(task)
    kind = task_kind(name)
    if not isinstance(data, (str, os.PathLike)):
        if name not in ("retrieval", "zero-shot"):
            raise ValueError(f"task {name} reads its files from a folder; pass a path")
        return load_hf_dataset(data, kind, split=split, audio_column=audio_column, text_column=text_column,
                               label_column=label_column, class_names=class_names)
    path = Path(os.path.expanduser(os.fspath(data)))
    if not path.exists():
        raise FileNotFoundError(f"--data {path} does not exist (see docs/evaluation.md for the {name} layout)")
    if name in ("retrieval", "zero-shot"):
        if is_hf_dataset_dir(path):
            return load_hf_dataset(path, kind, split=split, audio_column=audio_column, text_column=text_column,
                                   label_column=label_column, class_names=class_names)
        if kind == "retrieval":
            return load_retrieval_manifest(path, audio_root=audio_root, audio_column=audio_column,
                                           caption_column=text_column, split=split)
        return load_classification_manifest(path, audio_root=audio_root, audio_column=audio_column,
                                            label_column=label_column, class_names=class_names, split=split)
    if name == "clotho":
        return load_clotho(path, split=split, skip_missing=skip_missing)
    if name == "audiocaps":
        return load_audiocaps(path, split=split, skip_missing=skip_missing)
    if name == "esc50":
        return load_esc50(path, class_names=class_names)
    if name == "us8k":
        return load_us8k(path, class_names=class_names)
    return load_vggsound(path, split=split, skip_missing=skip_missing, class_names=class_names)


__all__ = [
    "CLASSIFICATION_TASKS",
    "RETRIEVAL_TASKS",
    "US8K_CLASSES",
    "ClassificationSet",
    "RetrievalSet",
    "canonical_task",
    "check_class_names",
    "is_hf_dataset_dir",
    "load_audiocaps",
    "load_classification_manifest",
    "load_clotho",
    "load_esc50",
    "load_hf_dataset",
    "load_retrieval_manifest",
    "load_task_data",
    "load_us8k",
    "load_vggsound",
    "normalize_split",
    "read_table",
    "task_kind",
]
