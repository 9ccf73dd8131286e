"""Peak memory of embedding one long file with `wavlink embed` (docs/reliability.md has the figures).

    python scripts/bench_long_audio.py                    # a generated 1-hour 44.1 kHz stereo FLAC, tiny model
    python scripts/bench_long_audio.py --minutes 10 --also-whole-file
    python scripts/bench_long_audio.py --file talk.flac --model out/base

Each run is a fresh `python -m wavlink embed` process; its peak RSS is read with getrusage. The baseline is the
same process embedding one text (interpreter, torch, model). ``--also-whole-file`` also runs the processor path
(WAVLINK_STREAM_LONG_AUDIO=0: the file decoded whole), to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_file(path: Path, minutes: float, rate: int = 44100) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as f:
        for start in range(0, int(minutes * 60), 10):
            t = (np.arange(rate * 10) + start * rate) / rate
            x = 0.3 * np.sin(2 * np.pi * (220 + start % 600) * t) + 0.01 * rng.standard_normal(t.shape)
            f.write(np.stack([x, 0.5 * x], 1).astype(np.float32))


def peak_of(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS MB, seconds) of one child process (getrusage of a fresh child: each run is measured alone)."""
    code = ("import resource, subprocess, sys, json, time; t = time.time(); "
            "p = subprocess.run(sys.argv[1:]); "
            "print(json.dumps([p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
            "time.time() - t]))")
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    rc, peak, seconds = json.loads(out.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise RuntimeError(f"{args} failed ({rc}): {out.stderr[-2000:]}")
    return peak, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=None, help="audio file (default: a generated one)")
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the generated file")
    parser.add_argument("--model", default=None, help="model folder (default: a tiny random model)")
    parser.add_argument("--also-whole-file", action="store_true", help="also measure the whole-file path")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="wavlink-long-") as tmp:
        root = Path(tmp)
        model = args.model
        if model is None:
            from wavlink.builders.folder import save_model_folder
            from wavlink.builders.wavlink import create_model

            m, p = create_model("tiny-random")
            model = str(save_model_folder(m, p, root / "tiny"))
        audio = args.file
        if audio is None:
            audio = str(root / "long.flac")
            start = time.time()
            make_file(Path(audio), args.minutes)
            print(f"generated {args.minutes:g} min of 44.1 kHz stereo in {time.time() - start:.0f} s", flush=True)
        import soundfile as sf

        info = sf.info(audio)
        embed = [sys.executable, "-m", "wavlink", "embed", "--model", model]
        result: dict[str, object] = {"file_seconds": round(info.duration, 1), "rate": info.samplerate,
                                     "channels": info.channels}
        result["baseline_peak_mb"], _ = peak_of([*embed, "--text", "a", "--out", str(root / "t.npy")], env)
        peak, seconds = peak_of([*embed, audio, "--out", str(root / "s.npy")], env)
        result.update(streamed_peak_mb=round(peak, 1), streamed_seconds=round(seconds, 1))
        if args.also_whole_file:
            peak, seconds = peak_of([*embed, audio, "--out", str(root / "w.npy")],
                                    {**env, "WAVLINK_STREAM_LONG_AUDIO": "0"})
            result.update(whole_file_peak_mb=round(peak, 1), whole_file_seconds=round(seconds, 1),
                          max_abs_difference=float(np.abs(np.load(root / "s.npy") - np.load(root / "w.npy")).max()))
        print(json.dumps(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
