"""Training data: manifests, audio folders, `datasets` sources, validation report, crops, bucketing, collation."""

from __future__ import annotations

import io
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import soundfile as sf
import torch

from wavlink.data.records import read_audiofolder, read_manifest
from wavlink.training.batching import AudioCaptionCollator, LengthBucketBatchSampler
from wavlink.training.dataset import AudioCaptionDataset, normalize_caption, split_clips

SR = 16000


def tone(seconds: float, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path, seconds: float = 1.0, freq: float = 440.0, sr: int = SR) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, tone(seconds, freq, sr), sr)
    return str(path)


def write_csv(path, rows: list[dict], columns: list[str]) -> str:
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for r in rows:
            f.write(",".join(str(r.get(c, "")) for c in columns) + "\n")
    return str(path)


@pytest.fixture
def manifest(tmp_path):
    """4 clips of 0.5-2 s; clip a has two captions; two clips share a caption up to case/full stop."""
    for name, sec in [("a", 0.5), ("b", 1.0), ("c", 1.5), ("d", 2.0)]:
        write_wav(tmp_path / "audio" / f"{name}.wav", sec, 200 + 100 * sec)
    rows = [
        {"audio": "audio/a.wav", "caption": "a dog barks", "split": "train"},
        {"audio": "audio/a.wav", "caption": "barking", "split": "train"},
        {"audio": "audio/b.wav", "caption": "A dog barks.", "split": "train"},
        {"audio": "audio/c.wav", "caption": "rain", "split": "train"},
        {"audio": "audio/d.wav", "caption": "wind", "split": "val"},
    ]
    return write_csv(tmp_path / "data.csv", rows, ["audio", "caption", "split"])


# ---------------------------------------------------------------------------------------------- reading


def test_csv_manifest_paths_splits_and_groups(manifest, tmp_path):
    clips, pairs = read_manifest(manifest)
    assert len(clips) == 4 and len(pairs) == 5
    assert clips[0].path == str(tmp_path / "audio" / "a.wav")  # relative to the manifest's folder
    ds = AudioCaptionDataset.from_manifest(manifest, split="train")
    assert len(ds) == 4 and len(ds.example_clips) == 3
    # same clip (a, a) and identical captions after normalisation (a ~ b) share one group; c is alone
    groups = [ds.clip_group[p.clip] for p in ds.pairs]
    assert groups[0] == groups[1] == groups[2] != groups[3]
    val = AudioCaptionDataset.from_manifest(manifest, split="validation")  # 'val' is an alias
    assert [p.caption for p in val.pairs] == ["wind"]
    assert normalize_caption("  A dog   barks. ") == normalize_caption("a dog barks")


