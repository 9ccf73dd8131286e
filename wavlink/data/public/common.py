"""What every public-dataset converter shares: the row record, the audio look-up, label-to-caption rendering,
and the writer of the package's caption manifests with its report of clips whose audio is missing.

Output of `write_prepared` (``DIR`` = ``--out``):

* ``DIR/<split>.csv`` (or ``.jsonl``), one per split present (``train``, ``validation``, ``test``): one row per
  (clip, caption) with columns ``audio`` (path relative to ``DIR``, as every manifest reader of the package
  expects), ``caption``, ``source`` (the dataset), ``license`` (the clip's licence where the dataset gives one
  per clip, else the dataset's), ``clip_id`` and dataset-specific columns (fold, labels, annotator...). The
  files carry no ``split`` column: the file name is the split, and a file counts as training data when listed
  in ``train_data`` and as evaluation data in ``eval_data`` (so ``fsd50k/validation.csv`` can be trained on);
* ``DIR/missing.csv``: every clip the metadata lists whose audio was not found (or, with ``probe``, could not
  be read), with its split, the number of caption rows it had, the file names looked for and the first
  metadata row; those rows are not in the manifests, and the counts are in the report and the summary;
* ``DIR/prepare_report.json``: rows and clips written per split, clips and rows without audio, captions
  dropped because they were empty, and the options used.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio import probe_audio
from ..splits import normalize_split

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aac", ".m4a", ".opus", ".aiff", ".aif")
FORMATS = ("csv", "jsonl")
SPLIT_ORDER = ("train", "validation", "test")
MAX_LISTED = 10


class LayoutError(FileNotFoundError, ValueError):
    """A source folder that does not hold the dataset's published files (FileNotFoundError and ValueError)."""


@dataclass
class Row:
    """One (clip, caption) of a dataset, before writing: ``audio`` is the found file (absolute) or None."""

    clip_id: str
    caption: str
    split: str
    license: str
    origin: str  # "dev.csv line 12": where the caption came from
    audio: str | None
    expected: str = ""  # file names looked for (for the missing-audio report)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PrepareOptions:
    """Options every converter understands (each converter documents the ones it uses)."""

    audio_dir: str | None = None  # where the audio is, when not in the dataset's own folder layout
    splits: Sequence[str] | None = None  # convert only these splits (train / validation / test)
    ontology: str | None = None  # AudioSet ontology.json (label names, hierarchy)
    template: str | None = None  # label datasets: caption template with {labels}
    labels: str = "all"  # fsd50k: all | leaves (needs the ontology)
    caption_style: str = "temporal"  # audioset-strong: temporal | labels
    max_captions_per_clip: int | None = None  # keep the first N captions of each clip (metadata order)
    license: str | None = None  # overrides the licence column
    format: str = "csv"  # csv | jsonl
    probe: bool = False  # read every file's header: duration column, unreadable files reported as missing
    fail_on_missing: bool = False  # raise instead of writing when clips lack audio

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.splits is not None:
            self.splits = [normalize_split(s, "--split") for s in self.splits]
        if self.max_captions_per_clip is not None and int(self.max_captions_per_clip) < 1:
            raise ValueError(f"max_captions_per_clip must be positive, got {self.max_captions_per_clip}")

    def wants(self, split: str) -> bool:
        return self.splits is None or split in self.splits


@dataclass
class MissingClip:
    clip_id: str
    split: str
    rows: int
    reason: str
    expected: str
    origin: str


@dataclass
class PrepareResult:
    """What `write_prepared` wrote, and every clip it could not write."""

    dataset: str
    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]
    clips: dict[str, int]
    missing: list[MissingClip]
    empty_captions: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def missing_rows(self) -> int:
        return sum(m.rows for m in self.missing)

    def summary(self) -> str:
        lines = []
        for split, path in self.files.items():
            lines.append(f"{self.dataset} {split}: {self.rows[split]} caption rows, {self.clips[split]} clips -> {path}")
        if not self.files:
            lines.append(f"{self.dataset}: no rows written")
        if self.missing:
            lines.append(f"{self.dataset}: {len(self.missing)} clip(s) ({self.missing_rows} caption rows) listed in "
                         f"the metadata had no readable audio and are not in the manifests; see "
                         f"{self.out_dir / 'missing.csv'}")
            for m in self.missing[:MAX_LISTED]:
                lines.append(f"  {m.clip_id} ({m.split}): {m.reason}; looked for {m.expected} [{m.origin}]")
            if len(self.missing) > MAX_LISTED:
                lines.append(f"  ... and {len(self.missing) - MAX_LISTED} more")
        if self.empty_captions:
            lines.append(f"{self.dataset}: {self.empty_captions} empty caption(s) in the metadata were skipped")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "files": {k: str(v) for k, v in self.files.items()},
                "rows": self.rows, "clips": self.clips, "missing_clips": len(self.missing),
                "missing_rows": self.missing_rows, "empty_captions": self.empty_captions, "options": self.options}


