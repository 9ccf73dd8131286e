"""Test-session environment: offline Hub and a throw-away HF cache.

The variables are set at import time, before any test module imports huggingface_hub / transformers
(their constants are read once at import), so no test waits on network retries or writes to ~/.cache.
Subprocesses started by the tests inherit them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_HF_HOME = tempfile.mkdtemp(prefix="wavlink-tests-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_MODULES_CACHE"] = os.path.join(_HF_HOME, "modules")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# user caches that follow XDG (the search and evaluation embedding caches) go to the throw-away folder too; the
# default model's cache ($WAVLINK_CACHE, else ~/.cache/wavlink) is left alone, so it is assembled once per machine
os.environ["XDG_CACHE_HOME"] = os.path.join(_HF_HOME, "xdg-cache")


@pytest.fixture(scope="session", autouse=True)
def _offline_hf_home() -> Iterator[str]:
    """Check the settings took effect (nothing imported the Hub earlier) and remove the cache afterwards."""
    import huggingface_hub.constants as hub_constants

    assert hub_constants.HF_HUB_OFFLINE, "huggingface_hub was imported before tests/conftest.py set offline mode"
    assert os.path.realpath(hub_constants.HF_HOME) == os.path.realpath(_HF_HOME), hub_constants.HF_HOME
    yield _HF_HOME
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tones in a folder with a sub-folder (wav and flac): what the command and inference tests embed."""
    import soundfile as sf
    from helpers import SR, make_tone

    folder = tmp_path_factory.mktemp("sounds")
    (folder / "sub").mkdir()
    for name, freqs in [("low.wav", (220.0,)), ("mid.flac", (880.0, 1320.0)), ("sub/high.wav", (3000.0,))]:
        sf.write(folder / name, make_tone(1.0 + len(name) / 10, SR, freqs), SR)
    return folder
