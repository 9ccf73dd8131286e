"""The presets `--all-sizes` publishes (`hub/presets.py`): every Omni preset gets its folder, and
`--from-pretrained` builds each preset from its checkpoints (stubbed) and names them in the card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hub_helpers import ORG, push
from huggingface_hub import ModelCard


def test_all_sizes_omni_presets(all_sizes: tuple[Path, int]) -> None:
    out, rc = all_sizes
    assert rc == 0
    from wavlink.builders.omni_presets import OMNI_PRESETS

    for name in OMNI_PRESETS:
        folder = out / ORG / f"omni-audio-embedder-{name}"
        assert (folder / "model.safetensors").is_file(), folder
        card = ModelCard.load(folder / "README.md")
        assert card.data.pipeline_tag == "feature-extraction"
        assert 'pipeline("zero-shot-audio-classification"' in card.text
        dims = json.loads((folder / "config.json").read_text())["matryoshka_dims"]
        assert (f"truncate_dim={min(dims)})" in card.text) == (len(dims) > 1), (name, dims)  # ST usage example
        assert "hypothesis_template" not in card.text  # no text instruction in these presets


def test_from_pretrained_records_the_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--from-pretrained` calls build_model with the preset's checkpoints (stubbed: no Hub offline) and the
    card names them as `base_model`."""
    import wavlink.builders.wavlink
    from wavlink.builders.presets import PRESETS

    calls = []

    def fake_build(whisper: str, text: str, **kwargs: Any) -> Any:
        calls.append((whisper, text, kwargs.get("projection_dim")))
        return wavlink.builders.wavlink.create_model("tiny-random")

    monkeypatch.setattr(wavlink.builders.wavlink, "build_model", fake_build)
    assert push("--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "base", "--from-pretrained",
                "--dry-run", str(tmp_path), "--no-verify") == 0
    base = PRESETS["base"]
    assert calls == [(base.audio, base.text, base.projection_dim)]
    card = ModelCard.load(tmp_path / ORG / "wavlink-base" / "README.md")
    assert card.data.base_model == [base.audio, base.text]
    assert "not yet trained contrastively" in card.text


def test_omni_from_pretrained_records_the_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--from-pretrained` builds Omni presets with `build_omni(preset=...)` (stubbed: no Hub offline); the card's
    `base_model` names the audio-encoder and LLM checkpoints, once each (M4 takes both from one checkpoint)."""
    import wavlink.builders.omni as omni_builder
    from wavlink.builders.omni_presets import OMNI_PRESETS

    calls = []

    def fake_build_omni(preset: str | None = None, **kwargs: Any) -> Any:
        calls.append(preset)
        return omni_builder.create_omni("tiny-random")

    monkeypatch.setattr(omni_builder, "build_omni", fake_build_omni)
    assert push("--all-sizes", "--org", ORG, "--family", "omni", "--presets", "m1,m4", "--from-pretrained",
                "--dry-run", str(tmp_path), "--no-verify") == 0
    assert calls == ["m1", "m4"]
    m1, m4 = OMNI_PRESETS["m1"], OMNI_PRESETS["m4"]
    card = ModelCard.load(tmp_path / ORG / "omni-audio-embedder-m1" / "README.md")
    assert card.data.base_model == [m1.audio, m1.text] and "assembled from pretrained" in card.text
    assert ModelCard.load(tmp_path / ORG / "omni-audio-embedder-m4" / "README.md").data.base_model == [m4.text]