# ---------------------------------------------------------------------------------------------- reading
def require_file(path: Path, what: str, layout: str) -> Path:
    if not path.is_file():
        raise LayoutError(f"{what} not found: {path}\nexpected layout: {layout}")
    return path


def read_text(path: Path) -> str:
    """A metadata file's text: UTF-8 (with or without BOM), else Windows-1252 (older Clotho / UrbanSound8K
    metadata files are not UTF-8)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def iter_csv_rows(path: Path, delimiter: str = ",", header: bool = True, encoding: str = "utf-8-sig",
                  errors: str = "strict") -> Iterator[tuple[str, dict[str, str]]]:
    """(origin, row) pairs of a delimited file, streamed (caption files of millions of rows); header keys and
    cells stripped; without header, keys are "0", "1", ..."""
    with open(path, newline="", encoding=encoding, errors=errors) as f:
        if header:
            reader = csv.DictReader(f, delimiter=delimiter)
            for row in reader:
                yield (f"{path.name} line {reader.line_num}",
                       {(k or "").strip(): v.strip() if isinstance(v, str) else v for k, v in row.items()})
            return
        for n, cells in enumerate(csv.reader(f, delimiter=delimiter), start=1):
            if cells:
                yield f"{path.name} line {n}", {str(i): c.strip() for i, c in enumerate(cells)}


def read_csv_rows(path: Path, delimiter: str = ",", header: bool = True) -> list[tuple[str, dict[str, str]]]:
    """All rows of a (small) metadata file: UTF-8, else Windows-1252 (`read_text`'s rule)."""
    try:
        return list(iter_csv_rows(path, delimiter, header))
    except UnicodeDecodeError:
        return list(iter_csv_rows(path, delimiter, header, encoding="cp1252", errors="replace"))


class AudioIndex:
    """File stem -> path for every audio file under some folders (recursive, sorted, first one wins), built
    on first use; `find` returns the first candidate stem that exists."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self._index: dict[str, str] | None = None

    @property
    def index(self) -> dict[str, str]:
        if self._index is None:
            index: dict[str, str] = {}
            for folder in self.folders:
                for root, dirs, files in os.walk(folder):
                    dirs.sort()
                    for name in sorted(files):
                        if name.lower().endswith(AUDIO_SUFFIXES):
                            index.setdefault(name.rsplit(".", 1)[0], os.path.join(root, name))
            self._index = index
        return self._index

    def find(self, stems: Sequence[str]) -> str | None:
        return next((self.index[s] for s in stems if s in self.index), None)


def existing_dirs(candidates: Iterable[Path]) -> list[Path]:
    return [c for c in candidates if c.is_dir()]


def audio_folders(options: PrepareOptions, defaults: Sequence[Path]) -> list[Path]:
    """``--audio-dir`` when given (it must exist), else the default folders of the layout that exist."""
    if options.audio_dir:
        folder = Path(options.audio_dir)
        if not folder.is_dir():
            raise LayoutError(f"--audio-dir {folder} is not a folder")
        return [folder]
    return existing_dirs(defaults)


# ---------------------------------------------------------------------------------------------- captions
def join_names(names: Sequence[str]) -> str:
    """'A' / 'A and B' / 'A, B and C' (LAION audio-dataset's label join)."""
    names = list(names)
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def fill_template(template: str, names: Sequence[str]) -> str:
    if "{labels}" not in template:
        raise ValueError(f"caption template {template!r} needs a {{labels}} placeholder")
    return template.replace("{labels}", join_names(names))


def lower_name(name: str) -> str:
    """Lower-case the first letter unless the name starts with an acronym ("Dog" -> "dog", "CD player" kept)."""
    if len(name) > 1 and name[:2].isupper():
        return name
    return name[:1].lower() + name[1:]


def read_ontology(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(mid -> name, mid -> child mids) from the AudioSet ontology.json (github.com/audioset/ontology: a JSON
    list of {"id", "name", "description", "citation_uri", "positive_examples", "child_ids", "restrictions"})."""
    path = Path(path)
    if not path.is_file():
        raise LayoutError(f"AudioSet ontology not found: {path} (ontology.json of github.com/audioset/ontology)")
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err})") from err
    if not isinstance(data, list) or not all(isinstance(d, dict) and "id" in d and "name" in d for d in data):
        raise ValueError(f"{path}: expected the AudioSet ontology, a list of objects with 'id' and 'name'")
    names = {d["id"]: str(d["name"]).strip() for d in data}
    children = {d["id"]: list(d.get("child_ids") or []) for d in data}
    return names, children


def descendants(children: dict[str, list[str]], mid: str) -> set[str]:
    out: set[str] = set()
    stack = list(children.get(mid, []))
    while stack:
        child = stack.pop()
        if child not in out:
            out.add(child)
            stack.extend(children.get(child, []))
    return out


# ---------------------------------------------------------------------------------------------- writing
def _limit_captions(rows: Iterable[Row], limit: int | None) -> Iterator[Row]:
    if limit is None:
        yield from rows
        return
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        key = (row.split, row.clip_id)
        if seen[key] < limit:
            seen[key] += 1
            yield row


def write_prepared(dataset: str, rows: Iterable[Row], out_dir: str | os.PathLike, options: PrepareOptions,
                   stats: dict[str, int] | None = None) -> PrepareResult:
    """Write the per-split manifests, ``missing.csv`` and ``prepare_report.json``; see the module docstring.

    Rows are streamed to a staging folder next to `out_dir` (memory holds clip ids, not rows: AudioSetCaps has
    6M), then moved into place; with ``fail_on_missing`` nothing is written when a clip lacks audio. `stats` is
    the counter dict the converter fills while `rows` is consumed (``empty_captions``)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.prepare-", dir=out.parent))
    handles: dict[str, Any] = {}
    try:
        columns: dict[str, dict[str, None]] = {}
        counts: dict[str, int] = defaultdict(int)
        clip_ids: dict[str, set[str]] = defaultdict(set)
        missing: dict[tuple[str, str], MissingClip] = OrderedDict()
        probed: dict[str, tuple[float | None, str | None]] = {}
        for row in _limit_captions(rows, options.max_captions_per_clip):
            if not options.wants(row.split):
                continue
            reason = None if row.audio is not None else "audio file not found"
            if row.audio is not None and options.probe:
                if row.audio not in probed:
                    probed[row.audio] = probe_audio(row.audio)
                duration, problem = probed[row.audio]
                if problem:
                    reason = f"{problem} ({row.audio})"
                else:
                    row.extra["duration"] = round(float(duration), 3)
            if reason is not None:
                key = (row.split, row.clip_id)
                if key in missing:
                    missing[key].rows += 1
                else:
                    missing[key] = MissingClip(row.clip_id, row.split, 1, reason, row.expected, row.origin)
                continue
            record = _record(row, out, dataset, options)
            if row.split not in handles:
                handles[row.split] = open(staging / f"{row.split}.jsonl", "w", encoding="utf-8")
            handles[row.split].write(json.dumps(record, ensure_ascii=False) + "\n")
            columns.setdefault(row.split, {}).update(dict.fromkeys(record))
            counts[row.split] += 1
            clip_ids[row.split].add(row.clip_id)
        for handle in handles.values():
            handle.close()
        missing_list = list(missing.values())
        if missing_list and options.fail_on_missing:
            listed = "; ".join(f"{m.clip_id} ({m.reason}, looked for {m.expected})" for m in missing_list[:MAX_LISTED])
            raise ValueError(f"{dataset}: {len(missing_list)} clip(s) listed in the metadata have no readable audio: "
                             f"{listed}{' ...' if len(missing_list) > MAX_LISTED else ''}")
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        for split in sorted(handles, key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER)):
            path = out / f"{split}.{options.format}"
            if options.format == "jsonl":
                os.replace(staging / f"{split}.jsonl", path)
            else:
                _jsonl_to_csv(staging / f"{split}.jsonl", path, list(columns[split]))
            files[split] = path
    finally:
        for handle in handles.values():
            handle.close()
        shutil.rmtree(staging, ignore_errors=True)
    stale = [out / f"{s}.{f}" for s in SPLIT_ORDER for f in FORMATS if s not in files or f != options.format]
    for path in stale:  # a re-run with other splits must not leave an old manifest behind
        if path.is_file():
            path.unlink()
    missing_path = out / "missing.csv"
    if missing_list:
        with open(missing_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["clip_id", "split", "caption_rows", "reason", "looked_for", "first_metadata_row"])
            for m in missing_list:
                writer.writerow([m.clip_id, m.split, m.rows, m.reason, m.expected, m.origin])
    elif missing_path.is_file():
        missing_path.unlink()
    result = PrepareResult(dataset, out, files, {s: counts[s] for s in files}, {s: len(clip_ids[s]) for s in files},
                           missing_list, (stats or {}).get("empty_captions", 0),
                           options={k: v for k, v in vars(options).items() if v not in (None, False)})
    (out / "prepare_report.json").write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    return result


def _record(row: Row, out: Path, dataset: str, options: PrepareOptions) -> dict[str, Any]:
    audio = os.path.relpath(row.audio, out) if row.audio is not None else ""
    record = {"audio": audio.replace(os.sep, "/"), "caption": row.caption, "source": dataset,
              "license": options.license or row.license, "clip_id": row.clip_id}
    record.update(row.extra)
    return record


def _jsonl_to_csv(source: Path, path: Path, columns: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(source, encoding="utf-8") as src, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for line in src:
            writer.writerow({k: _cell(v) for k, v in json.loads(line).items()})
    os.replace(tmp, path)


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


__all__ = [
    "AUDIO_SUFFIXES", "AudioIndex", "LayoutError", "MissingClip", "PrepareOptions", "PrepareResult", "Row",
    "audio_folders", "descendants", "existing_dirs", "fill_template", "iter_csv_rows", "join_names", "lower_name",
    "read_csv_rows",
    "read_ontology", "read_text", "require_file", "write_prepared",
]
