"""Finetuning under bad input and faults (issue 25, items 5, 10, 12, 13): nothing of a finished run is
overwritten, every bad clip and manifest is reported before the model loads (and skipped under
--on-bad-audio skip), and a full disk during a checkpoint is a one-line error that keeps the previous one."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavlink.cli import main
from wavlink.training.synthetic import make_toy_dataset

FAST = ["--max-steps", "2", "--batch-size", "4", "--num-workers", "0", "--val-fraction", "0", "--min-steps", "0",
        "--set", "progress=false"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random", seed=0)
    return save_model_folder(model, processor, tmp_path_factory.mktemp("base") / "tiny")


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """3 kinds x 3 clips, no validation split."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), per_kind=3, val_per_kind=0,
                            kinds=("a low hum", "white noise", "clicks"), seed=1)


@pytest.fixture
def no_model_load(monkeypatch):
    """Fails the test if the trainer gets as far as loading the model."""
    import wavlink.training.trainer as trainer

    monkeypatch.setattr(trainer, "load_training_model", lambda *a, **k: pytest.fail("the model was loaded"))


def _finetune(base: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["finetune", "--model", str(base), "--data", str(data), "--out", str(out), *FAST, *extra])


def _with_rows(toy: Path, tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    """The toy manifest plus `rows` (absolute audio paths), in tmp_path."""
    lines = toy.read_text().splitlines()
    text = "\n".join([lines[0]] + [line.replace("audio/", f"{toy.parent}/audio/", 1) for line in lines[1:]])
    text += "".join(f"\n{audio},{caption},train" for audio, caption in rows) + "\n"
    out = tmp_path / "data.csv"
    out.write_text(text)
    return out


# ------------------------------------------------------------------------------- item 5: nothing overwritten


def test_a_finished_adapter_folder_is_not_overwritten(base, toy, tmp_path, capsys) -> None:
    out = tmp_path / "adapter"
    assert _finetune(base, toy, out) == 0
    log, config = (out / "log.jsonl").read_bytes(), (out / "train_config.json").read_bytes()
    adapter = (out / "adapter_model.safetensors").read_bytes()
    assert len(log.splitlines()) >= 2
    for extra in ([], ["--resume", "latest"]):
        capsys.readouterr()
        assert _finetune(base, toy, out, *extra) == 2
        err = capsys.readouterr().err
        assert ("is not empty" in err or "holds a finished run" in err) and "--overwrite" in err, err
        assert "Traceback" not in err
        assert (out / "log.jsonl").read_bytes() == log and (out / "train_config.json").read_bytes() == config
        assert (out / "adapter_model.safetensors").read_bytes() == adapter
    assert _finetune(base, toy, out, "--overwrite", "--seed", "1") == 0  # asked for: replaced
    assert (out / "adapter_model.safetensors").read_bytes() != adapter


# ------------------------------------------------------------------ items 10, 6: every bad clip found up front


def test_nan_and_truncated_clips_are_found_before_the_model_loads(base, toy, tmp_path, capsys,
                                                                  no_model_load) -> None:
    nan = tmp_path / "nan.wav"
    wave = np.sin(np.linspace(0, 300, 16000)).astype(np.float32)
    wave[8000] = np.nan
    sf.write(nan, wave, 16000, subtype="FLOAT")
    cut = tmp_path / "cut.wav"
    sf.write(cut, wave[:4000] * 0 + 0.1, 16000, subtype="PCM_16")
    cut.write_bytes(cut.read_bytes()[:1000])  # header: 4000 samples; file: 478
    data = _with_rows(toy, tmp_path, [(str(nan), "a broken clip"), (str(cut), "a cut clip")])
    assert _finetune(base, data, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "nan.wav: audio contains NaN or inf" in err and "data.csv line 11" in err
    assert "cut.wav: truncated file" in err and "data.csv line 12" in err
    assert "--on-bad-audio skip" in err and "Traceback" not in err


def test_skip_drops_every_kind_of_bad_clip_and_counts_them(base, toy, tmp_path, capsys) -> None:
    nan = tmp_path / "inf.wav"
    wave = np.sin(np.linspace(0, 300, 16000)).astype(np.float32)
    wave[-1] = np.inf
    sf.write(nan, wave, 16000, subtype="FLOAT")
    data = _with_rows(toy, tmp_path, [(str(nan), "a broken clip"), (str(tmp_path / "gone.wav"), "a missing clip")])
    out = tmp_path / "out"
    assert _finetune(base, data, out, "--on-bad-audio", "skip") == 0
    report = json.loads((out / "data_report.json").read_text())[0]
    assert report["skipped_pairs"] == 2 and report["n_pairs"] == 11
    assert sorted(p["reason"].split(" (")[0] for p in report["problems"]) == ["audio contains NaN or inf",
                                                                             "file not found"]


# ----------------------------------------------------------- item 12: manifests checked before the model loads


def test_manifest_errors_name_file_and_line_before_the_model_loads(base, toy, tmp_path, capsys,
                                                                   no_model_load) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"audio,caption\n" + f"{toy.parent}/audio/0_0.wav,a caf".encode() + b"\xe9\n")
    assert _finetune(base, latin, tmp_path / "o1") == 2
    err = capsys.readouterr().err
    assert f"{latin} line 2: not UTF-8 text (byte 0xe9" in err and "save the manifest as UTF-8" in err
    columns = tmp_path / "columns.csv"
    columns.write_text(f"audio,description\n{toy.parent}/audio/0_0.wav,hello\n")
    assert _finetune(base, columns, tmp_path / "o2") == 2
    assert "missing column(s) 'caption'" in capsys.readouterr().err
    missing = _with_rows(toy, tmp_path, [(str(tmp_path / "nowhere.wav"), "a missing clip")])
    assert _finetune(base, missing, tmp_path / "o3") == 2
    err = capsys.readouterr().err
    assert "nowhere.wav: file not found" in err and "data.csv line 11" in err
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"audio": "a.wav", "caption": "x"}\n{"audio": "b.wav", "caption": \n')
    assert _finetune(base, jsonl, tmp_path / "o4") == 2
    assert "bad.jsonl line 2: invalid JSON" in capsys.readouterr().err


# ------------------------------------------------------------------------- item 13: a full disk at a checkpoint


def test_a_full_disk_at_a_checkpoint_keeps_the_previous_one(base, toy, tmp_path, capsys, monkeypatch) -> None:
    import torch

    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):  # what PyTorch's zip writer raises when the disk fills up
        if "step-00000002" in str(f):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing "
                               "file data/0: file write failed")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    out = tmp_path / "run"
    args = ["--max-steps", "3", "--set", "save_every=1"]
    assert _finetune(base, toy, out, *args) == 1
    err = capsys.readouterr().err
    assert "checkpoint write failed at step 2 (no space left on device?" in err and "MB free there" in err
    assert "checkpoints/step-00000001 is intact" in err and "--resume latest" in err and "Traceback" not in err
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert checkpoints == ["step-00000001"]  # the partial one is gone, the previous one kept
    monkeypatch.setattr(torch, "save", real_save)  # space freed: the run continues from step 1
    capsys.readouterr()
    assert _finetune(base, toy, out, *args, "--resume", "latest") == 0
    assert "resumed from" in capsys.readouterr().out
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()
            if json.loads(x)["type"] == "train"] == [1, 2, 3]
