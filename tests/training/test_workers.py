"""DataLoader workers die with the process that started them, even when it is SIGKILLed (issue 25, item 14).

PyTorch's workers look for a dead parent only between items and every 5 s, so a busy worker outlived a killed
run by seconds (by minutes when it was decoding); `training.workers.loader_kwargs` arms a parent-death signal.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")

CHILD = textwrap.dedent("""
    import sys, time
    from torch.utils.data import DataLoader, Dataset
    from wavlink.training.workers import loader_kwargs

    class Slow(Dataset):  # a worker busy decoding a long clip
        def __len__(self):
            return 10**6

        def __getitem__(self, i):
            time.sleep(3.0)
            return i

    for batch in DataLoader(Slow(), batch_size=1, num_workers=2, **loader_kwargs(2)):
        pass
""")


def test_busy_workers_die_at_once_with_a_killed_parent() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env={**os.environ, "OMP_NUM_THREADS": "1"})
    workers: list[psutil.Process] = []
    try:
        deadline = time.time() + 60
        while len(workers) < 2:
            assert proc.poll() is None and time.time() < deadline, "no DataLoader workers appeared"
            time.sleep(0.1)
            workers = psutil.Process(proc.pid).children()
        time.sleep(1.0)  # both workers inside __getitem__
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        start = time.time()
        while time.time() - start < 1.0 and any(_running(w) for w in workers):
            time.sleep(0.02)
        assert not any(_running(w) for w in workers), "DataLoader workers outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for worker in workers:  # a failed run of this test leaves nothing behind either
            try:
                worker.kill()
            except psutil.NoSuchProcess:
                pass


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_every_loader_of_a_finetune_run_arms_it(tmp_path, monkeypatch) -> None:
    """The training loader and the validation loader both get the parent-death hook."""
    import torch.utils.data

    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model
    from wavlink.training import finetune
    from wavlink.training.synthetic import make_toy_dataset
    from wavlink.training.workers import die_with_parent

    seen = []
    real_init = torch.utils.data.DataLoader.__init__

    def recording_init(self, *args, **kwargs):
        if kwargs.get("num_workers"):
            seen.append(kwargs.get("worker_init_fn"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(torch.utils.data.DataLoader, "__init__", recording_init)
    model, processor = create_model("tiny-random")
    base = save_model_folder(model, processor, tmp_path / "tiny")
    data = make_toy_dataset(tmp_path / "toy", per_kind=2, val_per_kind=1, kinds=("a low hum", "clicks"))
    finetune(str(base), data, tmp_path / "out", max_steps=1, batch_size=2, num_workers=1, min_steps=None,
             progress=False)
    assert len(seen) >= 2  # training and validation
    assert all(isinstance(f, functools.partial) and f.func is die_with_parent and f.keywords["parent"] == os.getpid()
               for f in seen), seen
