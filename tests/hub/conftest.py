"""Fixtures of the publishing tests: a saved tiny folder, one `--all-sizes` dry run shared by every file
(its fresh-process verification is the slow part), and a fake token."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hub_helpers import ALL_SIZES_VERIFIED, ORG, push

from wavlink.hub import verify as hub_verify


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny-random WavLink folder, as `wavlink create` writes it."""
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    out = tmp_path_factory.mktemp("src") / "tiny"
    model, processor = create_model("tiny-random")
    save_model_folder(model, processor, out)
    return out


@pytest.fixture(scope="session")
def all_sizes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One `--all-sizes` dry run with tiny stand-ins, both families when Omni exists (one verify process)."""
    from wavlink.hub import publish as hub_publish

    out = tmp_path_factory.mktemp("dry")
    family = "all"

    def recording_verify(jobs: Any, timeout: float, **kwargs: Any) -> Any:  # the real verification, its report kept
        report = hub_verify.verify(jobs, timeout=timeout, **kwargs)
        ALL_SIZES_VERIFIED.update(report)
        return report

    with mock.patch.object(hub_publish, "verify", recording_verify):
        rc = push("--all-sizes", "--org", ORG, "--family", family, "--tiny-standins", "--dry-run", str(out))
    return out, rc


@pytest.fixture()
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    return "hf_fake_token_for_tests"
