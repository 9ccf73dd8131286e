"""What the search cache buys: `wavlink search FOLDER QUERY` over N generated clips, run as a user runs it (a whole
process each time), with an empty cache (every clip embedded), with a warm cache (nothing embedded), and after
touching a few clips (only those re-embedded); the ratio first / second is the figure docs/bench_search_cache.md
records.

    python scripts/bench_search_cache.py                       # the default model, 320 clips of 5 s
    python scripts/bench_search_cache.py --model tiny --clips 64

The model is resolved once here and passed as a folder, and the cache goes to a throw-away $WAVLINK_CACHE, so
the user's own caches are neither read nor written. The clips are deterministic noise-and-tone mixtures.
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

import numpy as np


def write_clips(folder: Path, n: int, seconds: float, sr: int = 16000) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        tone = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 6000, size=3)) / 3
        wave = 0.3 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t)) + 0.02 * rng.standard_normal(
            t.shape)
        sf.write(folder / f"clip_{i:04d}.wav", wave.astype(np.float32), sr)


def model_folder(spec: str, into: Path) -> str:
    """A model folder for --model: 'default' (the package's default model), 'tiny' (created here) or a path."""
    if spec == "default":
        from wavlink.builders.default_model import default_model_dir

        return str(default_model_dir())
    if spec == "tiny":
        out = into / "tiny-model"
        subprocess.run([sys.executable, "-m", "wavlink", "create", "--preset", "tiny-random", "--out", str(out)],
                       check=True, capture_output=True)
        return str(out)
    return spec


def timed_search(folder: Path, model: str, env: dict[str, str], *extra: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "wavlink", "search", str(folder), "a dog barking", "--model", model,
                           *extra], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"search failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    note = next((line for line in proc.stderr.splitlines() if line.startswith("search cache:")), "(nothing embedded)")
    return wall, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="default | tiny | a model folder")
    parser.add_argument("--clips", type=int, default=320)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3, help="warm-cache runs (the median is reported)")
    parser.add_argument("--touch", type=int, default=8, help="clips rewritten before the last run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-cache-") as tmp:
        tmp_path = Path(tmp)
        folder = tmp_path / "sounds"
        folder.mkdir()
        write_clips(folder, args.clips, args.seconds)
        model = model_folder(args.model, tmp_path)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "WAVLINK_CACHE": str(tmp_path / "cache")}
        help_wall = min(_help_time(env) for _ in range(3))
        first, first_note = timed_search(folder, model, env)
        warm = [timed_search(folder, model, env)[0] for _ in range(args.runs)]
        for i in range(min(args.touch, args.clips)):
            path = folder / f"clip_{i:04d}.wav"
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        touched, touched_note = timed_search(folder, model, env)
        uncached, _ = timed_search(folder, model, env, "--no-cache")
    second = statistics.median(warm)
    print(f"model: {args.model} ({model})")
    print(f"{args.clips} clips of {args.seconds:g} s; {os.cpu_count()} CPU(s) visible; torch threads default")
    print(f"wavlink search --help (start-up, best of 3): {help_wall:.2f} s")
    print(f"first search (empty cache):      {first:7.2f} s   {first_note}")
    print(f"second search (warm cache):      {second:7.2f} s   median of {args.runs}: "
          + ", ".join(f"{w:.2f}" for w in warm))
    print(f"after touching {args.touch} clips:        {touched:7.2f} s   {touched_note}")
    print(f"--no-cache:                      {uncached:7.2f} s")
    print(f"ratio first / second: {first / second:.1f}x")


def _help_time(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wavlink", "search", "--help"], env=env, capture_output=True, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