def test_jsonl_manifest_caption_lists_and_rows_without_split(tmp_path):
    write_wav(tmp_path / "x.wav")
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"audio": "x.wav", "caption": ["one", "two"]}) + "\n\n"
                    + json.dumps({"audio": "x.wav", "caption": "three", "split": "test"}) + "\n")
    train = AudioCaptionDataset.from_manifest(path, split="train")
    assert [p.caption for p in train.pairs] == ["one", "two"]  # rows without a split are training rows
    assert len(train.example_clips) == 1
    assert [p.caption for p in AudioCaptionDataset.from_manifest(path, split="test").pairs] == ["three"]
    # explicit evaluation sources treat unsplit rows as validation rows
    assert len(read_manifest(path, "validation", default_split="validation")[1]) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("sound,caption\nx.wav,hello\n", "missing column(s) 'audio'"),
        ("audio,caption\nx.wav,hello\nx.wav,\n", "data.csv line 3: empty caption"),
        ("audio,caption\n,hello\n", "data.csv line 2: empty 'audio' path"),
        ("audio,caption,split\nx.wav,hello,holdout\n", "data.csv line 2: split 'holdout'"),
        ("audio,caption,duration\nx.wav,hello,abc\n", "data.csv line 2: duration 'abc'"),
    ],
)
def test_bad_manifests_name_the_row(tmp_path, content, message):
    write_wav(tmp_path / "x.wav")
    (tmp_path / "data.csv").write_text(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(tmp_path / "data.csv")


def test_bad_jsonl_and_missing_manifest(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio": "x.wav", "caption": "a"}\n{oops\n')
    with pytest.raises(ValueError, match="m.jsonl line 2: invalid JSON"):
        read_manifest(tmp_path / "m.jsonl")
    with pytest.raises(ValueError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="unsupported manifest type"):
        read_manifest(tmp_path / "m.txt")


def test_validation_report_fail_and_skip(tmp_path):
    write_wav(tmp_path / "good.wav")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x01 this is not audio" * 10)
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), SR)
    rows = [{"audio": n, "caption": f"c{i}"} for i, n in
            enumerate(["good.wav", "missing.wav", "corrupt.wav", "empty.wav", "zero.wav", "good.wav"])]
    path = write_csv(tmp_path / "data.csv", rows, ["audio", "caption"])
    with pytest.raises(ValueError) as err:
        AudioCaptionDataset.from_manifest(path).validate("fail")
    text = str(err.value)
    assert "4 clip(s) with missing or unreadable audio" in text
    for name, reason in [("missing.wav", "file not found"), ("corrupt.wav", "cannot decode"),
                         ("empty.wav", "empty file"), ("zero.wav", "zero-length audio")]:
        line = next(line for line in text.splitlines() if name in line)
        assert reason in line
    assert "data.csv line 3" in text  # the row that uses missing.wav
    ds = AudioCaptionDataset.from_manifest(path)
    report = ds.validate("skip")
    assert report.skipped_pairs == 4 and len(ds) == 2 and len(report.problems) == 4
    assert "skipped 4 pair(s)" in str(report)
    assert ds.example_durations() == [1.0, 1.0]


def test_decode_error_at_load_time_names_the_file(tmp_path):
    write_wav(tmp_path / "a.wav")
    path = write_csv(tmp_path / "data.csv", [{"audio": "a.wav", "caption": "x"}], ["audio", "caption"])
    ds = AudioCaptionDataset.from_manifest(path)
    ds.validate()
    os.remove(tmp_path / "a.wav")  # disappears after validation: still a clear error, never a wrong pair
    with pytest.raises(ValueError, match=r"a\.wav.*data\.csv line 2.*not found"):
        ds[0]


def test_batch_size_larger_than_dataset():
    with pytest.raises(ValueError, match=r"batch size 8 x 2 process\(es\) = 16 is larger than train.csv \(10"):
        LengthBucketBatchSampler([1.0] * 10, 8, num_replicas=2, name="train.csv")


def test_audiofolder_top_level_and_split_folders(tmp_path):
    flat = tmp_path / "flat"
    write_wav(flat / "a.wav")
    write_wav(flat / "sub" / "b.wav")
    (flat / "metadata.csv").write_text("file_name,caption\na.wav,first\nsub/b.wav,second\n")
    clips, pairs = read_audiofolder(flat)
    assert [p.caption for p in pairs] == ["first", "second"] and clips[1].path == str(flat / "sub" / "b.wav")
    nested = tmp_path / "nested"
    for split in ("train", "validation"):
        write_wav(nested / split / "x.wav")
        (nested / split / "metadata.jsonl").write_text(json.dumps({"file_name": "x.wav", "caption": split}) + "\n")
    ds = AudioCaptionDataset.from_audiofolder(nested, split="validation")
    assert [p.caption for p in ds.pairs] == ["validation"]
    assert len(AudioCaptionDataset.from_audiofolder(nested)) == 2
    with pytest.raises(ValueError, match="no manifest in .*metadata.csv"):
        read_audiofolder(tmp_path / "flat" / "sub")


