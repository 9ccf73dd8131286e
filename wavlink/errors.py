"""Errors the command line reports as one sentence (no traceback): the user's environment, not a bug."""

from __future__ import annotations

import os
import shutil


class EnvironmentProblem(RuntimeError):
    """A failure caused by the machine (full or read-only disk, ...), with what was kept and what to do."""


def free_space_note(path: str | os.PathLike) -> str:
    """'N MB free on <path>' (or nothing when it cannot be told)."""
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    return f"{free / 2**20:,.0f} MB free there"


def write_failure_hint(err: BaseException) -> str:
    """A guess at why a write failed: PyTorch's writer reports ENOSPC as `[enforce fail at inline_container.cc]`."""
    text = f"{type(err).__name__}: {err}"
    if getattr(err, "errno", None) == 28 or "No space" in text or "inline_container" in text or "write failed" in text:
        return "no space left on device?"
    if getattr(err, "errno", None) in (13, 30) or "Read-only" in text:
        return "read-only or not writable?"
    return "disk full or not writable?"


def first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


__all__ = ["EnvironmentProblem", "first_line", "free_space_note", "write_failure_hint"]
