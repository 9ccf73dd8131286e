"""The family registry (`wavlink.families`): one entry is all the package needs to know about a family.

The proof: a throwaway third family, made of one registry entry and its own remote-code files (WavLink's
classes under a new model_type), goes through `wavlink create`, `AutoModel` loading and `wavlink push
--dry-run` (which reloads it in a fresh process with transformers and sentence-transformers alone) without
any other change to the package.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from wavlink.cli import main
from wavlink.families import FAMILIES, BuildOption, Family, Preset, family_of, get_family, register_family
from wavlink.remote_code import REMOTE_CODE_DIR

PACKAGE = "third_family_code"  # the throwaway family's remote code, importable from a temporary folder
MODEL_TYPE = "third_test_family"

CONFIGURATION = f'''"""A WavLink configuration under another model_type."""

from .configuration_wavlink import WavLinkConfig


class ThirdConfig(WavLinkConfig):
    model_type = "{MODEL_TYPE}"

    def __init__(self, **kwargs):  # its own __init__: transformers 5 turns a config subclass without one
        super().__init__(**kwargs)  # into a dataclass that leaves sub-config dicts unconverted
'''
MODELING = '''"""A WavLink model of the third family."""

from .configuration_third import ThirdConfig
from .modeling_wavlink import WavLinkModel


class ThirdModel(WavLinkModel):
    config_class = ThirdConfig
'''

PRESETS = {"tiny": Preset(name="tiny", audio="tiny-random", text="tiny-random", projection_dim=32,
                          description="the third family's only size")}


def create_third(preset: str, tokenizer: str | None = None, seed: int = 0, **overrides: Any) -> tuple[Any, Any]:
    """The third family's `create`: the tiny-random WavLink architecture in the family's own classes."""
    from wavlink.builders.presets import preset_config
    from wavlink.builders.tokenization import byte_level_tokenizer

    code = sys.modules[PACKAGE]
    wavlink_config = preset_config("tiny-random", byte_level_vocab=True, **overrides)
    values = {k: v for k, v in wavlink_config.to_dict().items() if k not in ("model_type", "transformers_version")}
    config = code.configuration_third.ThirdConfig(**values)
    torch.manual_seed(seed)
    processing = code.processing_wavlink
    extractor = processing.WavLinkFeatureExtractor(feature_size=config.audio_config.num_mel_bins,
                                                   sampling_rate=config.sampling_rate,
                                                   max_audio_seconds=config.max_audio_seconds,
                                                   long_audio_policy=config.long_audio_policy,
                                                   audio_padding=config.audio_padding)
    processor = processing.WavLinkProcessor(feature_extractor=extractor, tokenizer=byte_level_tokenizer())
    return code.modeling_third.ThirdModel(config), processor


def _unused(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("not part of this test")


@pytest.fixture
def third_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Family:
    """The throwaway family: its remote-code folder (WavLink's files + two of its own) and its registry entry."""
    code = tmp_path / "code" / PACKAGE
    shutil.copytree(REMOTE_CODE_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "configuration_third.py").write_text(CONFIGURATION)
    (code / "modeling_third.py").write_text(MODELING)
    monkeypatch.syspath_prepend(str(code.parent))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        monkeypatch.delitem(sys.modules, name)
    __import__(f"{PACKAGE}.modeling_third")
    __import__(f"{PACKAGE}.processing_wavlink")
    here = __name__
    family = Family(
        name="third", model_type=MODEL_TYPE,
        config_ref=f"{PACKAGE}.configuration_third:ThirdConfig", model_ref=f"{PACKAGE}.modeling_third:ThirdModel",
        feature_extractor_ref=f"{PACKAGE}.processing_wavlink:WavLinkFeatureExtractor",
        processor_ref=f"{PACKAGE}.processing_wavlink:WavLinkProcessor",
        presets_ref=f"{here}:PRESETS", create_ref=f"{here}:create_third", build_ref=f"{here}:_unused",
        build_preset_ref=f"{here}:_unused",
        build_options=(BuildOption(name="third_audio", role="audio"), BuildOption(name="third_text", role="text")),
        hub_prefix="third-", pipeline_tag="zero-shot-audio-classification", card_template="wavlink.md.jinja",
        citations=("wavlink",), adapter_citations=("lora", "wavlink"),
        towers={"audio": "audio_model", "text": "text_model"},
        lora_targets=FAMILIES["wavlink"].lora_targets,
    )
    monkeypatch.setitem(FAMILIES, family.name, family)
    register_family(family)
    return family


def test_a_third_family_is_one_registry_entry_and_its_remote_code(third_family: Family, tmp_path: Path) -> None:
    from transformers import AutoModel

    folder = tmp_path / "third-tiny"
    assert main(["create", "--family", "third", "--preset", "tiny", "--out", str(folder)]) == 0
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPE
    assert config["auto_map"]["AutoModel"] == "modeling_third.ThirdModel"
    assert (folder / "modeling_third.py").is_file() and (folder / "configuration_third.py").is_file()

    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__name__ == "ThirdModel" and family_of(model.config) is third_family
    created, processor = third_family.create("tiny")
    inputs = processor(text=["a dog barks"], return_tensors="pt")
    assert all(torch.equal(v, created.state_dict()[k]) for k, v in model.state_dict().items())  # the same weights
    with torch.inference_mode():  # the same forward: a loaded model may take another attention kernel (~4e-8 off)
        torch.testing.assert_close(model.get_text_features(**inputs).pooler_output,
                                   created.eval().get_text_features(**inputs).pooler_output, rtol=0, atol=1e-6)

    dry = tmp_path / "dry"
    assert main(["push", "--model", str(folder), "--repo", "test-org/third-tiny", "--dry-run", str(dry),
                 "--trust-remote-code"]) == 0
    card = (dry / "test-org" / "third-tiny" / "README.md").read_text()
    assert 'pipeline_tag: "zero-shot-audio-classification"' in card
    assert (dry / "test-org" / "third-tiny" / "modeling_third.py").is_file()


def test_a_family_knows_its_options_and_presets_without_loading_torch() -> None:
    wavlink, omni = get_family("wavlink"), get_family("omni")
    assert (wavlink.option("audio").name, wavlink.option("text").name) == ("whisper", "text")
    assert (omni.option("audio").name, omni.option("text").name) == ("audio_encoder", "llm")
    assert wavlink.hub_name("base") == "wavlink-base" and omni.hub_name("m1") == "omni-audio-embedder-m1"
    assert wavlink.presets["base"].components == ("openai/whisper-base.en", "openai/clip-vit-base-patch32")
    assert omni.presets["m4"].components == ("Qwen/Qwen2.5-Omni-3B",)  # one checkpoint holds both towers
    assert wavlink.presets["tiny-random"].components == omni.presets["tiny-random"].components == ()
    assert family_of({"model_type": "omni_audio_embedder"}) is omni and family_of({"model_type": "bert"}) is None
    with pytest.raises(ValueError, match="unknown model family"):
        get_family("nope")
