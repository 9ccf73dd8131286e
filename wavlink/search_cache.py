"""The folder embedding cache of ``wavlink search``: a second search of the same folder embeds only what changed.

Users search the same folder again and again; re-embedding every clip each time costs a minute for a few hundred
clips. One cache entry per (folder, model, load options, dim) lives in the user's cache directory
(`search_cache_dir`: ``$WAVLINK_CACHE/search``, else ``$XDG_CACHE_HOME/wavlink/search`` or
``~/.cache/wavlink/search``), never in the audio folder. It holds two files:

* ``vectors.npy``: one float32 row per clip (read with ``allow_pickle=False``: a cache file is never unpickled);
* ``entries.json``: the model fingerprint (`trust.model_files_fingerprint`, the one indexes record), the dim,
  the row count, the SHA-256 of ``vectors.npy`` and, per row, the clip's path relative to the folder, its size and
  its mtime (ns).

A clip is re-embedded when its size or mtime changed; new clips are embedded; deleted clips are dropped. Both files
are written to temporary names and renamed, ``entries.json`` last; a cache that does not read back cleanly (damaged,
truncated, another format, a vectors file that is not the one its ``entries.json`` names) is ignored and rebuilt.
For collections of tens of thousands of clips, ``wavlink index`` builds a FAISS index instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_write_bytes, cache_dir

FORMAT = 1
VECTORS_FILE, ENTRIES_FILE = "vectors.npy", "entries.json"


def search_cache_dir() -> Path:
    """``$WAVLINK_CACHE/search``, else ``$XDG_CACHE_HOME/wavlink/search`` (``~/.cache/wavlink/search``)."""
    return cache_dir("search")


def file_stamp(path: str) -> tuple[int, int]:
    """(size, mtime in ns): what tells a changed file from an unchanged one without reading it."""
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


@dataclass
class CacheReport:
    """What one `cached_folder_embeddings` call did, for the user's note and for tests."""

    reused: int
    embedded: int
    dropped: int
    path: Path | None


def entry_dir(cache_dir: Path, folder: str, model_sha256: str, options: dict[str, Any], dim: int | None) -> Path:
    """The entry of one folder under one model (fingerprint + load options) and dim."""
    key = json.dumps({"folder": os.path.realpath(folder), "model": model_sha256, "options": options, "dim": dim},
                     sort_keys=True)
    return cache_dir / hashlib.sha256(key.encode()).hexdigest()[:32]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_entry(entry: Path, model_sha256: str, dim: int | None) -> tuple[dict[tuple[str, int, int], int], np.ndarray]:
    """The cached rows as {(relative path, size, mtime_ns): row} and the vectors; empty when there is no usable
    cache (missing, damaged or another model's): the caller then embeds everything and rewrites it."""
    empty: tuple[dict[tuple[str, int, int], int], np.ndarray] = ({}, np.zeros((0, 0), np.float32))
    try:
        meta = json.loads((entry / ENTRIES_FILE).read_text(encoding="utf-8"))
        raw = (entry / VECTORS_FILE).read_bytes()
        if (meta.get("format") != FORMAT or meta.get("model") != model_sha256 or meta.get("dim") != dim
                or meta.get("vectors_sha256") != _sha256(raw)):
            return empty

        vectors = np.load(io.BytesIO(raw), allow_pickle=False)
        files = meta["files"]
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != len(files):
            return empty
        rows = {(str(name), int(size), int(mtime)): i for i, (name, size, mtime) in enumerate(files)}
    except (OSError, ValueError, KeyError, TypeError):  # JSONDecodeError is a ValueError
        return empty
    return rows, vectors


def write_entry(entry: Path, model_sha256: str, dim: int | None, folder: str,
                files: Sequence[tuple[str, int, int]], vectors: np.ndarray) -> None:
    """Write the vectors, then the entries naming their checksum (a crash in between leaves a cache that no
    longer reads back, so it is rebuilt, never mismatched)."""
    entry.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    raw = buffer.getvalue()
    meta = {"format": FORMAT, "model": model_sha256, "dim": dim, "folder": os.path.realpath(folder),
            "count": len(files), "vectors_sha256": _sha256(raw), "files": [list(f) for f in files]}
    atomic_write_bytes(entry / VECTORS_FILE, raw)
    atomic_write_bytes(entry / ENTRIES_FILE, (json.dumps(meta) + "\n").encode("utf-8"))


def cached_folder_embeddings(folder: str, files: Sequence[str], embed: Callable[[list[str]], np.ndarray], *,
                             model_sha256: str, options: dict[str, Any] | None = None, dim: int | None = None,
                             cache_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, CacheReport]:
    """Embeddings of `files` (paths under `folder`, rows in that order), embedding with `embed` only the files
    the cache does not hold unchanged, and writing the updated cache back."""
    cache_root = Path(cache_dir) if cache_dir is not None else search_cache_dir()
    entry = entry_dir(cache_root, folder, model_sha256, dict(options or {}), dim)
    cached, old_vectors = read_entry(entry, model_sha256, dim)
    stamps = [(os.path.relpath(path, folder), *file_stamp(path)) for path in files]
    rows = [cached.get(stamp) for stamp in stamps]
    missing = [i for i, row in enumerate(rows) if row is None]
    fresh = embed([files[i] for i in missing]) if missing else None
    width = fresh.shape[1] if fresh is not None else old_vectors.shape[1]
    vectors = np.empty((len(files), width), dtype=np.float32)
    for i, row in enumerate(rows):
        if row is not None:
            vectors[i] = old_vectors[row]
    if fresh is not None:
        vectors[missing] = fresh
    kept = len(files) - len(missing)
    present = {stamp[0] for stamp in stamps}
    dropped = sum(1 for name, _, _ in cached if name not in present)  # deleted files (changed ones are re-embedded)
    if missing or len(cached) != kept:
        try:
            write_entry(entry, model_sha256, dim, folder, stamps, vectors)
        except OSError as err:  # a read-only or full cache directory costs the next search time, not this one

            print(f"note: could not write the search cache ({err}); pass --no-cache to skip it", file=sys.stderr)
            return vectors, CacheReport(kept, len(missing), dropped, None)
    return vectors, CacheReport(kept, len(missing), dropped, entry)


__all__ = ["CacheReport", "cached_folder_embeddings", "search_cache_dir", "entry_dir", "file_stamp", "read_entry",
           "write_entry"]
