"""On-disk embedding cache keyed by what determines an embedding: the model's files and the data.

Re-running an evaluation (another Matryoshka dim, quantisation, a different template set, a plotting fix)
should not re-embed thousands of clips. The key is

* the **model fingerprint**: SHA-256 over the model folder's files (config, processor/tokenizer files, the
  remote-code ``.py`` files and the full content hash of every weight file; README/.gitattributes are
  ignored). Content hashes of large files are memoised in ``<cache_dir>/file_hashes.json`` by
  (path, size, mtime), so a 3 GB checkpoint is hashed once. For a Hub id the cached snapshot folder is used;
  when no folder can be found, the loaded parameters themselves are hashed;
* the **data fingerprint**: every audio item's absolute path + size + mtime (or the hash of its bytes /
  array for in-memory audio), or the exact list of texts.

Only full-width, L2-normalised embeddings are stored; Matryoshka widths are slices of them (re-normalised),
which equals what the model returns for ``truncate_dim``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub import try_to_load_from_cache

from ..files import atomic_write_bytes, cache_dir

CACHE_VERSION = 1
_SMALL_FILE = 1 << 20
_SKIP_FILES = {"README.md", ".gitattributes"}


def embedding_cache_dir() -> Path:
    """``$WAVLINK_CACHE/embeddings``, else ``$XDG_CACHE_HOME/wavlink/embeddings`` or ``~/.cache/...``."""
    return cache_dir("embeddings")


class _FileHashMemo:
    """Content hashes of big files, reused while (size, mtime) are unchanged."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                self.data = json.loads(path.read_text())
            except (OSError, ValueError):
                self.data = {}
        self.dirty = False

    def sha256(self, file: Path) -> str:
        st = file.stat()
        key = str(file.resolve())
        entry = self.data.get(key)
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            return entry["sha256"]
        h = hashlib.sha256()
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        digest = h.hexdigest()
        self.data[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self.dirty = True
        return digest

    def save(self) -> None:
        if self.dirty and self.path is not None:
            atomic_write_bytes(self.path, json.dumps(self.data, indent=0).encode())
            self.dirty = False


def resolve_model_folder(source: str | os.PathLike, revision: str | None = None) -> Path | None:
    """The local folder holding a model: the path itself, or the HF-cache snapshot of a Hub id (at `revision`)."""
    if os.path.isdir(source):
        return Path(source)
    try:
        found = try_to_load_from_cache(os.fspath(source), "config.json", revision=revision)
    except Exception:  # not a valid repo id, or no cache
        return None
    return Path(found).parent if isinstance(found, str) else None


def folder_fingerprint(folder: str | os.PathLike, memo_path: Path | None = None) -> str:
    """SHA-256 over the names and contents of a model folder's top-level files (see the module doc)."""
    folder = Path(folder)
    memo = _FileHashMemo(memo_path)
    h = hashlib.sha256(f"wavlink-model-v{CACHE_VERSION}".encode())
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in _SKIP_FILES
                   and not p.name.startswith("."))
    if not files:
        raise ValueError(f"model folder {folder} has no files")
    for p in files:
        h.update(p.name.encode() + b"\0")
        if p.stat().st_size <= _SMALL_FILE:
            h.update(hashlib.sha256(p.read_bytes()).hexdigest().encode())
        else:
            h.update(memo.sha256(p).encode())
    memo.save()
    return h.hexdigest()


def parameters_fingerprint(model: Any) -> str:
    """Fallback fingerprint: config JSON + every parameter/buffer's bytes (used when no folder exists)."""
    h = hashlib.sha256(f"wavlink-params-v{CACHE_VERSION}".encode())
    config = getattr(model, "config", None)
    if config is not None:
        h.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        tensor = tensor.detach().cpu().contiguous()
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: hash the same bytes as int16
            tensor = tensor.view(torch.int16)
        h.update(tensor.numpy().tobytes())
    return h.hexdigest()


