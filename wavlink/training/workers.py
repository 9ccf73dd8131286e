"""DataLoader worker processes that never outlive the process that started them.

PyTorch's workers notice a dead parent only by polling (every 5 s, and only between batches), so a SIGKILLed
training run could leave a worker decoding audio, holding hundreds of MB, long after (seen once in four kills).
`worker_init` asks Linux to SIGKILL the worker the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``), and
exits at once if the parent is already gone. Every DataLoader of the package passes it (`loader_kwargs`).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1


def die_with_parent(worker_id: int, parent: int) -> None:
    """``worker_init_fn``: this worker gets SIGKILL when `parent` (the process that made it) dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def loader_kwargs(num_workers: int) -> dict[str, Any]:
    """DataLoader arguments for `num_workers` workers that die with this process (none when 0)."""
    if not num_workers:
        return {}
    return {"worker_init_fn": functools.partial(die_with_parent, parent=os.getpid()), "persistent_workers": False}


__all__ = ["die_with_parent", "loader_kwargs"]
