"""The Jina-blog recipes of scripts/configs/ (omni-m1-blog, omni-m3-blog, omni-7b-text-pairs) run as written for
two steps: their data paths are what `wavlink prepare` writes from the public datasets' layouts (tiny copies),
their evaluation reports T2A R@5 (= cvR@5) on AudioCaps, Clotho and AudioSetStrong, and only the model (a tiny
preset of the same family) and the sizes are overridden."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
from public_fixtures import BUILDERS

from wavlink.cli import main
from wavlink.data.public import prepare
from wavlink.training import load_config, train

CONFIGS = Path(__file__).resolve().parents[2] / "scripts" / "configs"
# dataset -> (output folder the configs name, prepare options the config comments give)
PREPARED = {"audioset-strong": ("audioset_strong", {}), "fsd50k": ("fsd50k", {}), "clotho": ("clotho", {}),
            "urbansound8k": ("urbansound8k", {}), "macs": ("macs", {"max_captions_per_clip": 1}),
            "audiocaps": ("audiocaps", {})}
EVAL_LABELS = ("audiocaps", "clotho", "audioset_strong")
SMALL = dict(model=None, max_steps=2, batch_size=2, mixed_precision="no", num_workers=0, progress=False,
             trackers=[], save_every=None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """data/<set>/ as the configs expect it, written by `wavlink prepare` from the sets' published layouts."""
    root = tmp_path_factory.mktemp("blog")
    for name, (folder, options) in PREPARED.items():
        src = BUILDERS[name](root / "raw")
        prepare(name, src, root / "data" / folder, **options)
    for name, folder in (("auto-acd", "auto_acd"), ("audiosetcaps", "audiosetcaps")):  # WavLink's stage 1
        prepare(name, BUILDERS[name](root / "raw"), root / "data" / folder, format="jsonl")
    nli = root / "data" / "nli"
    rows = [("A dog barks at night.", "A dog makes noise."), ("Rain hits the window.", "It is raining."),
            ("A man plays a violin.", "Music is played."), ("Kids shout in a park.", "Children are outside.")]
    for name in ("multinli_1.0_train.jsonl", "snli_1.0_train.jsonl"):
        (nli / name).parent.mkdir(parents=True, exist_ok=True)
        (nli / name).write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "gold_label": "entailment"})
                                        + "\n" for a, b in rows))
    for name in ("fever_pairs.jsonl", "scifact_pairs.jsonl"):
        (nli / name).write_text("".join(json.dumps({"query": a, "positive": b}) + "\n" for a, b in rows))
    return root


def _metrics_by_set(metrics: dict) -> dict[str, float]:
    return {label: metrics[f"{label}/t2a_R@5"] for label in EVAL_LABELS}


@pytest.mark.parametrize(("config", "preset"), [("omni-m1-blog.yaml", "tiny-random-qwen3"),
                                                ("omni-m3-blog.yaml", "tiny-random")])
def test_blog_recipe_dry_run(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str,
                             preset: str) -> None:
    monkeypatch.chdir(workdir)
    written = load_config(CONFIGS / config, overrides={"preset": None, "model": "x"})  # the file as written
    assert written.family == "omni" and written.objective == "audio_text" and written.loss == "clip"
    assert written.batch_size == 128 and written.max_steps == 2000 and written.eval_every == 0
    assert written.mixed_precision == "bf16" and written.max_train_seconds == 30.0
    for path in written.train_data + written.eval_data:  # every data path is one `wavlink prepare` wrote
        assert Path(path).is_file(), path
    assert len(written.train_data) == 6 and len(written.eval_data) == 3

    cfg = load_config(CONFIGS / config, overrides={**SMALL, "preset": preset, "output_dir": str(tmp_path / "run")})
    assert cfg.gradient_checkpointing and cfg.grad_cache_chunk_size  # exercised as configured
    result = train(cfg)
    assert result.step == 2
    scores = _metrics_by_set(result.final_metrics)
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert (result.final_model_dir / "config.json").is_file()
    text = (CONFIGS / config).read_text()
    assert "cvR@5" in text and "42.0" in text
    assert ("49.7" in text) if "m1" in config else ("4.2" in text)


def test_text_pairs_recipe_dry_run(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    config = CONFIGS / "omni-7b-text-pairs.yaml"
    cfg = load_config(config, overrides={**SMALL, "preset": "tiny-random", "output_dir": str(tmp_path / "run")})
    assert cfg.objective == "text_pairs" and cfg.scope == "text" and cfg.eval_at_start
    result = train(cfg)
    assert result.step == 2
    assert set(_metrics_by_set(result.initial_metrics)) == set(_metrics_by_set(result.final_metrics))
    text = config.read_text()
    assert "46.1" in text and "5.9" in text and "does not survive pruning" in text


@pytest.mark.parametrize("size", ["base", "small", "large"])
def test_wavlink_stage_configs_read_what_prepare_writes(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                        size: str) -> None:
    """Stage 1 (Auto-ACD + AudioSetCaps) and stage 2 (AudioCaps + Clotho) of the WavLink paper's recipe name the
    files `wavlink prepare` writes."""
    monkeypatch.chdir(workdir)
    for stage in (1, 2):
        cfg = load_config(CONFIGS / f"wavlink-{size}-stage{stage}.yaml", stage=stage)
        for path in cfg.train_data + cfg.eval_data:
            assert Path(path).is_file(), (stage, path)


def test_train_command_reads_the_blog_configs(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(workdir)
    for name in ("omni-m1-blog.yaml", "omni-m3-blog.yaml", "omni-7b-text-pairs.yaml"):
        assert main(["train", "--config", str(CONFIGS / name), "--dry-run"]) == 0
        resolved = json.loads(capsys.readouterr().out)
        assert resolved["family"] == "omni" and resolved["model"].startswith("models/omni-")
