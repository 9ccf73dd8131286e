"""The reload check before upload (`hub/verify.py`): every staged repo reloaded without wavlink by
transformers, sentence-transformers and the pipeline, and any difference, missing file or broken card
reported."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hub_helpers import ALL_SIZES_VERIFIED, ORG, expected_presets

from wavlink.hub import verify as hub_verify


def test_all_sizes_verifies_every_repo_with_every_loader(all_sizes: tuple[Path, int]) -> None:
    """Each repo folder was reloaded without wavlink through transformers, sentence-transformers and the
    zero-shot pipeline (both families) and matched the in-process embeddings."""
    out, rc = all_sizes
    assert rc == 0
    expected = {str(out / ORG / name) for _, name in expected_presets()}
    assert set(ALL_SIZES_VERIFIED) == expected
    for folder, diffs in ALL_SIZES_VERIFIED.items():
        assert set(diffs) == {"transformers", "sentence-transformers", "pipeline"}, folder
        assert max(diffs.values()) <= hub_verify.TOLERANCE, (folder, diffs)


def _job(folder: Path, reference: dict[str, Any]) -> hub_verify.VerifyJob:
    return hub_verify.VerifyJob(folder, "model", "wavlink", reference, [], pipeline="pipeline" in reference)


def test_verification_fails_loudly_on_any_difference(all_sizes: tuple[Path, int],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = all_sizes[0] / ORG / "wavlink-tiny-random"
    reference = {"transformers": {"text": [0.6, 0.8], "audio": [1.0, 0.0]}}
    child = {"folder": str(folder), "ok": True, "leaked": [],
             "transformers": {"text": [0.6, 0.8], "audio": [1.0, 0.0]},
             "sentence_transformers": {"text": [0.6, 0.8001], "audio": [1.0, 0.0]}}
    monkeypatch.setattr(hub_verify, "run_child", lambda jobs, timeout: [child])
    with pytest.raises(hub_verify.VerificationError, match=r"sentence-transformers\] text: max \|diff\| 0.0001"):
        hub_verify.verify([_job(folder, reference)])
    child.update(ok=False, error="OSError: no file", traceback="Traceback ...")
    with pytest.raises(hub_verify.VerificationError, match="reload without wavlink failed: OSError"):
        hub_verify.verify([_job(folder, reference)])
    child.update(ok=True, leaked=["wavlink"], sentence_transformers=child["transformers"])
    with pytest.raises(hub_verify.VerificationError, match="imported"):
        hub_verify.verify([_job(folder, reference)])


def test_verification_checks_files_and_card_before_reloading(all_sizes: tuple[Path, int], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_verify, "run_child", lambda jobs, timeout: pytest.fail("must not reload"))
    source = all_sizes[0] / ORG / "wavlink-tiny-random"
    no_code = tmp_path / "no_code"
    shutil.copytree(source, no_code)
    (no_code / "modeling_wavlink.py").unlink()
    bad_card = tmp_path / "bad_card"
    shutil.copytree(source, bad_card)
    text = (bad_card / "README.md").read_text()
    (bad_card / "README.md").write_text(text.replace("model-index", "x").replace("license:", "license: [", 1))
    bad_index = tmp_path / "bad_index"
    shutil.copytree(source, bad_index)
    (bad_index / "README.md").write_text(text.replace("---\n", "---\nmodel-index:\n- name: x\n  results:\n"
                                                             "  - task: {type: t}\n", 1))
    for folder, message in [(no_code, "modeling_wavlink.py"), (bad_card, "does not parse"),
                            (bad_index, "model_index")]:
        with pytest.raises(hub_verify.VerificationError, match=message):
            hub_verify.verify([_job(folder, {"transformers": {}})])


def test_the_real_reload_catches_weights_that_changed_after_the_reference(all_sizes: tuple[Path, int],
                                                                         tmp_path: Path) -> None:
    """No mocks: the fresh process reloads a staged folder whose audio projection was altered after the
    reference embeddings were taken, and the audio (not the text) embeddings are reported as different."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "wavlink-tiny-random"
    shutil.copytree(all_sizes[0] / ORG / "wavlink-tiny-random", folder)
    model, processor = hub_verify.load_with_package(folder)
    dims = hub_verify.smaller_dims(model.config)
    reference = hub_verify.reference_embeddings(model, processor, "wavlink", dims)
    weights = load_file(folder / "model.safetensors")
    key = next(k for k in weights if k.startswith("audio_projection") and k.endswith("weight"))
    noise = torch.randn(weights[key].shape, generator=torch.Generator().manual_seed(0))
    weights[key] = weights[key] + 0.1 * noise  # random, so LayerNorm's zero-mean output cannot cancel it
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    job = hub_verify.VerifyJob(folder, "model", "wavlink", reference, dims, pipeline=True)
    with pytest.raises(hub_verify.VerificationError) as err:
        hub_verify.verify([job])
    message = str(err.value)
    assert "[transformers] audio: max |diff|" in message and "[sentence-transformers] audio: max |diff|" in message
    assert "[transformers] text:" not in message
