"""The generic ``retrieval`` / ``zero-shot`` tasks (`evaluation.generic_sets` over the data reader): every
layout a user holds a test set in, through `wavlink eval`: manifests, split columns and sub-folders, datasets,
shards, and the embedding cache they share."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from eval_helpers import (
    CLASSES,
    check_classification,
    check_retrieval,
    cli_eval_error,
    run_eval,
    tone,
    write_clip,
    write_csv,
)

from wavlink import cli
from wavlink.data import normalize_split
from wavlink.evaluation import benchmarks
from wavlink.evaluation.runner import evaluate
from wavlink.evaluation.sets import RetrievalSet


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
