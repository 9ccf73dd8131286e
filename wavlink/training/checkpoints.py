"""Checkpoint folders on disk: their names, finding the newest complete one, durable writes, RNG state.

A checkpoint is ``<output_dir>/checkpoints/step-NNNNNNNN/`` holding `STATE_FILE` (written last, so a folder
without it is incomplete), what ``accelerator.save_state`` writes (the trainable weights — a pre-hook drops the
frozen ones — and the optimizer state: from rank 0 under DDP, as per-rank shards under FSDP / DeepSpeed), the
scheduler state and one RNG file per rank (checkpoints of older versions, `WEIGHTS_FILE` + ``optimizer.pt``, still
load). The
trainer writes it to a ``.tmp-`` folder, fsyncs it (`fsync_tree`) and renames it into place (`fsync_dir`), so an
interrupted save never leaves a folder that `list_checkpoints` would offer for ``resume="latest"``. RNG states
are stored as plain Python values (`to_python`) so they load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_PREFIX = "step-"
TMP_PREFIX = ".tmp-"
STATE_FILE = "trainer_state.json"
WEIGHTS_FILE = "trainable.safetensors"
LABELS_FILE = "label_embeds.pt"



def list_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints, oldest first (temp folders of interrupted saves are ignored)."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and (p / STATE_FILE).is_file():
            try:
                found.append((int(p.name[len(CHECKPOINT_PREFIX):]), p))
            except ValueError:
                continue
    return [p for _, p in sorted(found)]


def resolve_resume(resume: str | os.PathLike | None, output_dir: str | os.PathLike) -> Path | None:
    """``"latest"`` -> newest complete checkpoint (None if there is none yet: a fresh start); a path -> itself."""
    if resume is None or resume == "":
        return None
    if str(resume) == "latest":
        found = list_checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise ValueError(f"not a checkpoint folder (no {STATE_FILE}): {path}")
    return path


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(path: Path) -> None:
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(root))


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def to_python(value: Any) -> Any:
    """RNG states as plain tuples/lists (loadable with torch.load(weights_only=True))."""
    if isinstance(value, tuple):
        return tuple(to_python(v) for v in value)
    if isinstance(value, list):
        return [to_python(v) for v in value]
    return value


__all__ = [
    "CHECKPOINT_PREFIX",
    "LABELS_FILE",
    "STATE_FILE",
    "TMP_PREFIX",
    "WEIGHTS_FILE",
    "fsync_dir",
    "fsync_tree",
    "list_checkpoints",
    "resolve_resume",
    "rng_state",
    "set_rng_state",
    "to_python",
]
