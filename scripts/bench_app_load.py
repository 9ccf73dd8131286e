"""Memory and failures of `wavlink app` under load: many engine calls in-process, then many HTTP calls with
many clients at once against a real `wavlink app` server on 127.0.0.1 (docs/reliability.md has the figures).

    python scripts/bench_app_load.py                                  # tiny random model, 2,000 + 2,000 calls
    python scripts/bench_app_load.py --http-calls 10000 --concurrency 200 --json out.json
    python scripts/bench_app_load.py --model out/base --folder ~/sounds
    PYTHONPATH=../old-checkout python scripts/bench_app_load.py --engine-calls 0 --api wrapper wrapper_2  # before

Engine phase: `AppEngine.search` / `classify` alternately, RSS of this process before and after (after a warm-up).
HTTP phase: the server runs `python -m wavlink app` in a child process; clients call the search and classify
endpoints through Gradio's HTTP API (POST /gradio_api/call/<api>, then read the event stream), `--concurrency`
at a time, and a classify call uploads its clip first, as the browser does. The server's RSS is sampled
throughout; a call fails when the HTTP request errors or the stream ends without a ``complete`` event.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

WARMUP = 200


def _rss_mb(pid: int | None = None) -> float:
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_inputs(root: Path, model: str | None, folder: str | None) -> tuple[str, str]:
    """A tiny random model folder and a folder of 8 short clips unless given."""
    import soundfile as sf

    if model is None:
        from wavlink.builders.folder import save_model_folder
        from wavlink.builders.wavlink import create_model

        m, p = create_model("tiny-random")
        model = str(save_model_folder(m, p, root / "tiny"))
    if folder is None:
        folder_path = root / "clips"
        folder_path.mkdir()
        rng = np.random.default_rng(0)
        for i in range(8):
            t = np.arange(16000 + 2000 * i) / 16000
            wave = 0.2 * np.sin(2 * np.pi * (200 + 150 * i) * t) + 0.02 * rng.standard_normal(t.shape)
            sf.write(folder_path / f"clip{i}.wav", wave.astype(np.float32), 16000)
        (folder_path / "secret.txt").write_text("not for the web")
        folder = str(folder_path)
    return model, folder


def engine_phase(model: str, folder: str, calls: int) -> dict[str, float]:
    from wavlink.app import AppEngine
    from wavlink.inference import Embedder

    engine = AppEngine(Embedder.load(model, device="cpu"), folder=folder)
    clip = engine.files[0]

    def call(i: int) -> None:
        if i % 2:
            engine.search(f"query number {i}", 5)
        else:
            engine.classify(clip, ["dog", "rain", f"label {i % 13}"])

    for i in range(WARMUP):
        call(i)
    gc.collect()
    before, start = _rss_mb(), time.perf_counter()
    for i in range(calls):
        call(i)
    gc.collect()
    after = _rss_mb()
    return {"calls": calls, "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "growth_kb_per_call": round((after - before) * 1024 / calls, 3),
            "seconds": round(time.perf_counter() - start, 1)}


class Client:
    """Gradio's HTTP API, one httpx client per thread."""

    def __init__(self, base: str) -> None:
        import httpx

        self.base = base
        self.local = threading.local()
        self.httpx = httpx

    @property
    def http(self):
        if not hasattr(self.local, "client"):
            self.local.client = self.httpx.Client(timeout=600)
        return self.local.client

    def upload(self, path: str) -> dict:
        with open(path, "rb") as f:
            r = self.http.post(f"{self.base}/gradio_api/upload", files={"files": (Path(path).name, f, "audio/wav")})
        r.raise_for_status()
        server_path = r.json()[0]
        return {"path": server_path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}

    def call(self, api: str, data: list) -> list:
        r = self.http.post(f"{self.base}/gradio_api/call/{api}", json={"data": data})
        r.raise_for_status()
        event_id = r.json()["event_id"]
        event, payload = None, None
        with self.http.stream("GET", f"{self.base}/gradio_api/call/{api}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = line.split(":", 1)[1].strip()
                    break
        if event != "complete":
            raise RuntimeError(f"{api}: {event} {payload}")
        return json.loads(payload)


def http_phase(model: str, folder: str, calls: int, concurrency: int, log: Path, warmup: int = WARMUP,
               api_names: tuple[str | None, str | None] = (None, None)) -> dict[str, object]:
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "wavlink", "app", "--model", model, "--folder", folder,
                                   "--port", str(port), "--device", "cpu"], stdout=out, stderr=subprocess.STDOUT,
                                  env=env)
    base = f"http://127.0.0.1:{port}"
    client = Client(base)
    try:
        deadline = time.time() + 180
        while True:
            try:
                info = client.http.get(f"{base}/gradio_api/info").json()
                break
            except Exception:  # noqa: BLE001  (not up yet)
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"server did not start; see {log}") from None
                time.sleep(0.5)
        apis = sorted(a.lstrip("/") for a in info["named_endpoints"])
        search = api_names[0] or next(a for a in apis if "search" in a)
        classify = api_names[1] or next(a for a in apis if "classify" in a)
        clip = sorted(str(p) for p in Path(folder).rglob("*.wav"))[0]

        def one(i: int) -> float:
            start = time.perf_counter()
            if i % 2:
                client.call(search, [f"query number {i}", 5])
            else:
                client.call(classify, [client.upload(clip), f"dog, rain, label {i % 13}"])
            return time.perf_counter() - start

        with cf.ThreadPoolExecutor(concurrency) as pool:  # warm up at the same concurrency as the run
            list(pool.map(one, range(warmup)))
        time.sleep(1.0)
        before = _rss_mb(server.pid)
        samples: list[float] = [before]
        failures: list[str] = []
        latencies: list[float] = []
        stop = threading.Event()
        curve: list[tuple[int, float]] = []  # (calls done, server RSS MB) at every tenth of the run

        def sample() -> None:
            next_mark = calls // 10
            while not stop.wait(0.5):
                samples.append(_rss_mb(server.pid))
                done = len(latencies) + len(failures)
                if done >= next_mark:
                    curve.append((done, round(samples[-1], 1)))
                    next_mark += calls // 10

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        with cf.ThreadPoolExecutor(concurrency) as pool:
            for future in cf.as_completed([pool.submit(one, i) for i in range(calls)]):
                try:
                    latencies.append(future.result())
                except Exception as err:  # noqa: BLE001  (counted and reported)
                    failures.append(f"{type(err).__name__}: {str(err)[:200]}")
        elapsed = time.perf_counter() - start
        stop.set()
        sampler.join()
        time.sleep(1.0)
        after = _rss_mb(server.pid)
        return {"warmup_calls": warmup, "calls": calls, "concurrency": concurrency, "failed": len(failures),
                "failures": sorted(set(failures))[:5], "seconds": round(elapsed, 1),
                "calls_per_s": round(calls / elapsed, 1),
                "latency_p50_s": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
                "latency_max_s": round(max(latencies), 3) if latencies else None,
                "server_rss_before_mb": round(before, 1), "server_rss_after_mb": round(after, 1),
                "server_rss_max_mb": round(max(samples), 1), "server_rss_curve": curve,
                "growth_kb_per_call": round((after - before) * 1024 / calls, 3),
                # the second half of the run alone: what a long-running server keeps adding per call
                "second_half_growth_kb_per_call": (round((curve[-1][1] - curve[len(curve) // 2][1]) * 1024
                                                         / max(1, curve[-1][0] - curve[len(curve) // 2][0]), 3)
                                                   if len(curve) >= 4 else None)}
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: a tiny random model)")
    parser.add_argument("--folder", default=None, help="folder of audio (default: 8 generated clips)")
    parser.add_argument("--engine-calls", type=int, default=2000, help="0: skip the in-process phase")
    parser.add_argument("--http-calls", type=int, default=2000, help="0: skip the HTTP phase")
    parser.add_argument("--concurrency", type=int, default=50, help="HTTP clients at once")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="HTTP calls before the RSS baseline")
    parser.add_argument("--api", nargs=2, default=(None, None), metavar=("SEARCH", "CLASSIFY"),
                        help="endpoint names (default: the ones named search / classify; an app before those names "
                             "had wrapper and wrapper_2)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="wavlink-app-load-") as tmp:
        model, folder = make_inputs(Path(tmp), args.model, args.folder)
        result: dict[str, object] = {}
        if args.engine_calls:
            result["engine"] = engine_phase(model, folder, args.engine_calls)
            print("engine:", json.dumps(result["engine"]), flush=True)
        if args.http_calls:
            result["http"] = http_phase(model, folder, args.http_calls, args.concurrency, Path(tmp) / "server.log",
                                        warmup=args.warmup, api_names=tuple(args.api))
            print("http:", json.dumps(result["http"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
