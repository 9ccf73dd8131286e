"""The OmniAudioEmbedder cards quote the Jina blog's figure for their size: the module combinations (M1-M4), the
full 7B and its 20 / 10 / 5-layer prunings, both routes where the blog gives them (contrastive fine-tuning and
text-only transfer); a model built with `wavlink build --family omni --num-layers N` is recognised as its size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from wavlink.builders.omni_presets import OMNI_PRESETS, TINY, omni_preset_config  # noqa: E402
from wavlink.hub.cards import CardInfo, render_model_card, validate_card  # noqa: E402
from wavlink.hub.presets import find_preset  # noqa: E402

ORG = "test-org"
BLOG = {  # preset -> (route row, ...) exactly as the blog prints them (T2A cvR@5, %)
    "m1": ["| audio-text contrastive fine-tuning | 49.7 | - | - |"],
    "omni-7b": ["| audio-text contrastive fine-tuning | 63.2 | 39.2 | - |",
                "| text-only modality transfer (NLI pairs, no audio) | 46.1 | - | - |"],
    "omni-7b-l20": ["| audio-text contrastive fine-tuning | 63.2 | 39.2 | - |"],
    "omni-7b-l10": ["| audio-text contrastive fine-tuning | 58.2 | 36.5 | - |",
                    "| text-only modality transfer (NLI pairs, no audio) | 5.9 | - | - |"],
    "omni-7b-l5": ["| audio-text contrastive fine-tuning | 56.0 | 36.0 | - |"],
}
REAL = [name for name, p in OMNI_PRESETS.items() if p.text != TINY]


def card(name: str) -> str:
    info = CardInfo(repo_id=f"{ORG}/omni-audio-embedder-{name}", family="omni", preset=name, weights="random")
    text = render_model_card(omni_preset_config(name), info, [])
    validate_card(text)
    return text


@pytest.mark.parametrize("name", sorted(BLOG))
def test_card_quotes_the_blog_figures_of_its_size(name: str) -> None:
    text = card(name)
    assert "## Reference: numbers reported by the recipe's authors" in text
    for row in BLOG[name]:
        assert row in text, (name, row)
    assert "MS-CLAP 2023" in text and "AudioCaps 42.0" in text
    assert "**not** results of the weights in this repo" in text
    rows = [line for line in text.splitlines() if line.startswith("| audio-text") or line.startswith("| text-only")]
    assert len(rows) == len(BLOG[name]), rows  # no figure the blog does not give


def test_module_combinations_without_numbers_say_what_the_blog_says() -> None:
    assert "+4.2 AudioCaps cvR@5 over M2" in card("m3")
    assert "4.2 points above M2" in card("m2")
    assert "within noise of M3" in card("m4")
    for name in ("m2", "m3", "m4"):
        assert "| route |" not in card(name)
    assert "collapses after pruning" in card("omni-7b-l10")


def test_every_real_preset_is_recognised_from_its_config() -> None:
    for name in REAL:
        entry = find_preset("omni", repo_name="my-own-name", config=omni_preset_config(name))
        assert entry is not None and entry.name == name, name
    # a depth the blog did not run, or other checkpoints: no preset (and no borrowed figure)
    twelve = omni_preset_config("omni-7b")
    twelve.text_config.num_hidden_layers = 12
    assert find_preset("omni", repo_name="x", config=twelve) is None
    assert find_preset("omni", repo_name="x", config=omni_preset_config("tiny-random")) is None
    assert card("tiny-random").count("Reference: numbers reported") == 0


def test_a_pruned_build_gets_the_figure_of_its_size(tmp_path: Path) -> None:
    """`wavlink build --family omni --audio-encoder X/Qwen2.5-Omni-7B --llm X/Qwen2.5-Omni-7B --num-layers 10` on a
    tiny checkpoint saved under the 7B's name: the staged card is the 10-layer one, with the blog's 58.2 / 36.5
    and the 5.9 of text-only transfer."""
    import torch
    from transformers import Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

    from wavlink.builders.tokenization import byte_level_tokenizer
    from wavlink.cli import main
    from wavlink.hub.folders import inspect_folder
    from wavlink.hub.publish import PublishOptions, stage_model_folder

    torch.manual_seed(0)
    rope = {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 2, 2]}
    thinker = Qwen2_5OmniThinkerForConditionalGeneration(Qwen2_5OmniThinkerConfig(
        audio_config=dict(d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                          num_mel_bins=128, output_dim=24, n_window=100),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=24,
                           fullatt_block_indexes=[0]),
        text_config=dict(hidden_size=24, intermediate_size=48, num_hidden_layers=28, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=300, rope_parameters=rope),
        audio_token_index=290, image_token_index=291, video_token_index=292, audio_start_token_id=293,
        audio_end_token_id=294, vision_start_token_id=295, vision_end_token_id=296, vision_token_id=297)).eval()
    source = tmp_path / "checkpoints" / "Qwen2.5-Omni-7B"
    thinker.save_pretrained(source)
    byte_level_tokenizer().save_pretrained(source)
    assert main(["build", "--family", "omni", "--audio-encoder", str(source), "--llm", str(source),
                 "--num-layers", "10", "--out", str(tmp_path / "built")]) == 0
    staged = stage_model_folder(inspect_folder(tmp_path / "built"), f"{ORG}/my-pruned-model", tmp_path / "staged",
                                PublishOptions(verify=False))
    text = (staged.folder / "README.md").read_text()
    assert "Path 2, layer pruning: Qwen2.5-Omni-7B cut to its first 10 decoder layers" in text
    for row in BLOG["omni-7b-l10"]:
        assert row in text
    assert "10 layers" in text