def test_hf_dataset_with_audio_column_bytes_and_paths(tmp_path):
    datasets = pytest.importorskip("datasets")
    buf = io.BytesIO()
    sf.write(buf, tone(0.5, 300, 8000), 8000, format="WAV")  # bytes at 8 kHz: resampled to 16 kHz
    path = write_wav(tmp_path / "p.wav", 1.0)
    ds = datasets.Dataset.from_dict({
        "audio": [{"bytes": buf.getvalue(), "path": "mem.wav"}, {"bytes": None, "path": path},
                  {"bytes": None, "path": path}],
        "caption": [["first", "also first"], ["second"], ["second again"]],
        "split": ["train", "train", "validation"],
    }).cast_column("audio", datasets.Audio())
    train = AudioCaptionDataset.from_hf(ds, split="train")
    assert len(train) == 3 and len(train.example_clips) == 2
    train.validate()
    assert train.example_durations() == [0.5, 0.5, 1.0]
    item = train[0]
    assert item["audio"].dtype == np.float32 and len(item["audio"]) == 8000 and item["caption"] == "first"
    assert train.clip_group[0] != train.clip_group[1]
    val = AudioCaptionDataset.from_hf(ds, split="validation")
    assert [p.caption for p in val.pairs] == ["second again"]
    with pytest.raises(ValueError, match="missing column"):
        AudioCaptionDataset.from_hf(ds.rename_column("caption", "text"))
    # from_sources accepts the dataset object as well
    assert len(AudioCaptionDataset.from_sources([ds], split="train")) == 3


def test_saved_dataset_dicts_and_pinned_sources_never_leak_training_rows_into_validation(tmp_path, manifest):
    datasets = pytest.importorskip("datasets")
    from wavlink.data.records import load_source

    paths = [write_wav(tmp_path / "hf" / f"{i}.wav", 0.5, 300 + 50 * i) for i in range(3)]
    table = {"audio": paths, "caption": ["one", "two", "three"]}
    full = datasets.DatasetDict({"train": datasets.Dataset.from_dict(table).select([0, 1]),
                                 "valid": datasets.Dataset.from_dict(table).select([2])})
    full.save_to_disk(str(tmp_path / "full"))
    datasets.DatasetDict({"train": full["train"]}).save_to_disk(str(tmp_path / "train_only"))
    # a save_to_disk folder given as a plain path (as `wavlink finetune --data DIR` does) or as hf:DIR
    for spec in (str(tmp_path / "full"), "hf:" + str(tmp_path / "full"), {"hf": str(tmp_path / "full")}):
        assert [p.caption for p in AudioCaptionDataset.from_sources([spec], split="train").pairs] == ["one", "two"]
        assert [p.caption for p in AudioCaptionDataset.from_sources([spec], split="validation").pairs] == ["three"]
    # no validation split in a training source: nothing (the trainer then holds out clips or skips evaluation)
    assert AudioCaptionDataset.from_sources([str(tmp_path / "train_only")], split="validation").pairs == []
    # ... but an evaluation source must have it
    with pytest.raises(ValueError, match=r"split 'validation' not in \['train'\]"):
        load_source(str(tmp_path / "train_only"), "validation", default_split="validation")
    # pinned sources (split / hf_split) serve only their own role
    for spec in ({"manifest": manifest, "split": "train"}, {"hf": str(tmp_path / "full"), "hf_split": "train"}):
        assert len(AudioCaptionDataset.from_sources([spec], split="train").pairs) >= 2
        assert AudioCaptionDataset.from_sources([spec], split="validation").pairs == []
    pinned_eval = {"hf": str(tmp_path / "full"), "hf_split": "train"}
    assert len(load_source(pinned_eval, "validation", default_split="validation")[1]) == 2
    (tmp_path / "not_a_dataset").mkdir()
    with pytest.raises(ValueError, match="cannot load the datasets source .*not_a_dataset"):
        load_source({"hf": str(tmp_path / "not_a_dataset")}, "train")


# ---------------------------------------------------------------------------------------------- crops


