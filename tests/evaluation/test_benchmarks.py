"""The named benchmarks (`evaluation.benchmarks`): each one's published layout, its missing-clip policy and its
hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import CLASSES, REPO, check_classification, check_retrieval, run_eval, write_clip, write_csv

from wavlink import cli
from wavlink.evaluation import benchmarks
from wavlink.evaluation.sets import ClassificationSet


def test_audiocaps_layout_and_missing_clips(model_dir: Path, tmp_path: Path, cache: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "audiocaps"
    rows, n = [], 0
    for i, (ytid, start) in enumerate([("abcDEF12345", "30"), ("x-y_z000001", "0"), ("gone0000000", "10")]):
        for k in range(2):
            n += 1
            rows.append([100 + n, ytid, start, f"caption {k} of clip {i}"])
        if ytid == "x-y_z000001":
            write_clip(root / "audio" / "test" / f"Y{ytid}.wav", i)  # AudioSet-style name
        elif ytid != "gone0000000":
            write_clip(root / "audio" / "test" / f"{ytid}_{start}.wav", i)
    write_csv(root / "test.csv", ["audiocap_id", "youtube_id", "start_time", "caption"], rows)
    rc = cli.main(["eval", "--model", str(model_dir), "--task", "audiocaps", "--data", str(root),
                   "--cache-dir", str(cache), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "1 of 3 clip(s)" in err and "gone0000000_10" in err and "--skip-missing" in err
    res = run_eval(model_dir, "audiocaps", root, tmp_path / "ac.json", cache, "--skip-missing")
    check_retrieval(res, 2, 4)
    assert res["n_missing"] == 1 and res["dataset"] == "audiocaps" and res["split"] == "test"


def test_clotho_layout(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "clotho"
    rows = []
    for i in range(3):
        write_clip(root / "evaluation" / f"clip {i}.wav", i)  # Clotho file names contain spaces
        rows.append([f"clip {i}.wav"] + [f"caption {k}, clip {i}" for k in range(1, 6)])
    write_csv(root / "clotho_captions_evaluation.csv", ["file_name"] + [f"caption_{k}" for k in range(1, 6)], rows)
    res = run_eval(model_dir, "clotho", root, tmp_path / "cl.json", cache)
    check_retrieval(res, 3, 15)
    assert res["dataset"] == "clotho" and res["split"] == "evaluation"


def test_esc50_official_layout(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "ESC-50-master"
    rows = []
    for i in range(6):
        name = f"{1 + i % 2}-1000{i}-A-{i % 3}.wav"
        write_clip(root / "audio" / name, i)
        rows.append([name, 1 + i % 2, i % 3, CLASSES[i % 3], "False", 1000 + i, "A"])
    write_csv(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"],
              rows)
    res = run_eval(model_dir, "esc50", root, tmp_path / "e.json", cache, "--per-fold")
    check_classification(res, 6, 3)
    assert res["folds"] == [1, 2] and res["class_names"] == CLASSES


def test_esc50_project_manifest_layout(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "esc50"
    rows = []
    for i in range(6):
        write_clip(root / "audio" / f"{i}.flac", i)
        rows.append([f"audio/{i}.flac", CLASSES[i % 3], "natural soundscapes", 1 + i % 3, "False", 7 + i, "A"])
    write_csv(root / "manifest.csv", ["audio", "label", "group", "fold", "esc10", "freesound_id", "take"], rows)
    res = run_eval(model_dir, "esc-50", root, tmp_path / "e.json", cache, "--fold", "3")
    check_classification(res, 2, 3)


def test_real_esc50_subset_loads() -> None:
    """The project's real ESC-50 subset (/work/shared/data/esc50) parses: 40 classes, 5 folds, 1600 clips."""
    root = REPO.parent / "shared" / "data" / "esc50"
    if not (root / "manifest.csv").is_file():
        pytest.skip("the shared ESC-50 subset is not present on this machine")
    data = benchmarks.load_task_data("esc50", root)
    assert isinstance(data, ClassificationSet)
    assert len(data.class_names) == 40 and data.fold_numbers == [1, 2, 3, 4, 5] and len(data.audio) == 1600


def test_us8k_layout(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "UrbanSound8K"
    names = list(benchmarks.US8K_CLASSES)
    rows = []
    for i in range(4):
        fold, cid = 1 + i % 2, [3, 8][i % 2]
        name = f"{100 + i}-{cid}-0-{i}.wav"
        write_clip(root / "audio" / f"fold{fold}" / name, i)
        rows.append([name, 100 + i, 0.0, 0.5, 1, fold, cid, names[cid]])
    write_csv(root / "metadata" / "UrbanSound8K.csv",
              ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)
    res = run_eval(model_dir, "us8k", root, tmp_path / "u.json", cache)
    check_classification(res, 4, 2)  # the classes the metadata lists
    assert res["class_names"] == ["dog_bark", "siren"] and res["folds"] == [1, 2]
    full = run_eval(model_dir, "urbansound8k", root, tmp_path / "u10.json", cache, "--classes", ",".join(names))
    assert full["n_classes"] == 10


def test_vggsound_layout(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "vggsound"
    rows = []
    for i, label in enumerate(["dog barking", "people marching, crowd", "rain on surface", "dog barking"]):
        ytid, start = f"vid{i:08d}", 10 * i
        rows.append([ytid, start, label, "test"])
        write_clip(root / "audio" / "test" / (f"{ytid}_{start:06d}.wav" if i % 2 else f"{ytid}_{start}.wav"), i)
    rows.append(["trainonly00", 0, "train only class", "train"])
    write_csv(root / "vggsound.csv", None, rows)
    res = run_eval(model_dir, "vggsound", root, tmp_path / "v.json", cache)
    check_classification(res, 4, 4)  # classes come from the whole csv (train rows included)
    assert "people marching, crowd" in res["class_names"] and res["dataset"] == "vggsound"
