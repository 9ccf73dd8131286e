"""Every numeric flag of every command is checked when the command line is parsed (issue 25, item 7): a bad
value is a one-line usage error naming the flag, before any model is loaded or file read."""

from __future__ import annotations

import argparse

import pytest

from wavlink.cli import build_parser, main
from wavlink.commands._common import Number


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