def test_training_crops_are_seeded_per_epoch_and_eval_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "long.wav", rng.standard_normal(5 * SR).astype(np.float32) * 0.1, SR)
    path = write_csv(tmp_path / "d.csv", [{"audio": "long.wav", "caption": "noise"}], ["audio", "caption"])
    train = AudioCaptionDataset.from_manifest(path, train=True, max_seconds=1.0, seed=3)
    first = train[0]["audio"]
    assert len(first) == SR
    np.testing.assert_array_equal(first, train[0]["audio"])  # same (seed, epoch, index) -> same crop
    train.set_epoch(1)
    assert not np.array_equal(first, train[0]["audio"])  # another epoch -> another crop
    again = AudioCaptionDataset.from_manifest(path, train=True, max_seconds=1.0, seed=3)
    again.set_epoch(1)
    np.testing.assert_array_equal(train[0]["audio"], again[0]["audio"])  # reproducible across instances
    full = sf.read(tmp_path / "long.wav", dtype="float32")[0]
    evaluation = AudioCaptionDataset.from_manifest(path, max_seconds=1.0)
    np.testing.assert_allclose(evaluation[0]["audio"], full[:SR])  # evaluation: the start, every time
    assert len(AudioCaptionDataset.from_manifest(path)[0]["audio"]) == 5 * SR  # no window: whole clip


def test_random_caption_sampling_one_example_per_clip(manifest):
    ds = AudioCaptionDataset.from_manifest(manifest, split="train", train=True, caption_sampling="random")
    assert len(ds) == 3
    seen = set()
    for epoch in range(20):
        ds.set_epoch(epoch)
        seen.add(ds[0]["caption"])
    assert seen == {"a dog barks", "barking"}


# ---------------------------------------------------------------------------------------------- batching


def test_length_bucketing_sampler():
    rng = np.random.default_rng(0)
    lengths = rng.uniform(1, 30, size=203)
    sampler = LengthBucketBatchSampler(lengths, 8, seed=1, bucket_size=64)
    batches = sampler.batches(0)
    assert len(batches) == 203 // 8 and all(len(b) == 8 for b in batches)
    flat = [i for b in batches for i in b]
    assert len(set(flat)) == len(flat) == 200  # each example at most once, only 3 dropped
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_batches = rng.permutation(200).reshape(-1, 8)
    padded_random = sum(len(b) * lengths[b].max() for b in random_batches)
    assert padded / lengths[flat].sum() < 1.3 < padded_random / lengths[flat].sum()  # little padding
    assert sampler.batches(0) == batches and sampler.batches(1) != batches  # seeded per epoch
    ranks = [LengthBucketBatchSampler(lengths, 8, num_replicas=3, rank=r, seed=1, bucket_size=64).batches(0)
             for r in range(3)]
    assert len({len(r) for r in ranks}) == 1  # equal number of batches per rank
    owned = [i for r in ranks for b in r for i in b]
    assert len(owned) == len(set(owned))  # disjoint


def test_collator_and_workers_match(manifest):
    from wavlink.builders.wavlink import create_model

    _, processor = create_model("tiny-random")
    ds = AudioCaptionDataset.from_manifest(manifest, split="train", train=True, max_seconds=1.0)
    ds.validate()
    collate = AudioCaptionCollator(processor)
    batch = collate([ds[i] for i in range(4)])
    assert set(batch) == {"audio_inputs", "text_inputs", "group_ids", "clip_ids", "indices"}
    assert batch["audio_inputs"]["input_features"].shape[0] == 4
    assert batch["audio_inputs"]["feature_attention_mask"].sum(1).tolist() == [50, 50, 100, 100]  # c (1.5 s) cropped to 1 s
    assert "input_ids" in batch["text_inputs"] and batch["text_inputs"]["input_ids"].shape[0] == 4
    g = batch["group_ids"].tolist()
    assert g[0] == g[1] == g[2] != g[3]

    batches = [[0, 1], [2, 3]]
    loaders = [torch.utils.data.DataLoader(ds, batch_sampler=batches, collate_fn=collate, num_workers=w)
               for w in (0, 2)]
    for a, b in zip(*loaders):
        torch.testing.assert_close(a["audio_inputs"]["input_features"], b["audio_inputs"]["input_features"])
        assert torch.equal(a["indices"], b["indices"])


def test_split_clips_holds_out_whole_clips(manifest):
    ds = AudioCaptionDataset.from_manifest(manifest, split="train")
    train, val = split_clips(ds, 0.34, seed=0)
    assert {p.clip for p in train.pairs}.isdisjoint({p.clip for p in val.pairs})
    assert len(train.pairs) + len(val.pairs) == len(ds.pairs) and not val.train
    with pytest.raises(ValueError, match="validation fraction"):
        split_clips(ds, 1.5)
