"""Helpers of the evaluation tests: generated clips and tables, `wavlink eval` runs and result checks."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from wavlink import cli

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL_KEYS = {"R@1", "R@5", "R@10", "mAP@10", "cvR@5"}
CLASSES = ["dog_bark", "rain", "siren"]




def tone(i: int, seconds: float = 0.5, sr: int = 16000) -> np.ndarray:
    """A distinct, deterministic clip per index: a tone plus seeded noise."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(i)
    return (0.3 * np.sin(2 * np.pi * (220 + 170 * i) * t) + 0.02 * rng.standard_normal(t.shape)).astype(np.float32)


def write_clip(path: Path, i: int, sr: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(i, sr=sr), sr)
    return path


def write_csv(path: Path, header: list[str] | None, rows: list[list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


def run_eval(model_dir: Path, task: str, data: Path, out: Path, cache: Path, *extra: str) -> dict[str, Any]:
    rc = cli.main(["eval", "--model", str(model_dir), "--task", task, "--data", str(data), "--output", str(out),
                   "--cache-dir", str(cache), "--quiet", *extra])
    assert rc == 0
    return json.loads(out.read_text())


def check_retrieval(res: dict[str, Any], n_audio: int, n_captions: int) -> None:
    assert res["kind"] == "retrieval" and res["n_audio"] == n_audio and res["n_captions"] == n_captions
    assert set(res["text_to_audio"]) == RETRIEVAL_KEYS and set(res["audio_to_text"]) == RETRIEVAL_KEYS
    assert all(0.0 <= v <= 1.0 for d in ("text_to_audio", "audio_to_text") for v in res[d].values())
    assert res["dim"] == 32 and list(res["dims"]) == ["32"]


def check_classification(res: dict[str, Any], n_audio: int, n_classes: int) -> None:
    assert res["kind"] == "zero-shot" and res["n_audio"] == n_audio and res["n_classes"] == n_classes
    assert 0.0 <= res["top1"] <= res["top5"] <= 1.0
    assert set(res["dims"]["32"]) >= {"top1", "top5", "bytes_per_clip"}


def check_card_reader(path: Path, kind: str, dims: list[int]) -> None:
    """The model-card generator (wavlink.hub.cards) reads the JSON, per-dim results included."""
    from wavlink.hub.cards import load_eval_results

    res = json.loads(path.read_text())
    [card] = load_eval_results([path])
    assert card.kind == kind and sorted(card.per_dim, reverse=True) == dims
    if kind == "retrieval":
        assert card.metrics["text_to_audio"]["R@1"] == pytest.approx(100 * res["text_to_audio"]["R@1"], abs=0.01)
        assert all(card.per_dim[d]["audio_to_text"] for d in dims)
    else:
        assert card.metrics[""]["top1"] == pytest.approx(100 * res["top1"], abs=0.01)


def check_plot(res: dict[str, Any], png: Path) -> None:
    """--matryoshka draws a PNG next to the JSON (matplotlib is in the dev extra); without matplotlib the
    result says why there is none."""
    if importlib.util.find_spec("matplotlib"):
        assert res["plot"] == str(png) and png.stat().st_size > 1000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert res["plot"] is None and "matplotlib is not installed" in res["plot_note"]
        assert not png.exists()


def cli_eval_error(model_dir: Path, task: str, data: Path) -> None:
    from wavlink.evaluation import evaluate

    evaluate(str(model_dir), task, str(data), use_cache=False, progress=False, verbose=False)
