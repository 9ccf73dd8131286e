"""scripts/bench_embed.py: its report functions, defaults and a run over both families."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from eval_helpers import REPO


def test_bench_report_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_embed", REPO / "scripts" / "bench_embed.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_embed", bench)  # dataclasses resolve annotations through it
    spec.loader.exec_module(bench)
    rows = [bench.Row("wavlink:base", "WavLink", 1, 10.0, 100.0, 90.0, 180.0, 10.0, 5.0, 80.0),
            bench.Row("clap-htsat-unfused", "CLAP", 1, 10.0, 200.0, 190.0, 380.0, 5.0, 9.0, 108.0),
            bench.Row("whisper-base-30s", "Whisper", 1, 10.0, 400.0, 390.0, 780.0, 2.5, 1.0, 79.0)]
    assert bench.ratios(rows, "wavlink:base") == [(1, 10.0, 0.5, 0.25)]
    table = bench.markdown(rows, "wavlink:base", "python scripts/bench_embed.py", 3)
    assert "| wavlink:base | 1 | 10.0 | 100.0 |" in table and "0.50x" in table and "0.25x" in table
    assert bench.expand_presets("base,omni:m1,base") == ["wavlink:base", "omni:m1"]
    assert bench.make_clip(1.0, 48000).shape == (48000,)
    other = bench.markdown(rows + [bench.Row("omni:m1", "OmniAudioEmbedder", 1, 10.0, 400.0, 390.0, 780.0, 2.5,
                                             3.0, 4000.0)], "wavlink:base", "cmd", 3)
    assert "| omni:m1 | 1 | 10 | 2.00x | 1.00x |" in other  # every preset gets its ratios, not only the target
    # --budget-s estimate: last batch-1 ms/clip scaled to the clip length x batch x (repeats + warm-up)
    a, b = (bench.System(n, "F", 16000, None, None, 0) for n in ("a", "b"))
    assert bench._cell_estimate([a, b], 8, 30.0, 3, {"a": (100.0, 10.0)}) == pytest.approx(0.1 * 3 * 8 * 4)


def _bench_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("bench_embed", REPO / "scripts" / "bench_embed.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_embed", bench)
    spec.loader.exec_module(bench)
    return bench


def test_bench_defaults_cover_both_families_and_batch_32(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench_module(monkeypatch)
    args = bench.parse_args([])
    assert [int(b) for b in args.batch_sizes.split(",")] == [1, 8, 32]
    assert [float(x) for x in args.lengths.split(",")] == [5.0, 10.0, 30.0]
    systems = bench.expand_presets(args.presets)
    assert {"wavlink:base", "wavlink:small", "wavlink:large", "omni:m1", "omni:m4"} <= set(systems)
    assert not any("tiny-random" in s for s in systems)
    assert args.references == ["clap-htsat-unfused", "whisper-base-30s"]
    assert bench.parse_args(["--references", "clap-htsat-unfused"]).references == ["clap-htsat-unfused"]
    assert bench.parse_args(["--references", "none"]).references == []
    assert bench.parse_args(["--no-references"]).references == []
    with pytest.raises(SystemExit):
        bench.parse_args(["--references", "clap-large"])


def test_bench_runs_both_families(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench_module(monkeypatch)
    out = tmp_path / "bench.md"
    assert bench.main(["--presets", "tiny-random,omni:tiny-random", "--no-references", "--batch-sizes", "1,2",
                       "--lengths", "0.5", "--repeats", "1", "--target", "wavlink:tiny-random",
                       "--out", str(out)]) == 0
    table = out.read_text()
    assert table in capsys.readouterr().out
    for system in ("wavlink:tiny-random", "omni:tiny-random"):
        for batch in (1, 2):
            [row] = [line for line in table.splitlines() if line.startswith(f"| {system} | {batch} | 0.5 |")]
            ms, clips_per_s = (float(x) for x in row.split("|")[4:6])
            assert ms > 0 and clips_per_s > 0
            # clips/s = 1000 / (ms per clip), up to the table's rounding (0.05 ms, 0.005 clips/s)
            assert abs(ms * clips_per_s - 1000) <= 0.05 * clips_per_s + 0.005 * ms + 0.01
    # a spent --budget-s skips (and lists) every remaining measurement instead of running over
    assert bench.main(["--presets", "tiny-random,omni:tiny-random", "--no-references", "--batch-sizes", "1",
                       "--lengths", "0.5", "--repeats", "1", "--budget-s", "0.000001", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith(("| wavlink:", "| omni:"))]
    assert len(rows) == 2 and all(row.endswith("| skipped (--budget-s) |") for row in rows)
