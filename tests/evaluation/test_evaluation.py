"""`wavlink eval` end to end on a tiny random model and generated audio, in every supported layout; the
embedding cache, Matryoshka / quantisation sweeps, bad input, the MTEB wrapper and the bench report."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from wavlink import cli
from wavlink.data import normalize_split
from wavlink.evaluation import benchmarks
from wavlink.evaluation.quantization import bytes_per_clip, quantize, truncate
from wavlink.evaluation.runner import evaluate
from wavlink.evaluation.sets import ClassificationSet, RetrievalSet
from wavlink.inference import Embedder

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL_KEYS = {"R@1", "R@5", "R@10", "mAP@10", "cvR@5"}
CLASSES = ["dog_bark", "rain", "siren"]


# ------------------------------------------------------------------------------------------------ fixtures
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


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random")
    return save_model_folder(model, processor, tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def count_encodes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts Embedder.encode_audio / encode_text calls (cache hits must not call them)."""
    calls = {"audio": 0, "text": 0}
    audio, text = Embedder.encode_audio, Embedder.encode_text

    def enc_audio(self, *a, **k):
        calls["audio"] += 1
        return audio(self, *a, **k)

    def enc_text(self, *a, **k):
        calls["text"] += 1
        return text(self, *a, **k)

    monkeypatch.setattr(Embedder, "encode_audio", enc_audio)
    monkeypatch.setattr(Embedder, "encode_text", enc_text)
    return calls


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


# ------------------------------------------------------------------------------------------------ layouts
def test_generic_retrieval_manifest_and_cache(model_dir: Path, tmp_path: Path, cache: Path,
                                              count_encodes: dict[str, int]) -> None:
    data = tmp_path / "data"
    rows = []
    for i in range(4):
        write_clip(data / "clips" / f"c{i}.wav", i, sr=22050 if i == 0 else 16000)  # one clip needs resampling
        rows += [[f"clips/c{i}.wav", f"a tone number {i}"], [f"clips/c{i}.wav", f"sound {i} of a test"]]
    manifest = write_csv(data / "manifest.csv", ["audio", "caption"], rows)
    res = run_eval(model_dir, "retrieval", manifest, tmp_path / "r.json", cache)
    check_retrieval(res, 4, 8)
    assert res["cache"] == {"audio": "miss", "text": "miss"} and count_encodes == {"audio": 1, "text": 1}
    assert res["model"] == str(model_dir) and len(res["model_fingerprint"]) == 64

    again = run_eval(model_dir, "retrieval", data, tmp_path / "r2.json", cache)  # folder form, same data
    assert again["cache"] == {"audio": "hit", "text": "hit"}
    assert count_encodes == {"audio": 1, "text": 1}, "a cache hit must not embed again"
    assert again["text_to_audio"] == res["text_to_audio"] and again["audio_to_text"] == res["audio_to_text"]

    rows[0][1] = "a changed caption"
    write_csv(data / "manifest.csv", ["audio", "caption"], rows)
    changed = run_eval(model_dir, "retrieval", manifest, tmp_path / "r3.json", cache)
    assert changed["cache"] == {"audio": "hit", "text": "miss"} and count_encodes == {"audio": 1, "text": 2}

    run_eval(model_dir, "retrieval", manifest, tmp_path / "r4.json", cache, "--no-cache")
    assert count_encodes == {"audio": 2, "text": 3}


