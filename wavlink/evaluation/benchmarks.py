"""The named benchmarks (Clotho, AudioCaps, ESC-50, UrbanSound8K, VGGSound) and the task registry:
`load_task_data` turns a task name and ``--data`` into a `RetrievalSet` / `ClassificationSet`.

Nothing is downloaded. Every loader reads files the user already has and returns one of the two set types
of `sets`; the generic ``retrieval`` / ``zero-shot`` tasks are `generic_sets` over the data layer's reader.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data import read_table
from ..data.shards import is_shard_spec
from ..data.sources import check_files, require_path
from ..inference import AUDIO_SUFFIXES
from .generic_sets import load_classification_set, load_retrieval_set
from .sets import ClassificationSet, RetrievalSet, check_class_names, label_order


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
    require_path(csv_file, "Clotho captions file", hint)
    folder = _first_existing([root / split, root / f"clotho_audio_{split}", root / "audio" / split,
                              root / "audio"])
    if folder is None:
        raise FileNotFoundError(f"Clotho audio folder not found under {root}\n{hint}")
    rows = read_table(csv_file).rows
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
    require_path(csv_file, "AudioCaps csv", hint)
    folder = _first_existing([root / "audio" / split, root / split, root / "audio", root / "waveforms" / split])
    if folder is None:
        raise FileNotFoundError(f"AudioCaps audio folder not found under {root}\n{hint}")
    rows = read_table(csv_file).rows
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
            return load_classification_set(root, class_names=class_names, name="esc50")
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        if (root / "manifest.csv").is_file():
            return load_classification_set(root / "manifest.csv", class_names=class_names, name="esc50")
        raise FileNotFoundError(f"ESC-50 metadata not found: {meta}\n{ESC50_HINT.format(root=root)}")
    folder = root / "audio"
    if not folder.is_dir():
        raise FileNotFoundError(f"ESC-50 audio folder not found: {folder}\n{ESC50_HINT.format(root=root)}")
    rows = read_table(meta).rows
    if not rows or not {"filename", "fold", "target", "category"} <= set(rows[0]):
        raise ValueError(f"{meta}: expected columns filename, fold, target, category")
    by_target = {int(r["target"]): r["category"] for r in rows}
    names = [by_target[t] for t in sorted(by_target)]
    check_class_names(names, str(meta))
    if class_names is not None:
        names = list(class_names)
    audio = [str(folder / r["filename"]) for r in rows]
    check_files(audio, str(meta), f" (expected in {folder})")
    names, labels = label_order([r["category"] for r in rows], names, str(meta))
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
    require_path(meta, "UrbanSound8K metadata", hint)
    rows = read_table(meta).rows
    if not rows or not {"slice_file_name", "fold", "classID", "class"} <= set(rows[0]):
        raise ValueError(f"{meta}: expected columns slice_file_name, fold, classID, class")
    by_id = {int(r["classID"]): r["class"] for r in rows}
    names = [by_id[i] for i in sorted(by_id)] if class_names is None else list(class_names)
    audio = [str(root / "audio" / f"fold{int(r['fold'])}" / r["slice_file_name"]) for r in rows]
    if not (root / "audio").is_dir():
        raise FileNotFoundError(f"UrbanSound8K audio folder not found: {root / 'audio'}\n{hint}")
    check_files(audio, str(meta), f" (expected in {root}/audio/fold<N>/)")
    names, labels = label_order([r["class"] for r in rows], names, str(meta))
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
    require_path(csv_file, "VGGSound csv", hint)
    rows = read_table(csv_file, header=False).rows
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
    names, idx = label_order(labels, names, str(csv_file))
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
    if name in ("retrieval", "zero-shot"):
        if isinstance(data, (str, os.PathLike)) and not is_shard_spec(data) and not os.path.exists(
                os.path.expanduser(os.fspath(data))):
            raise FileNotFoundError(f"--data {data} does not exist (see docs/evaluation.md for the {name} layout)")
        if kind == "retrieval":
            return load_retrieval_set(data, split=split, audio_root=audio_root, audio_column=audio_column,
                                      caption_column=text_column)
        return load_classification_set(data, split=split, audio_root=audio_root, audio_column=audio_column,
                                       label_column=label_column, class_names=class_names)
    if not isinstance(data, (str, os.PathLike)):
        raise ValueError(f"task {name} reads its files from a folder; pass a path")
    path = Path(os.path.expanduser(os.fspath(data)))
    if not path.exists():
        raise FileNotFoundError(f"--data {path} does not exist (see docs/evaluation.md for the {name} layout)")
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
    "TASK_ALIASES",
    "US8K_CLASSES",
    "canonical_task",
    "load_audiocaps",
    "load_clotho",
    "load_esc50",
    "load_task_data",
    "load_us8k",
    "load_vggsound",
    "task_kind",
]
