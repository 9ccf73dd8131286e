"""`wavlink eval` when captions repeat across clips (captions made from class names): the pessimistic tie rule
counts a clip's own caption, tied with the identical caption of another clip, as a miss; eval says so and reports
the grouped figures beside (identical captions grouped: a caption is relevant to every clip it describes). Also:
--dtype is part of the embedding-cache key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_tone

from wavlink.cli import main
from wavlink.inference import Embedder
from wavlink.metrics import grouped_retrieval_metrics, retrieval_metrics, shared_captions

# 3 clips; clips 0 and 1 share the caption "airplane" (identical rows, as identical texts embed identically)
SIM = np.array([[0.9, 0.8, 0.1],
                [0.9, 0.8, 0.1],
                [0.2, 0.3, 0.7]])
CAPTIONS = ["airplane", "airplane", "dog"]
TARGETS = [0, 1, 2]


def test_pessimistic_and_grouped_figures_by_hand() -> None:
    plain = retrieval_metrics(SIM, TARGETS, ks=(1, 5))
    # T2A ranks 1, 2 (0.9 beats 0.8), 1; A2T: clips 0 and 1 tie their own caption with the other's -> rank 2
    assert plain["text_to_audio"]["R@1"] == pytest.approx(2 / 3)
    assert plain["audio_to_text"]["R@1"] == pytest.approx(1 / 3)
    grouped = grouped_retrieval_metrics(SIM, TARGETS, CAPTIONS, ks=(1, 5))
    # T2A: "airplane" finds clip 0 or 1 first, "dog" clip 2; A2T: each clip's group is its best-scoring caption
    assert grouped["text_to_audio"]["R@1"] == 1.0 and grouped["audio_to_text"]["R@1"] == 1.0
    assert grouped["text_to_audio"]["mAP@10"] == 1.0  # "airplane": relevant clips at ranks 1 and 2
    # a clip whose caption loses to another group's is still a miss
    worse = SIM.copy()
    worse[2] = [0.2, 0.95, 0.7]
    assert grouped_retrieval_metrics(worse, TARGETS, CAPTIONS, ks=(1,))["audio_to_text"]["R@1"] == pytest.approx(2 / 3)
    assert shared_captions(CAPTIONS, TARGETS) == {"airplane": [0, 1]}
    assert shared_captions(["a", "a", "b"], [0, 0, 1]) == {}  # two captions of one clip: no tie across clips


def test_without_repeats_grouped_equals_plain() -> None:
    rng = np.random.default_rng(0)
    sim = rng.standard_normal((6, 3))
    targets = [0, 0, 1, 1, 2, 2]
    captions = [f"caption {i}" for i in range(6)]
    plain, grouped = retrieval_metrics(sim, targets), grouped_retrieval_metrics(sim, targets, captions)
    for direction in plain:
        for key in ("R@1", "R@5", "mAP@10"):
            assert grouped[direction][key] == pytest.approx(plain[direction][key])


def _write_set(folder: Path, captions: list[str]) -> Path:
    (folder / "clips").mkdir(parents=True)
    lines = ["audio,caption"]
    for i, caption in enumerate(captions):
        sf.write(folder / "clips" / f"c{i}.wav", make_tone(1.0 + i / 10, SR, (200.0 * (i + 1),)), SR)
        lines.append(f"clips/c{i}.wav,{caption}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder / "manifest.csv"


def test_eval_says_captions_repeat_and_reports_the_grouped_figures(model_dir: Path, tmp_path: Path,
                                                                   capsys) -> None:
    captions = ["the sound of airplane", "the sound of airplane", "the sound of dog", "the sound of dog",
                "the sound of rain"]
    manifest = _write_set(tmp_path / "data", captions)
    assert main(["eval", "--task", "retrieval", "--data", str(manifest), "--model", str(model_dir), "--output",
                 str(tmp_path / "r.json"), "--no-cache", "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    result = json.loads((tmp_path / "r.json").read_text())
    info = result["repeated_captions"]
    assert info["n_texts"] == 2 and info["n_captions"] == 4
    emb = Embedder.load(model_dir)
    audio = emb.encode_audio([str(tmp_path / "data" / "clips" / f"c{i}.wav") for i in range(5)])
    text = emb.encode_text(captions)
    sim = (text / np.linalg.norm(text, axis=1, keepdims=True)) @ (
        audio / np.linalg.norm(audio, axis=1, keepdims=True)).T
    want = grouped_retrieval_metrics(sim, list(range(5)), captions)
    for direction in ("text_to_audio", "audio_to_text"):
        assert info["grouped"][direction]["R@1"] == pytest.approx(want[direction]["R@1"], abs=1e-6)
    assert "note: 4 captions repeat across clips (2 text(s) shared by several clips" in out
    t2a, a2t = want["text_to_audio"], want["audio_to_text"]
    assert (f"identical captions grouped (dim {result['dim']}, float32; a caption is relevant to every clip it "
            f"describes): T2A R@1 {100 * t2a['R@1']:.1f} R@5 {100 * t2a['R@5']:.1f}") in out
    assert f"A2T R@1 {100 * a2t['R@1']:.1f}" in out


def test_no_note_when_captions_are_distinct(model_dir: Path, tmp_path: Path, capsys) -> None:
    manifest = _write_set(tmp_path / "data", ["a low hum", "a high whistle", "rain"])
    assert main(["eval", "--task", "retrieval", "--data", str(manifest), "--model", str(model_dir), "--output",
                 str(tmp_path / "r.json"), "--no-cache", "--quiet"]) == 0
    assert "repeat across clips" not in capsys.readouterr().out
    assert "repeated_captions" not in json.loads((tmp_path / "r.json").read_text())


def test_eval_dtype_is_part_of_the_cache_key(model_dir: Path, tmp_path: Path) -> None:
    import csv

    rows = []
    for i in range(3):
        sf.write(tmp_path / f"{i}.wav", make_tone(0.5, SR, (300.0 + 500 * i,)), SR)
        rows.append([f"{i}.wav", f"tone number {i}"])
    with open(tmp_path / "captions.csv", "w", newline="") as f:
        csv.writer(f).writerows([["audio", "caption"], *rows])
    results = {}
    for dtype in (None, "bfloat16", None):
        out = tmp_path / f"{dtype}.json"
        extra = ["--dtype", dtype] if dtype else []
        assert main(["eval", "--model", str(model_dir), "--task", "retrieval", "--data", str(tmp_path / "captions.csv"),
                     "--output", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet", *extra]) == 0
        results.setdefault(dtype, []).append(json.loads(out.read_text()))
    plain, bf16 = results[None][0], results["bfloat16"][0]
    assert bf16["model_dtype"] == "bfloat16" and "model_dtype" not in plain
    assert bf16["model_fingerprint"] != plain["model_fingerprint"]
    assert results[None][1]["model_fingerprint"] == plain["model_fingerprint"]  # plain runs keep their key
