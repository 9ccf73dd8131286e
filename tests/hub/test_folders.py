"""What `wavlink push` accepts (`hub/folders.py`): repo ids, orgs, model and adapter folders, and dry-run
output folders that already hold files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hub_helpers import ORG, FakeHub, push


def test_dry_run_refuses_to_mix_with_old_output(all_sizes: tuple[Path, int], capsys: pytest.CaptureFixture) -> None:
    out, _ = all_sizes
    assert push("--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "tiny-random",
                "--dry-run", str(out), "--no-verify") == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("repo", ["no-namespace", "a/b/c", "org/bad name", "org/-bad", "org/x..y", "org/" + "x" * 97])
def test_invalid_repo_ids_are_refused_before_any_work(repo: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    hub = FakeHub()
    with hub.patch():
        assert push("--model", str(tmp_path), "--repo", repo, "--dry-run", str(tmp_path / "d")) == 2
    assert "repo id" in capsys.readouterr().err and not hub.repos


def test_invalid_org_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert push("--all-sizes", "--org", "bad org", "--dry-run", str(tmp_path)) == 2
    assert "--org" in capsys.readouterr().err


def test_folders_that_are_not_models_are_refused(tiny_folder: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (other / "model.safetensors").write_bytes(b"")
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_folder, pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    no_weights = tmp_path / "no_weights"
    shutil.copytree(tiny_folder, no_weights)
    (no_weights / "model.safetensors").unlink()
    half_adapter = tmp_path / "half_adapter"
    half_adapter.mkdir()
    (half_adapter / "adapter_config.json").write_text(json.dumps({"r": 4}))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_folder, broken)
    (broken / "config.json").write_text("{not json")
    cases = {tmp_path / "missing": "not a folder", empty: "not a model folder", other: "neither a WavLink",
             pickled: "non-safetensors", no_weights: "no *.safetensors",
             half_adapter: "looks like an adapter but lacks ['adapter_model.safetensors']", broken: "cannot read"}
    for folder, message in cases.items():
        assert push("--model", str(folder), "--repo", f"{ORG}/x", "--dry-run", str(tmp_path / "d")) == 2
        assert message in capsys.readouterr().err, folder
