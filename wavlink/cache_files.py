"""Where wavlink's caches live and how their files are written: one answer for the search and evaluation caches.

``$WAVLINK_CACHE/<name>``, else ``$XDG_CACHE_HOME/wavlink/<name>`` (``~/.cache/wavlink/<name>``); every file is
written to a temporary name beside it and renamed, so a killed process never leaves a half-written cache file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The folder of one cache (``search``, ``embeddings``) under the user's wavlink cache."""
    base = os.environ.get("WAVLINK_CACHE")
    if base:
        return Path(base) / name
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "wavlink" / name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (its folder is created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["atomic_write_bytes", "cache_dir"]
