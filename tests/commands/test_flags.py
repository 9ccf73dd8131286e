"""Every numeric flag of every command is checked when the command line is parsed (issue 25, item 7): a bad
value is a one-line usage error naming the flag, before any model is loaded or file read. And the flags every
model-loading command shares: `--revision` and `--dtype` reach the loader, and a revision of a local folder is
refused."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from wavlink.cli import build_parser, main
from wavlink.commands._common import Number
from wavlink.inference import Embedder


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _numeric_flags() -> list[tuple[str, str, Number]]:
    return [(command, action.option_strings[0], action.type)
            for command, sub in _subparsers().items() for action in sub._actions
            if action.option_strings and isinstance(action.type, Number)]


def _bad_values(kind: Number) -> list[str]:
    bad = ["abc", "nan", "inf", "1e999"] if kind.kind is float else ["abc", "1.5", ""]
    if kind.low is not None:
        bad.append(str(kind.low if kind.low_open else kind.low - 1))
    if kind.high is not None:
        bad.append(str(kind.high if kind.high_open else kind.high + 1))
    return bad


def test_no_numeric_flag_is_a_bare_int_or_float() -> None:
    """A plain `type=int` accepts -1 (the issue's `--top-k -1` printed an empty table)."""
    bare = [(command, action.option_strings) for command, sub in _subparsers().items() for action in sub._actions
            if action.type in (int, float) and not action.choices]
    assert bare == []
    assert len(_numeric_flags()) >= 30


@pytest.mark.parametrize(("command", "flag", "kind"), _numeric_flags(), ids=lambda x: str(x))
def test_out_of_range_values_are_usage_errors(command: str, flag: str, kind: Number, capsys) -> None:
    for value in _bad_values(kind):
        with pytest.raises(SystemExit) as exit_info:
            main([command, f"{flag}={value}"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: must be {kind.describe()}" in err, err
        assert "Traceback" not in err


def test_the_issue_examples_fail_before_any_model_is_loaded(tmp_path, capsys, monkeypatch) -> None:
    import wavlink.inference

    monkeypatch.setattr(wavlink.inference.Embedder, "load", lambda *a, **k: pytest.fail("model loaded"))
    for argv in (["classify", "x.wav", "--labels", "a,b", "--top-k", "-1"],
                 ["search", str(tmp_path), "q", "--top-k", "0"],
                 ["finetune", "--model", "m", "--data", "d.csv", "--out", "o", "--lr", "nan"],
                 ["finetune", "--model", "m", "--data", "d.csv", "--out", "o", "--val-fraction", "1"],
                 ["app", "--port", "70000"], ["embed", "--text", "a", "--out", "x.npy", "--batch-size", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert "must be" in capsys.readouterr().err


def test_good_values_still_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["finetune", "--model", "m", "--data", "d.csv", "--out", "o", "--lr", "3e-4",
                              "--val-fraction", "0", "--min-steps", "0", "--num-workers", "0", "--lora-alpha", "16"])
    assert (args.lr, args.val_fraction, args.min_steps, args.num_workers, args.lora_alpha) == (3e-4, 0.0, 0, 0, 16.0)
    assert parser.parse_args(["search", "f", "q", "--top-k", "1"]).top_k == 1


MODEL_COMMANDS = ["embed", "classify", "search", "eval"]


def test_every_model_loading_command_takes_revision_and_dtype() -> None:
    from wavlink.cli import build_parser

    parser = build_parser()
    required = {"embed": ["x.wav", "--out", "x.npy"], "classify": ["x.wav", "--labels", "a"],
                "search": ["folder", "q"], "eval": ["--task", "esc50", "--data", "d"]}
    for command in MODEL_COMMANDS:
        args = parser.parse_args([command, *required[command], "--model", "org/name", "--revision", "v1",
                                  "--dtype", "bfloat16"])
        assert (args.revision, args.dtype) == ("v1", "bfloat16"), command
        with pytest.raises(SystemExit):
            parser.parse_args([command, *required[command], "--dtype", "float64"])


def test_dtype_loads_the_weights_in_that_precision(model_dir: Path, tmp_path: Path) -> None:
    texts = ["a dog barking", "rain on a roof"]
    out = tmp_path / "bf16.npy"
    assert main(["embed", "--text", *texts, "--model", str(model_dir), "--out", str(out), "--dtype", "bfloat16"]) == 0
    bf16 = Embedder.load(model_dir, dtype=torch.bfloat16)
    assert bf16.model.dtype == torch.bfloat16 and bf16.load_options == {"dtype": "bfloat16"}
    np.testing.assert_allclose(np.load(out), bf16.encode_text(texts), atol=1e-6)
    full = Embedder.load(model_dir).encode_text(texts)
    assert not np.allclose(np.load(out), full, atol=1e-4)  # really computed in bfloat16 ...
    np.testing.assert_allclose(np.load(out), full, atol=0.05)  # ... and still the same model


def test_revision_and_dtype_reach_from_pretrained_for_hub_ids(model_dir: Path, sounds: Path, capsys,
                                                               monkeypatch) -> None:
    import transformers

    calls: list[tuple[str, str, dict]] = []

    def fake(cls_name: str, real):
        def from_pretrained(source, **kwargs):  # records the call, then loads the local tiny folder
            calls.append((cls_name, source, dict(kwargs)))
            kwargs.pop("revision", None)
            return real(str(model_dir), **kwargs)
        return from_pretrained

    for name in ("AutoModel", "AutoProcessor"):
        cls = getattr(transformers, name)
        monkeypatch.setattr(cls, "from_pretrained", fake(name, cls.from_pretrained))
    import wavlink.inference
    import wavlink.trust

    real_config = wavlink.trust.read_config_dict

    def config_dict(source, revision=None):  # the trust decision reads config.json at the same revision
        calls.append(("config.json", source, {"revision": revision}))
        return real_config(model_dir)

    for module in (wavlink.trust, wavlink.inference):  # the loader's own reference too
        monkeypatch.setattr(module, "read_config_dict", config_dict)
    assert main(["search", str(sounds), "a tone", "--model", "some-org/tiny", "--revision", "v1.0",
                 "--dtype", "float16", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["results"]) == 3
    assert calls.pop(0) == ("config.json", "some-org/tiny", {"revision": "v1.0"})
    assert [(n, s) for n, s, _ in calls] == [("AutoModel", "some-org/tiny"), ("AutoProcessor", "some-org/tiny")]
    assert calls[0][2]["revision"] == calls[1][2]["revision"] == "v1.0"
    assert calls[0][2]["dtype"] == torch.float16 and "dtype" not in calls[1][2]


def test_revision_of_a_local_folder_is_an_error(model_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["embed", "--text", "a", "--model", str(model_dir), "--revision", "v1",
                 "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "selects a version of a Hub repo" in err and "local folder" in err and "Traceback" not in err
