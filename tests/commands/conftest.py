"""Shared by the command tests: a tiny model folder as `wavlink create` writes it, a few tones to embed, and
model loading that prints to stdout (as the default model's first use does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from wavlink.cli import main
from wavlink.inference import Embedder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tiny"
    assert main(["create", "--preset", "tiny-random", "--out", str(out)]) == 0
    return out


@pytest.fixture
def loud_load(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make model loading print to stdout, as assembling the default model on first use does."""

    def apply() -> None:
        plain = Embedder.load.__func__

        def load(cls, *args, **kwargs):
            print("assembling the default model in /somewhere (first use only) ...")
            return plain(cls, *args, **kwargs)

        monkeypatch.setattr(Embedder, "load", classmethod(load))

    return apply