def model_cache_key(source: str | os.PathLike | None, model: Any = None, cache_dir: Path | None = None,
                      revision: str | None = None, dtype: str | None = None) -> str:
    """The folder's fingerprint (the Hub snapshot at `revision` for a Hub id), else the parameters'. A `dtype`
    the weights were loaded in on request (not as saved) is part of it: the embeddings differ."""
    folder = resolve_model_folder(source, revision) if source is not None else None
    if folder is not None:
        fingerprint = folder_fingerprint(folder, cache_dir / "file_hashes.json" if cache_dir else None)
        return hashlib.sha256(f"{fingerprint}\0dtype={dtype}".encode()).hexdigest() if dtype else fingerprint
    if model is None:
        raise ValueError(f"cannot fingerprint model {source!r}: no local folder and no loaded model")
    return parameters_fingerprint(model)


def _audio_item_key(item: Any) -> bytes:
    if isinstance(item, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(item))
        try:
            st = os.stat(path)
        except OSError as err:
            raise ValueError(f"audio file not found: {path}") from err
        return f"p\0{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    if isinstance(item, dict):
        if item.get("bytes") is not None:
            return b"b\0" + hashlib.sha256(item["bytes"]).digest()
        if item.get("array") is not None:
            arr = np.ascontiguousarray(np.asarray(item["array"]))
            return (f"a\0{arr.dtype}\0{arr.shape}\0{item.get('sampling_rate')}\0".encode()
                    + hashlib.sha256(arr.tobytes()).digest())
        if item.get("path"):
            return _audio_item_key(item["path"])
    if hasattr(item, "detach"):
        item = item.detach().cpu().numpy()
    arr = np.ascontiguousarray(np.asarray(item))
    return f"n\0{arr.dtype}\0{arr.shape}\0".encode() + hashlib.sha256(arr.tobytes()).digest()


def data_fingerprint(items: Sequence[Any], modality: str) -> str:
    """SHA-256 of a list of audio items (path + size + mtime, or content) or of texts (exact strings)."""
    h = hashlib.sha256(f"{modality}-v{CACHE_VERSION}-{len(items)}".encode())
    for item in items:
        h.update(_audio_item_key(item) if modality == "audio" else str(item).encode() + b"\0\1")
        h.update(b"\n")
    return h.hexdigest()


class EmbeddingCache:
    """``get_or_compute(modality, items, compute)`` with hit/miss accounting (``self.stats``).

    ``cache_dir=None`` disables storage (every call computes) but still counts.
    """

    def __init__(self, cache_dir: str | os.PathLike | None, model_key: str) -> None:
        self.dir = Path(cache_dir) / model_key[:24] if cache_dir is not None else None
        self.model_key = model_key
        self.stats: dict[str, dict[str, int]] = {}

    def path_for(self, modality: str, items: Sequence[Any]) -> Path | None:
        if self.dir is None:
            return None
        return self.dir / f"{modality}-{data_fingerprint(items, modality)[:32]}.npy"

    def _count(self, modality: str, what: str) -> None:
        self.stats.setdefault(modality, {"hit": 0, "miss": 0})[what] += 1

    def get_or_compute(self, modality: str, items: Sequence[Any],
                       compute: Callable[[Sequence[Any]], np.ndarray]) -> np.ndarray:
        path = self.path_for(modality, items)
        if path is not None and path.is_file():
            try:
                arr = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                arr = None
            if arr is not None and arr.ndim == 2 and arr.shape[0] == len(items):
                self._count(modality, "hit")
                return arr
        self._count(modality, "miss")
        arr = np.asarray(compute(items), dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != len(items):
            raise ValueError(f"mismatched counts: {len(items)} {modality} inputs but embeddings of shape {arr.shape}")
        if path is not None:
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            atomic_write_bytes(path, buf.getvalue())
            meta = self.dir / "model.json"
            if not meta.exists():
                atomic_write_bytes(meta, json.dumps({"model_fingerprint": self.model_key}).encode())
        return arr


__all__ = [
    "CACHE_VERSION",
    "EmbeddingCache",
    "data_fingerprint",
    "embedding_cache_dir",
    "folder_fingerprint",
    "model_cache_key",
    "parameters_fingerprint",
    "resolve_model_folder",
]
