"""Code from a model folder runs only when the user asks for it (issue 25, item 1).

Crafted folders carry .py files that write a marker file when imported. wavlink / omni folders must load with
the package's own classes (marker absent), any other model type with code of its own must be refused unless
--trust-remote-code is given, and an index whose meta.json names another model must refuse it before any of
that model is imported, even with --trust-remote-code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_clip

from wavlink.cli import main
from wavlink.inference import Embedder, load_sentence_transformer

PAYLOAD = "\nimport pathlib as _p\n_p.Path({marker!r}).joinpath({name!r}).write_text('ran')\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trust")
    assert main(["create", "--preset", "tiny-random", "--out", str(root / "tiny")]) == 0
    (root / "clips").mkdir()
    for i in range(3):
        sf.write(root / "clips" / f"c{i}.wav", make_clip(0.3 + 0.1 * i, seed=i), SR)
    return root


def craft(root: Path, name: str, model_type: str | None = None) -> tuple[Path, Path]:
    """A copy of the tiny model whose every .py writes a file into the returned marker folder when imported."""
    folder, marker = root / name, root / f"{name}-marker"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(marker, ignore_errors=True)
    shutil.copytree(root / "tiny", folder)
    marker.mkdir()
    for py in folder.glob("*.py"):
        py.write_text(py.read_text() + PAYLOAD.format(marker=str(marker), name=py.name))
    if model_type is not None:
        config = json.loads((folder / "config.json").read_text())
        config["model_type"] = model_type
        (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


def test_a_wavlink_folder_loads_with_the_package_classes_and_its_code_never_runs(root, tmp_path, capsys) -> None:
    folder, marker = craft(root, "evil-wavlink")
    assert main(["embed", str(root / "clips"), "--model", str(folder), "--out", str(tmp_path / "e.npy")]) == 0
    assert not list(marker.iterdir())
    embedder = Embedder.load(folder)
    assert type(embedder.model).__module__ == "wavlink.remote_code.modeling_wavlink"
    assert type(embedder.processor).__module__ == "wavlink.remote_code.processing_wavlink"
    expected = Embedder.load(root / "tiny").encode_audio(sorted(str(p) for p in (root / "clips").iterdir()))
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), expected, atol=1e-6)
    load_sentence_transformer(folder)  # the Python API too
    assert not list(marker.iterdir())


@pytest.mark.parametrize("command", [
    ["embed", "{clips}", "--out", "{tmp}/e.npy"],
    ["search", "{clips}", "a query"],
    ["classify", "{clips}", "--labels", "a,b"],
    ["index", "{clips}", "--out", "{tmp}/idx"],
])
def test_another_model_type_with_code_is_refused_without_the_flag(root, tmp_path, capsys, command) -> None:
    pytest.importorskip("faiss") if command[0] == "index" else None
    folder, marker = craft(root, "evil-other", model_type="evilnet")
    argv = [a.format(clips=root / "clips", tmp=tmp_path) for a in command] + ["--model", str(folder)]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not a wavlink model" in err and "'evilnet'" in err and "--trust-remote-code" in err
    assert "configuration_wavlink.py" in err and "Traceback" not in err
    assert not list(marker.iterdir())


def test_finetune_refuses_it_too_before_reading_anything(root, tmp_path, capsys) -> None:
    folder, marker = craft(root, "evil-other", model_type="evilnet")
    manifest = tmp_path / "m.csv"
    manifest.write_text("audio,caption\n" + "".join(f"{root}/clips/c{i}.wav,clip {i}\n" for i in range(3)))
    assert main(["finetune", "--model", str(folder), "--data", str(manifest), "--out", str(tmp_path / "a"),
                 "--max-steps", "1", "--num-workers", "0", "--val-fraction", "0"]) == 2
    assert "--trust-remote-code" in capsys.readouterr().err
    assert not list(marker.iterdir())


def test_the_flag_is_what_lets_that_code_run(root, tmp_path) -> None:
    """The marker does appear once the user opts in: the refusals above are what keeps it away."""
    folder, marker = craft(root, "evil-other-trusted", model_type="evilnet")
    try:
        main(["embed", str(root / "clips"), "--model", str(folder), "--out", str(tmp_path / "e.npy"),
              "--trust-remote-code"])
    except Exception:  # noqa: BLE001  (whether the crafted model then loads does not matter here)
        pass
    assert list(marker.iterdir())


def test_an_index_refuses_another_model_before_loading_it(root, tmp_path, capsys) -> None:
    pytest.importorskip("faiss")
    idx = tmp_path / "idx"
    assert main(["index", str(root / "clips"), "--out", str(idx), "--model", str(root / "tiny")]) == 0
    meta = json.loads((idx / "meta.json").read_text())
    assert meta["model_files"]["files"]["model.safetensors"]
    evil, marker = craft(root, "evil-indexed", model_type="evilnet")
    # meta.json is only a file: it names the crafted folder and asks for trust; neither gets that code run
    meta.update(model=str(evil), load_options={"trust_remote_code": True})
    (idx / "meta.json").write_text(json.dumps(meta))
    for extra in ([], ["--trust-remote-code"]):
        capsys.readouterr()
        assert main(["search", "--index", str(idx), "a query", *extra]) == 2
        err = capsys.readouterr().err
        assert "is not the model this index was built with" in err and "(config.json" in err and "not loaded" in err and "Traceback" not in err
        assert not list(marker.iterdir())
    # the same folder given as --model: refused the same way
    meta["model"] = str(root / "tiny")
    (idx / "meta.json").write_text(json.dumps(meta))
    assert main(["search", "--index", str(idx), "a query", "--model", str(evil), "--trust-remote-code"]) == 2
    assert not list(marker.iterdir())
    # a wavlink folder with the same files but crafted code: the files match, the package's classes load it,
    # and its code does not run
    copy, copy_marker = craft(root, "evil-indexed-wavlink")
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "a query", "--model", str(copy), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["results"]) == 3
    assert not list(copy_marker.iterdir())


def test_push_verification_refuses_foreign_code(root, tmp_path, capsys) -> None:
    folder, marker = craft(root, "evil-push")
    assert main(["push", "--model", str(folder), "--repo", "org/x", "--dry-run", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "differ from this package's remote code" in err and "--trust-remote-code" in err
    assert not list(marker.iterdir())
