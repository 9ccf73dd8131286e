"""Benchmark of the index types `wavlink index` chooses between, on synthetic embeddings.

    nice -n 15 .venv/bin/python scripts/bench_index.py [--n 100000] [--dim 512] [--threads 1] [--out docs/bench_index.md]

100k L2-normalised vectors drawn around 2,000 random centres (so neighbours are meaningful, as with real audio
embeddings); 1,000 queries are noisy copies of held-out points. For each index (`wavlink.index.make_index`, the
code the command uses): build time, recall@10 against exact inner-product search, and query latency (one query
at a time, median and p95, and the batched throughput of all 1,000 queries).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def synthetic(n: int, dim: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2000, dim)).astype(np.float32)
    points = centres[rng.integers(len(centres), size=n + n_queries)] + 0.6 * rng.standard_normal(
        (n + n_queries, dim)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    base, held = points[:n], points[n:]
    queries = held + 0.1 * rng.standard_normal(held.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return np.ascontiguousarray(base), np.ascontiguousarray(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="write the results table (markdown) here")
    args = parser.parse_args()

    import faiss

    from wavlink.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, make_index

    faiss.omp_set_num_threads(args.threads)
    base, queries = synthetic(args.n, args.dim, args.queries)
    exact = faiss.IndexFlatIP(args.dim)
    exact.add(base)
    _, truth = exact.search(queries, 10)
    rows = []
    for label, kind, int8 in [("flat (exact)", "flat", False), ("flat int8 (SQ8)", "flat", True),
                              ("HNSW", "hnsw", False), ("HNSW int8 (HNSW-SQ8)", "hnsw", True)]:
        start = time.perf_counter()
        index, _ = make_index(base, int8=int8, index_type=kind)
        build = time.perf_counter() - start
        _, found = index.search(queries, 10)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)]))
        single = []
        for q in queries[:200]:
            t = time.perf_counter()
            index.search(q[None], 10)
            single.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.search(queries, 10)
        batch = time.perf_counter() - t
        size = faiss.serialize_index(index).nbytes / 2**20
        row = (label, build, recall, 1e3 * float(np.median(single)), 1e3 * float(np.percentile(single, 95)),
               len(queries) / batch, size)
        rows.append(row)
        print(f"{label:22s} build {build:7.2f} s  recall@10 {recall:.4f}  query median {row[3]:.3f} ms "
              f"p95 {row[4]:.3f} ms  batched {row[5]:.0f} q/s  size {size:.1f} MiB", flush=True)
    if args.out:
        lines = [
            "# Index benchmark (`scripts/bench_index.py`)", "",
            f"{args.n:,} synthetic L2-normalised {args.dim}-d vectors (2,000 clusters), {args.queries:,} noisy "
            f"held-out queries; recall@10 against exact inner-product search; FAISS {faiss.__version__}, "
            f"{args.threads} thread(s), {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs (shared with a running training job, under `nice -n 15`, so latencies are "
            f"upper bounds). HNSW: M={HNSW_M}, efConstruction={HNSW_EF_CONSTRUCTION}, efSearch={HNSW_EF_SEARCH}.",
            "",
            "| index | build (s) | recall@10 | query median (ms) | query p95 (ms) | batched (queries/s) | size (MiB) |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {r[0]} | {r[1]:.2f} | {r[2]:.4f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.0f} | {r[6]:.1f} |"
                  for r in rows]
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
