"""`evaluation.runner` behind `wavlink eval` and scripts/run_eval.py: the printed table and progress, the
Matryoshka and quantisation sweeps, both families end to end, and bad input as one-line errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import (
    CLASSES,
    REPO,
    RETRIEVAL_KEYS,
    check_card_reader,
    check_classification,
    check_plot,
    run_eval,
    write_clip,
    write_csv,
)

from wavlink import cli
from wavlink.evaluation.quantization import bytes_per_clip
from wavlink.evaluation.sets import ClassificationSet, RetrievalSet


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
