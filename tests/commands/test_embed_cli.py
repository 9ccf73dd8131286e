"""`wavlink embed` errors that name the likely fix: a sentence given without --text is refused before the model
loads, with the --text command to run instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from wavlink.cli import main
from wavlink.inference import Embedder


@pytest.fixture
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Embedder, "load", classmethod(lambda cls, *a, **k: pytest.fail("the model was loaded")))


def test_a_sentence_without_text_suggests_text(tmp_path: Path, capsys, no_model_load) -> None:
    assert main(["embed", "a dog barking", "--out", str(tmp_path / "v.npy")]) == 2
    err = capsys.readouterr().err
    assert "no such audio file or folder: 'a dog barking'; to embed texts, pass --text" in err
    assert 'wavlink embed --text "a dog barking" --out OUT.npy' in err and "Traceback" not in err


def test_a_missing_audio_file_is_not_told_to_use_text(tmp_path: Path, capsys, no_model_load) -> None:
    assert main(["embed", str(tmp_path / "dog.wav"), str(tmp_path / "cat.flac"), "--out",
                 str(tmp_path / "v.npy")]) == 2
    err = capsys.readouterr().err
    assert f"audio file not found: {tmp_path / 'dog.wav'} (and 1 more)" in err and "--text" not in err
