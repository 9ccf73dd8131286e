"""`wavlink demo` on a given model folder."""

from __future__ import annotations

from pathlib import Path

from wavlink.cli import main


def test_demo_runs_on_a_given_model(model_dir: Path, capsys) -> None:
    assert main(["demo", "--model", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "text-to-audio search" in out and "top-1 correct:" in out
