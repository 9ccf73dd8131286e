"""`wavlink.data.sources` / `records`: the one reader. The same clips and captions come out of every layout a
user may hold them in (a manifest, an audio folder, split sub-folders, a `datasets` dataset, WebDataset
shards), and training's and evaluation's split rules pick the same rows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_clip

from wavlink.data.records import caption_records, label_records, load_source, read_manifest
from wavlink.data.sources import open_source, read_dataset_rows
from wavlink.evaluation.generic_sets import load_classification_set, load_retrieval_set

CAPTIONS = {"a.wav": ["a dog barks", "barking"], "b.wav": ["rain on a roof"], "c.wav": ["a bell rings"]}


def _clips(folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    waves = {}
    for i, name in enumerate(CAPTIONS):
        sf.write(folder / name, make_clip(0.3 + 0.1 * i, seed=i), SR)
        waves[name] = sf.read(folder / name, dtype="float32")[0]  # as stored (16-bit PCM)
    return waves


def _rows() -> list[tuple[str, str]]:
    return [(name, caption) for name, caps in CAPTIONS.items() for caption in caps]


def _decoded(item) -> np.ndarray:
    if isinstance(item, dict):
        return sf.read(io.BytesIO(item["bytes"]), dtype="float32")[0]
    return sf.read(item, dtype="float32")[0]


def test_every_layout_gives_the_same_clips_and_captions(tmp_path: Path) -> None:
    waves = _clips(tmp_path / "clips")
    manifest = tmp_path / "clips" / "captions.csv"
    manifest.write_text("audio,caption\n" + "".join(f"{a},{c}\n" for a, c in _rows()))
    folder = tmp_path / "clips"  # an audio folder: the same table as metadata.jsonl, the audiofolder's names
    (folder / "metadata.jsonl").write_text("".join(json.dumps({"file_name": a, "text": c}) + "\n" for a, c in _rows()))
    manifest_only = tmp_path / "m"
    manifest_only.mkdir()
    (manifest_only / "listing.jsonl").write_text("".join(
        json.dumps({"path": f"../clips/{a}", "captions": CAPTIONS[a]}) + "\n" for a in CAPTIONS))

    expected = [(name, caption) for name, caption in _rows()]
    for spec in (manifest, folder, manifest_only / "listing.jsonl"):
        source = open_source(spec)
        clips, pairs = caption_records(source)
        got = [(Path(clips[p.clip].path).name, p.caption) for p in pairs]
        assert got == expected, spec
        assert [Path(c.path).name for c in clips] == list(CAPTIONS)  # rows naming one clip are one clip
        for clip in clips:
            np.testing.assert_array_equal(_decoded(clip.path), waves[Path(clip.path).name])

    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"audio": [str(folder / a) for a in CAPTIONS],
                                     "caption": [CAPTIONS[a] for a in CAPTIONS]})
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    source = read_dataset_rows(ds)
    clips, pairs = caption_records(source)
    assert [p.caption for p in pairs] == [c for _, c in expected]
    assert [c.row for c in clips] == [0, 1, 2]

    pytest.importorskip("webdataset")
    from wavlink.training.shard_writer import write_shards

    shards = tmp_path / "shards"
    write_shards(str(manifest), shards, shard_size=2)
    clips, pairs, rows, column, _ = load_source(str(shards))
    assert column == "audio"
    assert sorted(p.caption for p in pairs) == sorted(c for _, c in expected)
    for clip in clips:
        captions = [p.caption for p in pairs if clips[p.clip] is clip]
        name = next(a for a, caps in CAPTIONS.items() if caps == captions)
        np.testing.assert_array_equal(_decoded(rows[clip.row]["audio"]), waves[name])
    # evaluation reads the same layouts into the same sets
    for spec in (manifest, folder, shards):
        retrieval = load_retrieval_set(spec)
        assert sorted(retrieval.captions) == sorted(c for _, c in expected) and len(retrieval.audio) == 3


def test_split_rules_of_training_and_evaluation(tmp_path: Path) -> None:
    _clips(tmp_path)
    table = tmp_path / "data.csv"
    table.write_text("audio,caption,label,split\na.wav,one,dog,train\nb.wav,two,rain,\nc.wav,three,bell,test\n")
    source = open_source(table)
    assert [r.split for r in source.rows] == ["train", None, "test"]
    # training: no split = every row; an unlabelled row counts as the role's default split
    assert len(source.select(None).rows) == 3
    assert [r.cells["caption"] for r in source.select("train").rows] == ["one", "two"]
    assert [r.cells["caption"] for r in source.select("validation", default_split="validation").rows] == ["two"]
    assert len(read_manifest(table, "test")[1]) == 1
    # evaluation: test by default (unlabelled rows are training rows), and the others on request
    rows, used = source.select_for_evaluation(None)
    assert used == "test" and [r.cells["caption"] for r in rows.rows] == ["three"]
    assert [r.cells["caption"] for r in source.select_for_evaluation("train")[0].rows] == ["one", "two"]
    with pytest.raises(ValueError, match=r"no rows in split 'validation'; splits present: \['test', 'train'\]"):
        source.select_for_evaluation("val")
    zero_shot = load_classification_set(table)
    assert zero_shot.class_names == ["bell", "dog", "rain"] and zero_shot.labels == [0]  # all splits' classes
    labels = label_records(open_source(table))
    assert labels.labels == ["dog", "rain", "bell"] and labels.folds is None


@pytest.mark.parametrize(("content", "message"), [
    ("sound,caption\na.wav,x\n", r"data.csv: missing column\(s\) 'audio' for the audio path \(looked for audio, "),
    ("audio,caption\n ,x\n", r"data.csv line 2: empty 'audio' path"),
    ("audio,caption,split\na.wav,x,holdout\n", r"data.csv line 2: split 'holdout' is not one of"),
    ("audio,description\na.wav,x\n", r"missing column\(s\) 'caption' for the caption"),
])
def test_bad_tables_are_one_error_naming_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    _clips(tmp_path)
    (tmp_path / "data.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        caption_records(open_source(tmp_path / "data.csv"))


def test_a_folder_without_a_manifest_says_what_to_put_there(tmp_path: Path) -> None:
    _clips(tmp_path / "bare")
    with pytest.raises(ValueError, match=r"no manifest in .*bare: put a manifest.csv"):
        open_source(tmp_path / "bare")
    with pytest.raises(FileNotFoundError, match="audio folder not found"):
        load_source({"audiofolder": str(tmp_path / "nowhere")})
    with pytest.raises(FileNotFoundError, match=r"data not found: .*my_sounds \(no such folder"):
        open_source(tmp_path / "my_sounds")  # a mistyped folder: not "unsupported manifest type ''"
