"""`wavlink embed`: audio and texts to .npy / .safetensors equal to the Python API's, never over a file it did
not create, and errors in one line that name the likely fix (a sentence given without --text is refused before
the model loads, with the --text command to run instead)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

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


def test_embed_audio_npy_matches_the_api(model_dir: Path, sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio.npy"
    assert main(["embed", str(sounds), "--model", str(model_dir), "--out", str(out), "--dim", "16"]) == 0
    vectors = np.load(out)
    names = [json.loads(line) for line in (tmp_path / "audio.npy.inputs.jsonl").read_text().splitlines()]
    assert vectors.shape == (3, 16) and len(names) == 3
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = Embedder.load(model_dir).encode_audio(names, truncate_dim=16)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_embed_text_safetensors_keeps_inputs_and_modality(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "text.safetensors"
    texts = ["a dog barking", "rain on a roof"]
    assert main(["embed", "--text", *texts, "--model", str(model_dir), "--out", str(out)]) == 0
    with safe_open(str(out), "np") as f:
        vectors, meta = f.get_tensor("embeddings"), f.metadata()
    assert meta["modality"] == "text" and meta["inputs_format"] == "json" and json.loads(meta["inputs"]) == texts
    np.testing.assert_allclose(vectors, Embedder.load(model_dir).encode_text(texts), atol=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "a dog", "--dim", "12"], "truncate_dim=12 was not trained"),
        (["--text", "   "], "text\\[0\\] is empty"),
        (["missing.wav"], "missing.wav"),
    ],
)
def test_embed_errors_are_one_line(model_dir: Path, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert main(["embed", *args, "--model", str(model_dir), "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err, err


def test_embed_rejects_an_unknown_output_suffix(model_dir: Path, capsys) -> None:
    assert main(["embed", "--text", "a", "--model", str(model_dir), "--out", "x.csv"]) == 2
    assert "--out must end with .npy or .safetensors" in capsys.readouterr().err


def test_embed_never_overwrites_a_file_it_did_not_create(model_dir: Path, tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    """Issue 25, item 4: `--out notes.npy` used to replace notes.txt (its sidecar) silently."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    out = tmp_path / "notes.npy"
    texts = ["a dog\nbarking", "rain\u2028on a roof", "plain"]  # inputs with line breaks round-trip
    assert main(["embed", "--text", *texts, "--model", str(model_dir), "--out", str(out)]) == 0
    assert notes.read_text() == "my notes\n"
    sidecar = tmp_path / "notes.npy.inputs.jsonl"
    assert [json.loads(line) for line in sidecar.read_text(encoding="utf-8").splitlines()] == texts
    first = out.read_bytes()
    # a second run into the same file is refused before the model loads, and leaves both files alone
    import wavlink.inference

    monkeypatch.setattr(wavlink.inference.Embedder, "load", lambda *a, **k: pytest.fail("model loaded"))
    for existing in (out, sidecar):
        capsys.readouterr()
        assert main(["embed", "--text", "x", "--model", str(model_dir), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "already exists" in err and "--overwrite" in err and "Traceback" not in err
        out.unlink() if existing is out else None  # the sidecar alone is protected as well
    sidecar.unlink()
    out.write_bytes(first)
    monkeypatch.undo()
    assert main(["embed", "--text", "x", "--model", str(model_dir), "--out", str(out), "--overwrite"]) == 0
    assert np.load(out).shape[0] == 1 and sidecar.read_text() == '"x"\n'
    assert main(["embed", "--text", "x", "--model", str(model_dir), "--out", str(tmp_path / "no" / "x.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_model_folder_and_unreachable_hub_id(tmp_path: Path, capsys) -> None:
    assert main(["embed", "--text", "a", "--model", str(tmp_path / "nowhere"), "--out", "x.npy"]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert main(["embed", "--text", "a", "--model", "no-such-org/no-such-model", "--out", "x.npy"]) == 2
    err = capsys.readouterr().err
    assert "cannot load model 'no-such-org/no-such-model'" in err and "Traceback" not in err
