"""`wavlink.files`: where caches live, and the one atomic writer every cache, index, embedding file and head
checkpoint goes through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wavlink.files import atomic_write, atomic_write_bytes, cache_dir


def test_cache_dir_follows_wavlink_cache_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAVLINK_CACHE", str(tmp_path / "w"))
    assert cache_dir("search") == tmp_path / "w" / "search"
    monkeypatch.delenv("WAVLINK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir("embeddings") == tmp_path / "x" / "wavlink" / "embeddings"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "meta.json"
    atomic_write_bytes(target, b"old")  # the folder is created
    assert target.read_bytes() == b"old"

    def half_written(tmp: Path) -> None:
        tmp.write_bytes(b"ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, half_written)
    assert target.read_bytes() == b"old" and os.listdir(target.parent) == ["meta.json"]
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and os.listdir(target.parent) == ["meta.json"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Not mkstemp's 0600: an index or embedding file is as readable as any file the user writes."""
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "x.npy", lambda tmp: tmp.write_bytes(b"1"))
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "x.npy").stat().st_mode) == 0o644
