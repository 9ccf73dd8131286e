"""`wavlink create`: a preset written as a folder that loads."""

from __future__ import annotations

from pathlib import Path

from wavlink.inference import Embedder


def test_create_writes_a_loadable_folder(model_dir: Path) -> None:
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "modules.json", "processor_config.json"} <= names
    assert Embedder.load(model_dir).model.config.projection_dim == 32
