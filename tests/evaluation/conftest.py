"""Shared by the evaluation tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wavlink.inference import Embedder


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models: one thread is ~10x faster than several when the CPUs are shared (no OpenMP spinning)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random")
    return save_model_folder(model, processor, tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def count_encodes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts Embedder.encode_audio / encode_text calls (cache hits must not call them)."""
    calls = {"audio": 0, "text": 0}
    audio, text = Embedder.encode_audio, Embedder.encode_text

    def enc_audio(self, *a, **k):
        calls["audio"] += 1
        return audio(self, *a, **k)

    def enc_text(self, *a, **k):
        calls["text"] += 1
        return text(self, *a, **k)

    monkeypatch.setattr(Embedder, "encode_audio", enc_audio)
    monkeypatch.setattr(Embedder, "encode_text", enc_text)
    return calls
