"""Where wavlink's caches live, and how every file meant to be read back later is written.

Caches: ``$WAVLINK_CACHE/<name>``, else ``$XDG_CACHE_HOME/wavlink/<name>`` (``~/.cache/wavlink/<name>``).
Writes: to a unique temporary name beside the target, flushed to disk, then renamed over it, so a killed
process or a full disk never leaves a half-written cache file, index part, embedding file or checkpoint (the
previous file, if any, stays whole), and no temporary file is left behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The folder of one cache (``search``, ``embeddings``) under the user's wavlink cache."""
    base = os.environ.get("WAVLINK_CACHE")
    if base:
        return Path(base) / name
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "wavlink" / name


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Let `write` fill a temporary file beside `path` (it gets that file's path), then rename it to `path`
    (its folder is created when missing). On any failure the temporary file goes and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a unique name, created by `write` itself so the file gets the usual permissions (mkstemp's are 0600)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


__all__ = ["atomic_write", "atomic_write_bytes", "cache_dir"]
