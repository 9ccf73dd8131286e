"""Start-up cost of the `wavlink` command line: `wavlink --help`, a subcommand's --help and an argument error,
for this tree and, with --baseline REF, the package as it was at a git commit, run in turns (A B A B ...) so
that a drift of the machine's speed hits both alike.

Each run is a whole process (`python -m wavlink ...`, as the `wavlink` script runs `wavlink.cli.main`); the
figures are wall time and the process's peak RSS (from the kernel's accounting, `os.wait4`), as medians over
--runs runs after one warm-up run each, and the ratio this tree / baseline of the paired runs' medians.

    python scripts/bench_startup.py --baseline 96038c1 --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "wavlink --help": ["--help"],
    "wavlink embed --help": ["embed", "--help"],
    "wavlink embed (argument error)": ["embed"],
}


def run_once(argv: list[str], pythonpath: str | None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `python -m wavlink ARGV` process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "wavlink", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"python -m wavlink {' '.join(argv)} exited {proc.returncode}")
    return wall, usage.ru_maxrss / 1024.0


def checkout(ref: str, into: Path) -> str:
    """The `wavlink` package as it was at `ref`, extracted under `into` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "archive", ref, "wavlink"], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(into)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=None, help="git commit to compare against (default: none)")
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each command (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"this tree": None}
        if args.baseline:
            sides[f"baseline {args.baseline}"] = checkout(args.baseline, Path(tmp))
        print(f"python {sys.version.split()[0]}, {args.runs} runs after 1 warm-up, medians (min-max)\n")
        print("| command | " + " | ".join(f"{s}: wall s | {s}: peak RSS MB" for s in sides)
              + (" | wall ratio (this / baseline) |" if args.baseline else " |"))
        print("|---" * (1 + 2 * len(sides) + (1 if args.baseline else 0)) + "|")
        for name, case in CASES.items():
            results: dict[str, list[tuple[float, float]]] = {s: [] for s in sides}
            for path in sides.values():
                run_once(case, path)  # warm-up: file caches, .pyc
            for _ in range(args.runs):
                for side, path in sides.items():
                    results[side].append(run_once(case, path))
            cells = []
            for side in sides:
                walls, rss = [r[0] for r in results[side]], [r[1] for r in results[side]]
                cells += [f"{statistics.median(walls):.3f} ({min(walls):.3f}-{max(walls):.3f})",
                          f"{statistics.median(rss):.0f}"]
            row = f"| {name} | " + " | ".join(cells)
            if args.baseline:
                base = results[f"baseline {args.baseline}"]
                ratios = [a[0] / b[0] for a, b in zip(results["this tree"], base)]
                row += f" | {statistics.median(ratios):.3f}"
            print(row + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
