"""`wavlink prepare`: each public dataset's published layout (a tiny copy written by `public_fixtures`) becomes
caption manifests the training and evaluation readers load, with labels turned into captions the documented
way, source / licence columns, and the one clip without audio counted and listed, never silently dropped."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import soundfile as sf
from public_fixtures import BUILDERS, ontology

from wavlink.cli import main
from wavlink.data import read_table
from wavlink.data.public import CONVERTERS, LayoutError, PrepareOptions, prepare
from wavlink.data.public.audioset_strong import temporal_caption
from wavlink.data.public.youtube import youtube_stems
from wavlink.data.records import read_manifest
from wavlink.evaluation.generic_sets import load_retrieval_set


def rows_of(path: Path) -> list[dict]:
    return read_table(path).rows


def missing_ids(out: Path) -> list[str]:
    with open(out / "missing.csv", newline="") as f:
        return [r["clip_id"] for r in csv.DictReader(f)]


def check_readable(result) -> None:
    """Every manifest loads through the training reader, every audio path points at a decodable file."""
    for path in result.files.values():
        clips, pairs = read_manifest(path)
        assert pairs and len(pairs) == len(rows_of(path))
        for clip in clips:
            assert sf.info(clip.path).frames > 0, clip.path


def test_every_converter_is_registered() -> None:
    assert sorted(CONVERTERS) == sorted(BUILDERS)
    for module in CONVERTERS.values():
        assert module.__doc__ and "ayout" in module.__doc__ and module.LAYOUT and module.DESCRIPTION


def test_fsd50k_labels_to_laion_captions_with_clip_licences(tmp_path: Path) -> None:
    src = BUILDERS["fsd50k"](tmp_path)
    result = prepare("fsd50k", src, tmp_path / "out")
    assert sorted(result.files) == ["test", "train", "validation"]
    train = {r["clip_id"]: r for r in rows_of(result.files["train"])}
    assert sorted(train) == ["64760", "64761"]
    # vocabulary names, underscores as spaces, every label of the row (as LAION's FSD50K captions)
    assert train["64760"]["caption"] == ("The sounds of Electric guitar, Guitar, Plucked string instrument, "
                                         "Musical instrument and Music")
    assert train["64760"]["license"] == "http://creativecommons.org/licenses/sampling+/1.0/"
    assert train["64760"]["uploader"] == "casualsamples"
    assert train["64761"]["license"].startswith("CC BY 4.0 (FSD50K)")  # no clips-info entry: the dataset's
    assert train["64760"]["source"] == "fsd50k" and train["64760"]["audio"] == "../FSD50K/FSD50K.dev_audio/64760.wav"
    assert [r["caption"] for r in rows_of(result.files["validation"])] == ["The sounds of Crushing"]
    assert rows_of(result.files["test"])[0]["caption"].startswith("The sounds of Bass guitar, Guitar")
    assert [(m.clip_id, m.split, m.rows) for m in result.missing] == [("16399", "train", 1)]
    assert missing_ids(tmp_path / "out") == ["16399"]
    report = json.loads((tmp_path / "out" / "prepare_report.json").read_text())
    assert report["missing_clips"] == 1 and report["rows"] == {"train": 2, "validation": 1, "test": 1}
    check_readable(result)


def test_fsd50k_ontology_names_and_leaf_labels(tmp_path: Path) -> None:
    src = BUILDERS["fsd50k"](tmp_path)
    onto = ontology(tmp_path)
    leaves = prepare("fsd50k", src, tmp_path / "leaves", ontology=str(onto), labels="leaves", splits=["train"])
    assert [r["caption"] for r in rows_of(leaves.files["train"])] == ["The sounds of Electric guitar"] * 2
    assert sorted(leaves.files) == ["train"]
    custom = prepare("fsd50k", src, tmp_path / "custom", template="{labels}", splits=["test"])
    assert rows_of(custom.files["test"])[0]["caption"] == ("Bass guitar, Guitar, Plucked string instrument, "
                                                           "Musical instrument and Music")
    with pytest.raises(ValueError, match="needs the AudioSet ontology"):
        prepare("fsd50k", src, tmp_path / "x", labels="leaves")


def test_macs_one_row_per_annotation_and_competence(tmp_path: Path) -> None:
    src = BUILDERS["macs"](tmp_path)
    result = prepare("macs", src, tmp_path / "out")
    rows = rows_of(result.files["train"])
    assert [(r["clip_id"], r["caption"]) for r in rows] == [
        ("airport-barcelona-0-0-a", "people talk in a large hall while a suitcase rolls by"),
        ("airport-barcelona-0-0-a", "an announcement echoes over footsteps"),
        ("park-helsinki-241-7236-a", "birds sing and children shout in a park"),
    ]
    assert rows[0]["annotator_id"] == "24" and rows[0]["annotator_competence"] == "0.91"
    assert rows[0]["tags"] == "adults talking,footsteps" and "zenodo.org/records/5114771" in rows[0]["license"]
    assert result.empty_captions == 1  # annotator 26's empty sentence: counted, not a row
    assert [(m.clip_id, m.rows) for m in result.missing] == [("public_square-lyon-1-28-a", 1)]
    first = prepare("macs", src, tmp_path / "first", max_captions_per_clip=1)  # the blog's "4K" = one per clip
    assert [r["clip_id"] for r in rows_of(first.files["train"])] == ["airport-barcelona-0-0-a",
                                                                     "park-helsinki-241-7236-a"]
    check_readable(result)


def test_audioset_strong_temporal_captions_with_ontology_names(tmp_path: Path) -> None:
    src = BUILDERS["audioset-strong"](tmp_path)
    result = prepare("audioset-strong", src, tmp_path / "out")
    train = {r["clip_id"]: r for r in rows_of(result.files["train"])}
    # speech 0-4 s overlaps the dog 1-2.5 s; the horn comes after; speech again at 8 s
    assert train["b0RFKhbpFJA_30000"]["caption"] == ("Speech and dog, then vehicle horn, car horn, honking, "
                                                     "then speech")
    assert train["b0RFKhbpFJA_30000"]["events"] == "4"
    assert train["-5xOcMJpTUk_0"]["caption"] == "Dog"
    assert train["b0RFKhbpFJA_30000"]["license"] == "labels: CC BY 4.0 (AudioSet); audio: YouTube video b0RFKhbpFJA"
    assert train["b0RFKhbpFJA_30000"]["audio"].endswith("audio/train/Yb0RFKhbpFJA.wav")
    test = rows_of(result.files["test"])
    assert test[0]["caption"] == "Vehicle horn, car horn, honking"  # the ontology's name, not the tsv's
    assert [m.clip_id for m in result.missing] == ["zzzzzzzzzzz_10000"]
    labels = prepare("audioset-strong", src, tmp_path / "labels", caption_style="labels", splits=["train"])
    assert {r["clip_id"]: r["caption"] for r in rows_of(labels.files["train"])}["b0RFKhbpFJA_30000"] == \
        "The sounds of Speech, Dog and Vehicle horn, car horn, honking"
    check_readable(result)


def test_audioset_strong_names_fall_back_to_display_names_and_unknown_labels_fail(tmp_path: Path) -> None:
    src = BUILDERS["audioset-strong"](tmp_path)
    (src / "ontology.json").unlink()
    result = prepare("audioset-strong", src, tmp_path / "out", splits=["test"])
    assert rows_of(result.files["test"])[0]["caption"] == "Vehicle horn (old name)"
    with open(src / "audioset_eval_strong.tsv", "a") as f:
        f.write("c1fGP_k2Xyk_20000\t4.0\t5.0\t/m/unknown\n")
    with pytest.raises(ValueError, match="/m/unknown"):
        prepare("audioset-strong", src, tmp_path / "out2", splits=["test"])


def test_temporal_caption_rules() -> None:
    assert temporal_caption([(0, 10, "Speech")]) == "Speech"
    assert temporal_caption([(5, 6, "Dog"), (0, 1, "Speech"), (0.5, 2, "Music")]) == "Speech and music, then dog"
    assert temporal_caption([(0, 9, "Wind"), (1, 2, "Dog"), (3, 4, "Dog"), (5, 6, "CD player")]) == \
        "Wind, dog and CD player"  # one group (all inside the wind), repeats named once, acronyms kept


def test_urbansound8k_laion_template_and_folds(tmp_path: Path) -> None:
    src = BUILDERS["urbansound8k"](tmp_path)
    result = prepare("urbansound8k", src, tmp_path / "out")
    rows = rows_of(result.files["train"])
    assert [r["caption"] for r in rows] == ["The sound of dog bark.", "The sound of children playing."]
    assert rows[0]["fold"] == "5" and rows[0]["salience"] == "foreground" and rows[0]["freesound_id"] == "100032"
    assert rows[0]["license"] == "CC BY-NC 3.0 (UrbanSound8K); Freesound sound 100032"
    assert [m.clip_id for m in result.missing] == ["102305-6-0-0"]
    assert "audio/fold1/102305-6-0-0.wav" in result.missing[0].expected
    check_readable(result)


def test_clotho_five_captions_per_clip_and_cp1252_metadata(tmp_path: Path) -> None:
    src = BUILDERS["clotho"](tmp_path)
    result = prepare("clotho", src, tmp_path / "out")
    train = rows_of(result.files["train"])
    assert len(train) == 9  # 5 + 4 (forest.wav's fifth caption is empty)
    assert result.empty_captions == 1
    radio = [r for r in train if r["clip_id"] == "Distorted AM Radio noise.wav"]
    assert [r["caption"] for r in radio][:2] == ["A radio hisses.", "Static crackles."]
    assert radio[0]["license"] == "http://creativecommons.org/publicdomain/zero/1.0/" and radio[0]["sound_id"] == "34086"
    forest = [r for r in train if r["clip_id"] == "forest.wav"][0]
    assert forest["license"].startswith("Clotho (zenodo.org/records/4783391)")
    assert sorted(result.files) == ["test", "train", "validation"]
    assert [r["caption"] for r in rows_of(result.files["validation"])][0] == "Church bells ring."
    assert [r["caption"] for r in rows_of(result.files["test"])][0] == "A river flows."
    assert [(m.clip_id, m.rows) for m in result.missing] == [("gone.wav", 5)]
    evaluation = load_retrieval_set(result.files["test"])  # `wavlink eval --task retrieval` reads it
    assert len(evaluation.audio) == 1 and len(evaluation.captions) == 5
    check_readable(result)


def test_audiocaps_finds_every_download_naming(tmp_path: Path) -> None:
    src = BUILDERS["audiocaps"](tmp_path)
    result = prepare("audiocaps", src, tmp_path / "out")
    train = {r["clip_id"]: r for r in rows_of(result.files["train"])}
    assert sorted(train) == ["UDGBjjwyaqE_20", "r1nicOVtvkQ_130"]
    assert train["UDGBjjwyaqE_20"]["audio"].endswith("audio/train/YUDGBjjwyaqE.flac")
    assert train["r1nicOVtvkQ_130"]["license"].startswith("captions: MIT (AudioCaps")
    val = rows_of(result.files["validation"])
    assert [r["caption"] for r in val] == ["Rustling occurs, ducks quack", "Ducks quack and water splashes"]
    assert {r["audio"] for r in val} == {"../audiocaps/audio/val/vfY_TJq7n_U_130.000.wav"}
    assert rows_of(result.files["test"])[0]["audio"].endswith("audio/test/103549.wav")
    assert [m.clip_id for m in result.missing] == ["gone1234567_0"]
    check_readable(result)


def test_auto_acd_ids_with_start_suffix(tmp_path: Path) -> None:
    src = BUILDERS["auto-acd"](tmp_path)
    result = prepare("auto-acd", src, tmp_path / "out", format="jsonl")
    train = {r["clip_id"]: r for r in rows_of(result.files["train"])}
    assert result.files["train"].name == "train.jsonl"
    assert train["oPRC3zComfA_000117"]["caption"] == "A man speaks while water splashes, with birds in the background."
    assert train["oPRC3zComfA_000117"]["youtube_id"] == "oPRC3zComfA" and train["oPRC3zComfA_000117"]["start_time"] == 117
    assert train["---g-f_I2yQ_000001"]["audio"].endswith("Y---g-f_I2yQ.wav")
    assert "its card states no licence" in train["---g-f_I2yQ_000001"]["license"]
    assert rows_of(result.files["test"])[0]["audio"].endswith("_7Xe9vD3Hpg_4.wav")
    assert [m.clip_id for m in result.missing] == ["missingVid1_000010"]
    check_readable(result)


def test_audiosetcaps_three_subsets_and_qa_files_ignored(tmp_path: Path) -> None:
    src = BUILDERS["audiosetcaps"](tmp_path)
    result = prepare("audiosetcaps", src, tmp_path / "out")
    rows = {r["clip_id"]: r for r in rows_of(result.files["train"])}
    assert sorted(rows) == ["OxPnZzn1_L8_000883", "Y---1_cCGK4M", "Yabcdefghijk"]
    assert rows["Y---1_cCGK4M"]["caption"] == "A man speaks, then a door closes."
    assert rows["Yabcdefghijk"]["audio"].endswith("audio/AudioSet/abcdefghijk.wav")  # id without the Y prefix
    assert rows["OxPnZzn1_L8_000883"]["subset"] == "VGGSound" and rows["Y---1_cCGK4M"]["youtube_id"] == "---1_cCGK4M"
    assert rows["Y---1_cCGK4M"]["license"].startswith("captions: CC BY 4.0 (AudioSetCaps)")
    assert [(m.clip_id, m.split) for m in result.missing] == [("_7Xe9vD3Hpg_4_10", "train")]
    check_readable(result)


def test_missing_audio_can_fail_and_probing_reports_unreadable_files(tmp_path: Path) -> None:
    src = BUILDERS["urbansound8k"](tmp_path)
    with pytest.raises(ValueError, match="102305-6-0-0"):
        prepare("urbansound8k", src, tmp_path / "strict", fail_on_missing=True)
    assert not (tmp_path / "strict").exists()  # nothing written
    assert not list(tmp_path.glob(".*prepare-*"))  # and the staging folder is gone
    (src / "audio" / "fold5" / "100263-2-0-117.wav").write_bytes(b"not audio")
    result = prepare("urbansound8k", src, tmp_path / "probed", probe=True)
    assert rows_of(result.files["train"])[0]["duration"] == "0.4"
    assert sorted(m.clip_id for m in result.missing) == ["100263-2-0-117", "102305-6-0-0"]
    assert "cannot decode" in {m.clip_id: m.reason for m in result.missing}["100263-2-0-117"]
    assert not list(tmp_path.glob(".*prepare-*"))


def test_layout_errors_name_the_expected_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for name in CONVERTERS:
        with pytest.raises(LayoutError) as err:
            prepare(name, tmp_path / "empty", tmp_path / "out")
        assert "expected layout" in str(err.value), name
    with pytest.raises(LayoutError, match="source folder not found"):
        prepare("clotho", tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(ValueError, match="unknown dataset"):
        prepare("esc-51", tmp_path / "empty", tmp_path / "out")


def test_audio_dir_option_and_rerun_replaces_old_manifests(tmp_path: Path) -> None:
    src = BUILDERS["audiocaps"](tmp_path)
    elsewhere = tmp_path / "downloads"
    (src / "audio").rename(elsewhere)
    result = prepare("audiocaps", src, tmp_path / "out", audio_dir=str(elsewhere))
    assert len(result.missing) == 1 and rows_of(result.files["train"])
    again = prepare("audiocaps", src, tmp_path / "out", audio_dir=str(elsewhere), splits=["test"])
    assert sorted(p.name for p in (tmp_path / "out").glob("*.csv")) == ["test.csv"]  # no stale train/validation
    assert again.missing == [] and not (tmp_path / "out" / "missing.csv").exists()


def test_youtube_stems_cover_the_download_conventions() -> None:
    assert youtube_stems("abc", "30") == ["abc_30", "abc_30.0", "abc_30.000", "abc_000030", "abc_30000", "Yabc", "abc"]
    assert youtube_stems("abc", None, own=["Yabc"], extra=["123"]) == ["Yabc", "abc", "123"]


def test_cli_prepare_and_list(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = BUILDERS["macs"](tmp_path)
    assert main(["prepare", "macs", str(src), "--out", str(tmp_path / "out"), "--max-captions-per-clip", "1"]) == 0
    out = capsys.readouterr().out
    assert "macs train: 2 caption rows, 2 clips" in out
    assert "1 clip(s) (1 caption rows) listed in the metadata had no readable audio" in out
    assert "public_square-lyon-1-28-a" in out
    assert main(["prepare", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in CONVERTERS)
    assert main(["prepare", "macs", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "source folder not found" in capsys.readouterr().err


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="format"):
        PrepareOptions(format="parquet")
    with pytest.raises(ValueError, match="split"):
        PrepareOptions(splits=["holdout"])
    assert PrepareOptions(splits=["val"]).splits == ["validation"]
