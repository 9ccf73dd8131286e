"""`wavlink finetune` as a new user meets it: --model defaults to the default model, --help shows every default,
a validation set too small to mean anything is warned about (and the summary says its size), and the libraries'
FutureWarnings stay off the terminal."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from wavlink.cli import build_parser, main
from wavlink.defaults import FINETUNE_BATCH_SIZE, FINETUNE_EPOCHS, FINETUNE_LORA_LR, FINETUNE_MIN_STEPS

FAST = ["--max-steps", "1", "--batch-size", "4", "--num-workers", "0", "--min-steps", "0", "--set", "progress=false"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 kinds x (3 train + 1 validation) clips: a validation split of 3 clips."""
    from wavlink.training.synthetic import make_toy_dataset

    return make_toy_dataset(tmp_path_factory.mktemp("ft-toy"), per_kind=3, val_per_kind=1,
                            kinds=("a low hum", "white noise", "clicks"), seed=1)


def test_help_shows_every_default(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for flag, value in [("--lr", FINETUNE_LORA_LR), ("--batch-size", FINETUNE_BATCH_SIZE), ("--lora-r", 8),
                        ("--epochs", FINETUNE_EPOCHS), ("--min-steps", FINETUNE_MIN_STEPS),
                        ("--val-fraction", 0.1), ("--seed", 0), ("--max-train-seconds", 10.0)]:
        assert re.search(rf"{flag} \S+ .*?\(default: {re.escape(str(value))}\)", out), (flag, value)
    # every option that takes a value names its default, once
    sub = build_parser()._subparsers._group_actions[0].choices["finetune"]
    helps = {a.dest: sub._get_formatter()._get_help_string(a) for a in sub._actions}
    for action in sub._actions:
        if action.option_strings and action.nargs != 0 and action.dest not in ("help", "set", "data", "out"):
            assert helps[action.dest].count("(default:") == 1, (action.dest, helps[action.dest])
    assert "(default: None)" not in out
    assert "--model MODEL model folder or Hub id, WavLink or OmniAudioEmbedder (default: the package's default" in out


def test_model_defaults_to_the_default_model_and_a_small_validation_set_is_warned_about(
        model_dir: Path, toy: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import wavlink.builders.default_model as default_model

    monkeypatch.setattr(default_model, "default_model_dir", lambda: model_dir)  # the default model, tiny here
    assert main(["finetune", "--data", str(toy), "--out", str(tmp_path / "adapter"), *FAST]) == 0
    out = capsys.readouterr().out
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())[
        "base_model_name_or_path"] == str(model_dir)
    assert "warning: the validation set has only 3 clip(s), too few for recall figures to mean anything" in out
    assert "validation (3 held-out clips, 3 captions)   before -> after" in out
    summary = json.loads(out[out.index("{"):])
    assert summary["validation"]["n_clips"] == 3.0


def test_no_warning_from_twenty_clips_on() -> None:
    from wavlink.commands.finetune import validation_summary

    metrics = {"t2a_R@1": 0.5, "a2t_R@1": 0.4, "n_clips": 20.0, "n_captions": 40.0}
    text = validation_summary(metrics, metrics)
    assert "warning" not in text and "validation (20 held-out clips, 40 captions)" in text
    assert "only 19 clip(s)" in validation_summary(metrics, {**metrics, "n_clips": 19.0})


@pytest.mark.parametrize("verbose", [False, True])
def test_library_future_warnings_are_silenced(model_dir: Path, toy: Path, tmp_path: Path, monkeypatch,
                                              verbose: bool) -> None:
    import importlib

    finetune_module = importlib.import_module("wavlink.training.finetune")  # the package re-exports the function
    real = finetune_module.train

    def noisy(*args, **kwargs):
        warnings.warn("`foo` is deprecated and will be removed in v6", FutureWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(finetune_module, "train", noisy)
    if verbose:
        monkeypatch.setenv("WAVLINK_VERBOSE", "1")
    else:
        monkeypatch.delenv("WAVLINK_VERBOSE", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["finetune", "--model", str(model_dir), "--data", str(toy), "--out", str(tmp_path / "a"), *FAST,
                     "--val-fraction", "0"]) == 0
    future = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert bool(future) == verbose