def test_generic_zero_shot_manifest_jsonl_folds(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "zs"
    lines = []
    for i in range(6):
        write_clip(data / f"{i}.flac", i)
        lines.append(json.dumps({"audio": f"{i}.flac", "label": CLASSES[i % 3], "fold": 1 + i % 2}))
    (data / "labels.jsonl").write_text("\n".join(lines) + "\n")
    res = run_eval(model_dir, "zero-shot", data / "labels.jsonl", tmp_path / "z.json", cache, "--per-fold")
    check_classification(res, 6, 3)
    assert res["class_names"] == CLASSES and res["folds"] == [1, 2]
    assert set(res["per_fold"]) == {"1", "2"} and all(v["n"] == 3 for v in res["per_fold"].values())
    assert res["per_fold_mean"]["top1"] == pytest.approx(res["top1"])  # equal-sized folds
    one = run_eval(model_dir, "zero-shot", data / "labels.jsonl", tmp_path / "z1.json", cache, "--fold", "2",
                   "--templates", "the sound of {}.", "{} can be heard")
    assert one["n_audio"] == 3 and one["n_classes"] == 3 and one["templates"] == ["the sound of {}.", "{} can be heard"]
    same = run_eval(model_dir, "zero-shot", data / "labels.jsonl", tmp_path / "z2.json", cache, "--fold", "2")
    assert same["top1"] == pytest.approx(res["per_fold"]["2"]["top1"])  # a fold alone = its per-fold score


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


def test_datasets_layouts(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    datasets = pytest.importorskip("datasets")
    paths = [str(write_clip(tmp_path / "hf" / f"{i}.wav", i)) for i in range(4)]
    ds = datasets.Dataset.from_dict(
        {"audio": paths, "label": [0, 1, 2, 0], "fold": [1, 1, 2, 2]},
        features=datasets.Features({"audio": datasets.Value("string"), "label": datasets.ClassLabel(names=CLASSES),
                                    "fold": datasets.Value("int64")}),
    ).cast_column("audio", datasets.Audio())
    ds.save_to_disk(str(tmp_path / "saved"))  # embeds the audio bytes
    res = run_eval(model_dir, "zero-shot", tmp_path / "saved", tmp_path / "d.json", cache, "--per-fold")
    check_classification(res, 4, 3)
    assert res["class_names"] == CLASSES

    captions = datasets.DatasetDict({"test": datasets.Dataset.from_dict(
        {"audio": [{"array": tone(i), "sampling_rate": 16000} for i in range(3)],
         "caption": [[f"tone {i}", f"clip {i}"] for i in range(3)]})})
    res = evaluate(str(model_dir), "retrieval", captions, tmp_path / "dr.json", cache_dir=cache, progress=False,
                   verbose=False)
    check_retrieval(res, 3, 6)


def test_retrieval_manifest_variants(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    """Wide caption_1..N csv, tsv, JSON list and JSONL with a caption list give the same clips and captions."""
    data = tmp_path / "variants"
    for i in range(3):
        write_clip(data / f"{i}.wav", i)
    caps = {i: [f"tone {i} first", f"tone {i} second"] for i in range(3)}
    long_rows = [{"audio": f"{i}.wav", "caption": c} for i in range(3) for c in caps[i]]
    write_csv(data / "wide.csv", ["file_name", "caption_1", "caption_2"], [[f"{i}.wav", *caps[i]] for i in range(3)])
    with open(data / "long.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["audio", "caption"])
        w.writerows([[r["audio"], r["caption"]] for r in long_rows])
    (data / "long.json").write_text(json.dumps(long_rows))
    (data / "lists.jsonl").write_text("".join(json.dumps({"audio": f"{i}.wav", "caption": caps[i]}) + "\n"
                                              for i in range(3)))
    results = []
    for name in ("wide.csv", "long.tsv", "long.json", "lists.jsonl"):
        loaded = benchmarks.load_task_data("retrieval", data / name)
        assert isinstance(loaded, RetrievalSet) and loaded.audio_ids == ["0.wav", "1.wav", "2.wav"]
        assert loaded.captions == [c for i in range(3) for c in caps[i]] and loaded.caption_to_audio == [0, 0, 1, 1, 2, 2]
        res = run_eval(model_dir, "retrieval", data / name, tmp_path / f"{name}.json", cache)
        check_retrieval(res, 3, 6)
        results.append((res["text_to_audio"], res["audio_to_text"]))
    assert all(r == results[0] for r in results), "the same clips and captions must score the same"


def test_training_manifest_split_column(model_dir: Path, tmp_path: Path, cache: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A training manifest's split column: test rows by default, --split picks (aliases as in training),
    training rows only when asked for, and the rows are those the training loader reads for that split."""
    from wavlink.data.records import read_manifest

    data = tmp_path / "train_manifest"
    for i in range(6):
        write_clip(data / f"{i}.wav", i)
    split_of = {0: "train", 1: "", 2: "val", 3: "validation", 4: "test", 5: "test"}  # "" = train, val = validation
    rows = [[f"{i}.wav", f"caption {k} of {i}", split_of[i]] for i in range(6) for k in range(2)]
    manifest = write_csv(data / "train.csv", ["audio", "caption", "split"], rows)
    for split, clips in [(None, [4, 5]), ("test", [4, 5]), ("val", [2, 3]), ("validation", [2, 3]), ("train", [0, 1])]:
        loaded = benchmarks.load_task_data("retrieval", manifest, split=split)
        expected_split = normalize_split(split, "") if split else "test"
        assert loaded.audio_ids == [f"{i}.wav" for i in clips] and loaded.split == expected_split
        assert loaded.captions == [f"caption {k} of {i}" for i in clips for k in range(2)]
        train_clips, pairs = read_manifest(manifest, split=loaded.split)  # the training loader agrees
        assert [c.path for c in train_clips] == loaded.audio and [p.caption for p in pairs] == loaded.captions
    res = run_eval(model_dir, "retrieval", manifest, tmp_path / "split.json", cache)
    check_retrieval(res, 2, 4)
    assert res["split"] == "test"
    res = run_eval(model_dir, "retrieval", manifest, tmp_path / "split_val.json", cache, "--split", "dev")
    check_retrieval(res, 2, 4)
    assert res["split"] == "validation"

    no_test = write_csv(data / "no_test.csv", ["audio", "caption", "split"], [r for r in rows if r[2] != "test"])
    assert benchmarks.load_task_data("retrieval", no_test).split == "validation"
    only_train = write_csv(data / "only_train.csv", ["audio", "caption", "split"], rows[:4])

    def fails(path: Path, *extra: str, task: str = "retrieval") -> str:
        assert cli.main(["eval", "--model", str(model_dir), "--task", task, "--data", str(path), "--cache-dir",
                         str(cache), "--quiet", *extra]) == 2
        return capsys.readouterr().err

    assert "--split train" in fails(only_train)
    assert "no rows in split 'test'; splits present: ['train', 'validation']" in fails(no_test, "--split", "test")
    bad = write_csv(data / "bad.csv", ["audio", "caption", "split"], [["0.wav", "x", "test"], ["1.wav", "y", "holdout"]])
    assert "bad.csv line 3: split 'holdout' is not one of train, validation, test" in fails(bad)
    plain = write_csv(data / "plain.csv", ["audio", "caption"], [["0.wav", "x"]])
    assert "--split 'test' given but the manifest has no split column" in fails(plain, "--split", "test")

    labels = write_csv(data / "labels.csv", ["audio", "label", "split"],
                       [[f"{i}.wav", CLASSES[i % 3], "test" if i >= 4 else "train"] for i in range(6)])
    res = run_eval(model_dir, "zero-shot", labels, tmp_path / "zsplit.json", cache)
    assert res["n_audio"] == 2 and res["split"] == "test"
    assert res["class_names"] == CLASSES  # every split's labels: the test clips score against all 3 classes


def test_audiofolder_split_subfolders(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    """The training audiofolder layout: train/ validation/ test/ sub-folders, each with metadata.csv."""
    root = tmp_path / "my_sounds"
    for split, ids in [("train", [0, 1, 2]), ("test", [3, 4])]:
        for i in ids:
            write_clip(root / split / f"{i}.wav", i)
        write_csv(root / split / "metadata.csv", ["file_name", "caption"], [[f"{i}.wav", f"clip {i}"] for i in ids])
    res = run_eval(model_dir, "retrieval", root, tmp_path / "af.json", cache)
    check_retrieval(res, 2, 2)
    assert res["split"] == "test" and res["dataset"] == "my_sounds"
    train = benchmarks.load_task_data("retrieval", root, split="train")
    assert train.audio_ids == ["0.wav", "1.wav", "2.wav"] and train.split == "train"
    with pytest.raises(ValueError, match=r"no validation/ sub-folder .* splits present: \['test', 'train'\]"):
        benchmarks.load_task_data("retrieval", root, split="val")


def test_datasets_retrieval_folder_via_cli(model_dir: Path, tmp_path: Path, cache: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    datasets = pytest.importorskip("datasets")
    paths = [str(write_clip(tmp_path / "hfr" / f"{i}.wav", i)) for i in range(4)]

    def split(idx: list[int]) -> Any:
        return datasets.Dataset.from_dict(
            {"audio": [paths[i] for i in idx], "text": [[f"tone {i}", f"clip {i}"] for i in idx]}
        ).cast_column("audio", datasets.Audio())

    datasets.DatasetDict({"train": split([0]), "validation": split([1, 2, 3])}).save_to_disk(str(tmp_path / "saved"))
    rc = cli.main(["eval", "--model", str(model_dir), "--task", "retrieval", "--data", str(tmp_path / "saved"),
                   "--cache-dir", str(cache), "--quiet"])
    assert rc == 2 and "choose a split with --split; available: ['train', 'validation']" in capsys.readouterr().err
    res = run_eval(model_dir, "retrieval", tmp_path / "saved", tmp_path / "hr.json", cache, "--split", "validation")
    check_retrieval(res, 3, 6)
    assert res["split"] == "validation" and res["dataset"] == "saved"


def test_printed_table_and_progress_bar(model_dir: Path, tmp_path: Path, cache: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Without --quiet: a progress bar (stderr) while embedding, and a paper-style table of every width whose
    numbers are the JSON's, in percent."""
    data = tmp_path / "t"
    for i in range(3):
        write_clip(data / f"{i}.wav", i)
    write_csv(data / "manifest.csv", ["audio", "caption"], [[f"{i}.wav", f"caption {i}"] for i in range(3)])
    out = tmp_path / "t.json"
    assert cli.main(["eval", "--model", str(model_dir), "--task", "retrieval", "--data", str(data), "--output",
                     str(out), "--cache-dir", str(cache), "--matryoshka"]) == 0
    printed = capsys.readouterr()
    assert "embedding audio" in printed.err and "3/3" in printed.err
    res = json.loads(out.read_text())
    lines = printed.out.splitlines()
    assert lines[0] == "t: 3 clips, 3 captions"
    assert lines[1].split() == ["dim", "precision", "bytes/clip", "T2A", "R@1", "R@5", "R@10", "mAP@10", "A2T",
                                "R@1", "R@5", "R@10", "mAP@10"]
    rows = [line.split() for line in lines[3:7]]
    assert [r[:3] for r in rows] == [["32", "float32", "128"], ["16", "float32", "64"], ["8", "float32", "32"],
                                     ["4", "float32", "16"]]
    for row in rows:
        cell = res["dims"][row[0]]
        expected = [cell[d][k] for d in ("text_to_audio", "audio_to_text") for k in ("R@1", "R@5", "R@10", "mAP@10")]
        assert row[3:] == [f"{100 * v:.1f}" for v in expected]
    assert lines[-1] == f"wrote {out}" + (f" and {res['plot']}" if res["plot"] else "")


# ------------------------------------------------------------------------------------------------ sweeps
def test_matryoshka_and_quantized_sweep(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "m"
    rows = []
    for i in range(5):
        write_clip(data / f"{i}.wav", i)
        rows.append([f"{i}.wav", f"caption {i}"])
    manifest = write_csv(data / "manifest.csv", ["audio", "caption"], rows)
    out = tmp_path / "m.json"
    res = run_eval(model_dir, "retrieval", manifest, out, cache, "--matryoshka", "--quantize")
    assert list(res["dims"]) == ["32", "16", "8", "4"] and res["trained_dims"] == [32, 16, 8, 4]
    for d, entry in res["dims"].items():  # float32 at the width level (the card generator reads it), quantised nested
        assert set(entry) >= {"bytes_per_clip", "text_to_audio", "audio_to_text", "int8", "binary"}
        for precision in ("float32", "int8", "binary"):
            cell = entry if precision == "float32" else entry[precision]
            assert cell["bytes_per_clip"] == bytes_per_clip(int(d), precision)
            assert set(cell["text_to_audio"]) >= RETRIEVAL_KEYS and set(cell["audio_to_text"]) >= RETRIEVAL_KEYS
    assert res["dims"]["16"]["binary"]["bytes_per_clip"] == 2 and res["dims"]["4"]["binary"]["bytes_per_clip"] == 1
    assert res["dims"]["16"]["int8"]["bytes_per_clip"] == 16 and res["dims"]["16"]["bytes_per_clip"] == 64
    top = res["dims"]["32"]
    assert res["text_to_audio"] == {k: top["text_to_audio"][k] for k in RETRIEVAL_KEYS}
    assert res["scale"] == "fraction" and res["quantization"]["quantised_side"].startswith("audio")
    check_card_reader(out, "retrieval", [32, 16, 8, 4])
    check_plot(res, out.with_suffix(".png"))

    zs = tmp_path / "zs.csv"
    write_csv(zs, ["audio", "label"], [[f"m/{i}.wav", CLASSES[i % 3]] for i in range(5)])
    res = run_eval(model_dir, "zero-shot", zs, tmp_path / "zq.json", cache, "--matryoshka", "--quantize")
    check_card_reader(tmp_path / "zq.json", "classification", [32, 16, 8, 4])
    check_plot(res, tmp_path / "zq.png")
    confusion = np.asarray(res["confusion"])  # full width, float32, pessimistic ties like top1
    assert confusion.shape == (3, 3) and confusion.sum() == 5
    assert np.trace(confusion) == round(res["top1"] * 5)
    assert confusion.sum(axis=1).tolist() == [2, 2, 1]  # true-class counts: CLASSES[i % 3] for i < 5
    if importlib.util.find_spec("matplotlib"):
        assert Path(res["confusion_plot"]) == tmp_path / "zq_confusion.png"
        assert (tmp_path / "zq_confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    only = run_eval(model_dir, "zero-shot", zs, tmp_path / "zc.json", cache, "--plot", str(tmp_path / "c.png"))
    assert only["plot"] is None and list(only["dims"]) == ["32"]  # no sweep: no curve, the confusion matrix only
    assert only["confusion"] == res["confusion"]
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "c_confusion.png").stat().st_size > 1000 and not (tmp_path / "c.png").exists()
    assert list(res["dims"]) == ["32", "16", "8", "4"]
    assert res["dims"]["8"]["binary"]["bytes_per_clip"] == 1 and res["dims"]["8"]["int8"]["bytes_per_clip"] == 8

    single = run_eval(model_dir, "retrieval", manifest, tmp_path / "d8.json", cache, "--dim", "8")
    assert single["dim"] == 8 and list(single["dims"]) == ["8"]
    cell = single["dims"]["8"]["text_to_audio"]
    assert single["text_to_audio"] == {k: cell[k] for k in RETRIEVAL_KEYS}


def test_omni_family_end_to_end(tmp_path: Path, cache: Path) -> None:
    """`wavlink eval` on a tiny OmniAudioEmbedder folder: retrieval with its Matryoshka dims, and zero-shot."""
    from wavlink.builders.omni import create_omni, save_omni_folder

    omni = save_omni_folder(*create_omni("tiny-random"), tmp_path / "omni")
    data = tmp_path / "o"
    for i in range(4):
        write_clip(data / f"{i}.wav", i)
    manifest = write_csv(data / "manifest.csv", ["audio", "caption"], [[f"{i}.wav", f"tone {i}"] for i in range(4)])
    res = run_eval(omni, "retrieval", manifest, tmp_path / "o.json", cache, "--matryoshka", "--quantize")
    assert res["trained_dims"] == [32, 16] and list(res["dims"]) == ["32", "16"]
    assert set(res["text_to_audio"]) == RETRIEVAL_KEYS and res["dims"]["16"]["binary"]["bytes_per_clip"] == 2
    check_card_reader(tmp_path / "o.json", "retrieval", [32, 16])
    labels = write_csv(data / "labels.csv", ["audio", "label"], [[f"{i}.wav", CLASSES[i % 3]] for i in range(4)])
    zs = run_eval(omni, "zero-shot", labels, tmp_path / "oz.json", cache)
    check_classification(zs, 4, 3)
    assert zs["model_fingerprint"] == res["model_fingerprint"]


def test_truncation_matches_model_truncate_dim(model_dir: Path) -> None:
    """The runner caches full-width embeddings and slices them; that must equal the model's truncate_dim."""
    emb = Embedder.load(str(model_dir))
    clips = [tone(i) for i in range(3)]
    full = emb.encode_audio(clips)
    for d in (16, 8):
        np.testing.assert_allclose(truncate(full, d), emb.encode_audio(clips, truncate_dim=d), atol=1e-5)
    text = emb.encode_text(["a dog", "rain"])
    np.testing.assert_allclose(truncate(text, 4), emb.encode_text(["a dog", "rain"], truncate_dim=4), atol=1e-5)


def test_quantize_codes_and_reconstruction() -> None:
    from sentence_transformers.util.quantization import quantize_embeddings

    rng = np.random.default_rng(0)
    emb = rng.standard_normal((50, 20)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    codes, recon = quantize(emb, "int8")
    np.testing.assert_array_equal(codes, quantize_embeddings(emb, "int8", calibration_embeddings=emb))
    step = (emb.max(0) - emb.min(0)) / 255
    assert np.all(np.abs(recon - emb) <= step / 2 + 1e-6)
    codes, recon = quantize(emb, "binary")
    assert codes.shape == (50, 3) and codes.dtype == np.int8
    np.testing.assert_array_equal(recon, np.where(emb > 0, 1.0, -1.0))
    assert [bytes_per_clip(d, p) for d, p in [(512, "float32"), (512, "int8"), (512, "binary"), (20, "binary")]] == [
        2048, 512, 64, math.ceil(20 / 8)]
    with pytest.raises(ValueError, match="unknown precision"):
        bytes_per_clip(8, "int4")


def test_model_fingerprint_tracks_weights(model_dir: Path, tmp_path: Path) -> None:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model
    from wavlink.evaluation.cache import folder_fingerprint

    other = save_model_folder(*create_model("tiny-random", seed=1), tmp_path / "other")
    same = save_model_folder(*create_model("tiny-random"), tmp_path / "same")
    assert folder_fingerprint(other) != folder_fingerprint(model_dir)
    assert folder_fingerprint(same) == folder_fingerprint(model_dir)


# ------------------------------------------------------------------------------------------------ bad input
def test_bad_input_errors(model_dir: Path, tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="mismatched counts"):
        RetrievalSet(audio=["a.wav", "b.wav"], captions=["x", "y", "z"], caption_to_audio=[0, 1])
    with pytest.raises(ValueError, match="empty query set"):
        RetrievalSet(audio=["a.wav"], captions=[], caption_to_audio=[])
    with pytest.raises(ValueError, match="no caption"):
        RetrievalSet(audio=["a.wav", "b.wav"], captions=["x"], caption_to_audio=[0])
    with pytest.raises(ValueError, match="duplicate class names"):
        ClassificationSet(audio=["a.wav", "b.wav"], labels=[0, 1], class_names=["dog", "cat", "dog"])
    with pytest.raises(ValueError, match="mismatched counts"):
        ClassificationSet(audio=["a.wav", "b.wav"], labels=[0], class_names=["dog", "cat"])
    with pytest.raises(ValueError, match="mismatched counts"):
        ClassificationSet(audio=["a.wav"], labels=[0], class_names=["dog"], folds=[1, 2])
    from wavlink.evaluation.cache import EmbeddingCache

    # an embedder that returns fewer embeddings than inputs is caught before scoring (and nothing is cached)
    short = EmbeddingCache(tmp_path / "c", "0" * 64)
    with pytest.raises(ValueError, match=r"mismatched counts: 3 text inputs but embeddings of shape \(2, 4\)"):
        short.get_or_compute("text", ["a", "b", "c"], lambda items: np.zeros((2, 4)))
    assert not list((tmp_path / "c").rglob("*.npy"))

    data = tmp_path / "bad"
    write_clip(data / "0.wav", 0)
    write_clip(data / "1.wav", 1)
    labels = write_csv(data / "labels.csv", ["audio", "label"], [["0.wav", "dog"], ["1.wav", "cat"]])

    def fails(task: str, path: Path, *extra: str) -> str:
        rc = cli.main(["eval", "--model", str(model_dir), "--task", task, "--data", str(path), "--cache-dir",
                       str(cache), "--quiet", *extra])
        assert rc == 2
        return capsys.readouterr().err

    assert "duplicate class names" in fails("zero-shot", labels, "--classes", "dog,cat,dog")
    assert "labels not in the class list: ['cat']" in fails("zero-shot", labels, "--classes", "dog,bird")
    assert "empty query set" in fails("retrieval", write_csv(data / "empty.csv", ["audio", "caption"], []))
    missing = write_csv(data / "missing.csv", ["audio", "caption"], [["0.wav", "x"], ["nope.wav", "y"]])
    err = fails("retrieval", missing)
    assert "1 of 2 clip(s)" in err and "nope.wav" in err
    twice = write_csv(data / "twice.csv", ["audio", "label"], [["0.wav", "dog"], ["0.wav", "cat"]])
    assert "listed more than once" in fails("zero-shot", twice)
    assert "empty caption" in fails("retrieval", write_csv(data / "blank.csv", ["audio", "caption"], [["0.wav", " "]]))
    assert "exactly once" in fails("zero-shot", labels, "--templates", "no placeholder")
    assert "not trained" in fails("zero-shot", labels, "--dim", "12")
    assert "no fold column" in fails("zero-shot", labels, "--fold", "1")
    err = fails("clotho", tmp_path / "nowhere")
    assert "does not exist" in err
    (tmp_path / "clotho_empty").mkdir()
    err = fails("clotho", tmp_path / "clotho_empty")
    assert "clotho_captions_evaluation.csv" in err and "evaluation/" in err
    (tmp_path / "us").mkdir()
    assert "metadata/UrbanSound8K.csv" in fails("us8k", tmp_path / "us")
    assert "meta/esc50.csv" in fails("esc50", tmp_path / "us")
    assert "vggsound.csv" in fails("vggsound", tmp_path / "us")
    err = fails("audiocaps", tmp_path / "us")
    assert "test.csv" in err and "audio/test/" in err
    assert "unknown task" in fails("speech", labels)


# ------------------------------------------------------------------------------------------------ plug-ins
def test_evaluate_script_runs(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    spec = importlib.util.spec_from_file_location("evaluate_script", REPO / "scripts" / "run_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    write_clip(tmp_path / "0.wav", 0)
    write_clip(tmp_path / "1.wav", 1)
    labels = write_csv(tmp_path / "l.csv", ["audio", "label"], [["0.wav", "dog"], ["1.wav", "cat"]])
    out = tmp_path / "s.json"
    assert module.main(["--model", str(model_dir), "--task", "zero-shot", "--data", str(labels), "--output",
                        str(out), "--cache-dir", str(cache), "--quiet"]) == 0
    assert set(json.loads(out.read_text())) >= {"task", "model", "dims", "top1", "top5"}


def test_mteb_wrapper_without_mteb(model_dir: Path) -> None:
    from wavlink.evaluation.mteb_wrapper import WavLinkMTEBEncoder

    enc = WavLinkMTEBEncoder(str(model_dir), revision=None)
    batches = [{"audio": [{"array": tone(0, sr=8000), "sampling_rate": 8000}, {"array": tone(1), "sampling_rate": 16000}]},
               {"audio": [tone(2)]}]
    audio = enc.encode(batches, task_metadata=None, hf_split="test", hf_subset="default")
    text = enc.encode([{"text": ["a dog", "rain"]}], task_metadata=None, hf_split="test", hf_subset="default")
    assert audio.shape == (3, 32) and text.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    assert enc.similarity(text, audio).shape == (2, 3) and enc.similarity_pairwise(audio, audio).shape == (3,)
    direct = Embedder.load(str(model_dir)).encode_audio([tone(2)])
    np.testing.assert_allclose(audio[2], direct[0], atol=1e-5)


@pytest.mark.slow
def test_mteb_protocol_and_model_meta(model_dir: Path) -> None:
    pytest.importorskip("mteb")
    from mteb.models.models_protocols import EncoderProtocol

    from wavlink.evaluation.mteb_wrapper import WavLinkMTEBEncoder, wavlink_model_meta

    meta = wavlink_model_meta("my-org/wavlink-tiny", revision=None, release_date="2026-01-01",
                              model_dir=str(model_dir))
    assert meta.embed_dim == [32, 16, 8, 4] and meta.modalities == ["audio", "text"] and meta.n_parameters > 0
    enc = WavLinkMTEBEncoder(str(model_dir), meta=meta)
    assert isinstance(enc, EncoderProtocol) and enc.mteb_model_meta is meta


def test_bench_report_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_embed", REPO / "scripts" / "bench_embed.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_embed", bench)  # dataclasses resolve annotations through it
    spec.loader.exec_module(bench)
    rows = [bench.Row("wavlink:base", "WavLink", 1, 10.0, 100.0, 90.0, 180.0, 10.0, 5.0, 80.0),
            bench.Row("clap-htsat-unfused", "CLAP", 1, 10.0, 200.0, 190.0, 380.0, 5.0, 9.0, 108.0),
            bench.Row("whisper-base-30s", "Whisper", 1, 10.0, 400.0, 390.0, 780.0, 2.5, 1.0, 79.0)]
    assert bench.ratios(rows, "wavlink:base") == [(1, 10.0, 0.5, 0.25)]
    table = bench.markdown(rows, "wavlink:base", "python scripts/bench_embed.py", 3)
    assert "| wavlink:base | 1 | 10.0 | 100.0 |" in table and "0.50x" in table and "0.25x" in table
    assert bench.expand_presets("base,omni:m1,base") == ["wavlink:base", "omni:m1"]
    assert bench.make_clip(1.0, 48000).shape == (48000,)
    other = bench.markdown(rows + [bench.Row("omni:m1", "OmniAudioEmbedder", 1, 10.0, 400.0, 390.0, 780.0, 2.5,
                                             3.0, 4000.0)], "wavlink:base", "cmd", 3)
    assert "| omni:m1 | 1 | 10 | 2.00x | 1.00x |" in other  # every preset gets its ratios, not only the target
    # --budget-s estimate: last batch-1 ms/clip scaled to the clip length x batch x (repeats + warm-up)
    a, b = (bench.System(n, "F", 16000, None, None, 0) for n in ("a", "b"))
    assert bench._cell_estimate([a, b], 8, 30.0, 3, {"a": (100.0, 10.0)}) == pytest.approx(0.1 * 3 * 8 * 4)


def _bench_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("bench_embed", REPO / "scripts" / "bench_embed.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_embed", bench)
    spec.loader.exec_module(bench)
    return bench


def test_bench_defaults_cover_both_families_and_batch_32(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench_module(monkeypatch)
    args = bench.parse_args([])
    assert [int(b) for b in args.batch_sizes.split(",")] == [1, 8, 32]
    assert [float(x) for x in args.lengths.split(",")] == [5.0, 10.0, 30.0]
    systems = bench.expand_presets(args.presets)
    assert {"wavlink:base", "wavlink:small", "wavlink:large", "omni:m1", "omni:m4"} <= set(systems)
    assert not any("tiny-random" in s for s in systems)
    assert args.references == ["clap-htsat-unfused", "whisper-base-30s"]
    assert bench.parse_args(["--references", "clap-htsat-unfused"]).references == ["clap-htsat-unfused"]
    assert bench.parse_args(["--references", "none"]).references == []
    assert bench.parse_args(["--no-references"]).references == []
    with pytest.raises(SystemExit):
        bench.parse_args(["--references", "clap-large"])


def test_bench_runs_both_families(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench_module(monkeypatch)
    out = tmp_path / "bench.md"
    assert bench.main(["--presets", "tiny-random,omni:tiny-random", "--no-references", "--batch-sizes", "1,2",
                       "--lengths", "0.5", "--repeats", "1", "--target", "wavlink:tiny-random",
                       "--out", str(out)]) == 0
    table = out.read_text()
    assert table in capsys.readouterr().out
    for system in ("wavlink:tiny-random", "omni:tiny-random"):
        for batch in (1, 2):
            [row] = [line for line in table.splitlines() if line.startswith(f"| {system} | {batch} | 0.5 |")]
            ms, clips_per_s = (float(x) for x in row.split("|")[4:6])
            assert ms > 0 and clips_per_s > 0
            # clips/s = 1000 / (ms per clip), up to the table's rounding (0.05 ms, 0.005 clips/s)
            assert abs(ms * clips_per_s - 1000) <= 0.05 * clips_per_s + 0.005 * ms + 0.01
    # a spent --budget-s skips (and lists) every remaining measurement instead of running over
    assert bench.main(["--presets", "tiny-random,omni:tiny-random", "--no-references", "--batch-sizes", "1",
                       "--lengths", "0.5", "--repeats", "1", "--budget-s", "0.000001", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith(("| wavlink:", "| omni:"))]
    assert len(rows) == 2 and all(row.endswith("| skipped (--budget-s) |") for row in rows)


def test_retrieval_and_zero_shot_from_webdataset_shards(model_dir: Path, tmp_path: Path, cache: Path) -> None:
    """`wavlink eval --data` takes shards (`wavlink shard` output, a brace pattern): the same clips and captions
    score exactly as from their manifest; zero-shot reads each sample's .json label; a labelless shard is
    refused naming shard and key."""
    pytest.importorskip("webdataset")
    import tarfile

    data = tmp_path / "s"
    rows = []
    for i in range(6):
        write_clip(data / f"{i}.wav", i)
        rows.append([f"{i}.wav", f"caption {i}"])
    rows.append(["2.wav", "another caption of clip 2"])
    manifest = write_csv(data / "manifest.csv", ["audio", "caption"], rows)
    assert cli.main(["shard", str(manifest), "--out", str(tmp_path / "shards"), "--shard-size", "4"]) == 0
    plain = run_eval(model_dir, "retrieval", manifest, tmp_path / "plain.json", cache)
    pattern = str(tmp_path / "shards" / "shard-{000000..000001}.tar")
    sharded = run_eval(model_dir, "retrieval", Path(pattern), tmp_path / "sharded.json", cache)
    check_retrieval(sharded, 6, 7)
    for direction in ("text_to_audio", "audio_to_text"):
        for key, value in plain[direction].items():
            assert sharded[direction][key] == pytest.approx(value, abs=1e-6), (direction, key)

    labelled = tmp_path / "labelled.tar"  # hand-made zero-shot shard: KEY.wav + KEY.json {"label": ...}
    with tarfile.open(labelled, "w") as tar:
        for i in range(6):
            tar.add(data / f"{i}.wav", arcname=f"{i:04d}.wav")
            meta = tmp_path / f"{i}.json"
            meta.write_text(json.dumps({"label": CLASSES[i % 3]}))
            tar.add(meta, arcname=f"{i:04d}.json")
    zs = write_csv(tmp_path / "zs.csv", ["audio", "label"], [[f"s/{i}.wav", CLASSES[i % 3]] for i in range(6)])
    from_manifest = run_eval(model_dir, "zero-shot", zs, tmp_path / "zm.json", cache)
    from_shard = run_eval(model_dir, "zero-shot", labelled, tmp_path / "zsh.json", cache)
    assert from_shard["n_classes"] == 3 and from_shard["n_audio"] == 6
    assert from_shard["top1"] == from_manifest["top1"] and from_shard["confusion"] == from_manifest["confusion"]
    with pytest.raises(ValueError, match=r"shard-000000\.tar key .*no label"):
        cli_eval_error(model_dir, "zero-shot", tmp_path / "shards" / "shard-000000.tar")


def cli_eval_error(model_dir: Path, task: str, data: Path) -> None:
    from wavlink.evaluation import evaluate

    evaluate(str(model_dir), task, str(data), use_cache=False, progress=False, verbose=False)
