"""FAISS indexes of large audio collections: `build_index` (``wavlink index``) and `SearchIndex`
(``wavlink search --index``).

An index folder holds ``index.faiss``, ``paths.jsonl`` (row i of the index is line i: the clip's absolute path as a
JSON string, so that any file name, newlines and U+2028 included, round-trips), ``meta.json`` (model source,
fingerprints, dim, truncate_dim, dtype, int8, index type) and, while building, ``chunks/``: embeddings saved in
chunks of ``chunk_size`` clips, each written to a temporary file and renamed, so a killed run continues with the
first missing chunk. Under ``accelerate launch`` every process embeds the chunks ``c % world == rank`` and
process 0 merges them once all are there.

Index type (``index_type="auto"``): exact inner product (``IndexFlatIP``; with ``int8``, an
``IndexScalarQuantizer`` with 8-bit codes) up to `EXACT_MAX` = 50,000 clips; HNSW beyond (``IndexHNSWFlat`` /
``IndexHNSWSQ`` 8-bit, M=32, efConstruction 80, efSearch 128). Why 50,000 and HNSW: an exact search reads every
vector, so its latency grows linearly: 23 ms per query at 100k x 512 on one (busy) core, so ~12 ms at 50k,
still affordable for exact answers. Beyond, HNSW answers in ~0.8 ms at recall@10 0.97 (docs/bench_index.md,
100k vectors; 0.95 with int8), needs no training pass (IVF needs k-means on a sample and nprobe tuning,
and its recall depends on both) and its build needs no second pass over the data.
Embeddings are L2-normalised, so inner product is cosine similarity.

Two fingerprints guard a search against another model's query embeddings: ``model_files`` (SHA-256 of the model
folder's config, weights, processor and tokenizer files: `trust.model_files_fingerprint`), checked BEFORE the
query model is loaded, so an index whose ``meta.json`` names some other folder never gets that folder's code
imported; and ``fingerprint`` (architecture + a hash of the weights as loaded, dtype included), checked after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .data.sources import open_source
from .files import atomic_write
from .model_identity import architecture_fingerprint

EXACT_MAX = 50_000
INDEX_TYPES = ("auto", "flat", "hnsw")
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
INDEX_FILE, PATHS_FILE, META_FILE, CHUNKS_DIR = "index.faiss", "paths.jsonl", "meta.json", "chunks"
LEGACY_PATHS_FILE = "paths.txt"  # formats 1-2: one path per line, as given when building (relative to that cwd)
# 2: meta.json carries model_files (the model folder's file fingerprint); 3: paths.jsonl, absolute paths
FORMAT = 3
LOAD_OPTIONS = ("revision", "dtype", "int8")  # what meta["load_options"] may set for the query model


def require_faiss():
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ValueError('indexes need faiss: pip install "wavlink[index]" (faiss-cpu)') from err
    return faiss


def weights_fingerprint(model: Any) -> dict[str, Any]:
    """Architecture (`model_identity.architecture_fingerprint`) plus a hash of the first 4096 values of every
    parameter as loaded: another model, another finetune or another dtype gives another fingerprint."""
    import torch  # lazy: 1.3 s; opening an index and checking its trust need only numpy and FAISS

    digest = hashlib.sha256()
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            digest.update(name.encode())
            digest.update(p.detach().flatten()[:4096].cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return {**architecture_fingerprint(model), "weights_sha256": digest.hexdigest()}


def collection_paths(source: str | os.PathLike, log: Callable[[str], None] | None = None) -> list[str]:
    """Absolute paths of the audio files of a folder (recursively, `inference.list_audio_files`) or of anything
    else the data reader reads as files on disk (a manifest; its audio column, relative to the manifest's folder;
    duplicates once), in a fixed order."""
    from .inference import list_audio_files  # lazy: torch; see weights_fingerprint

    source = os.fspath(source)
    if os.path.isdir(source):
        return list_audio_files(os.path.abspath(source), log=log)
    rows = open_source(os.path.abspath(source))
    if rows.kind not in ("manifest", "folder"):
        raise ValueError(f"{source}: an index is built from audio files on disk: give a folder or a manifest")
    return list(dict.fromkeys(r.audio for r in rows.rows))


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


def make_index(vectors: np.ndarray, int8: bool = False, index_type: str = "auto"):
    """A FAISS inner-product index over L2-normalised `vectors` (see the module docstring for the choice)."""
    faiss = require_faiss()
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {index_type!r}")
    n, d = vectors.shape
    kind = index_type if index_type != "auto" else ("flat" if n <= EXACT_MAX else "hnsw")
    metric = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, metric) if int8 else faiss.IndexFlatIP(d)
    else:
        index = (faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, HNSW_M, metric) if int8
                 else faiss.IndexHNSWFlat(d, HNSW_M, metric))
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if not index.is_trained:  # scalar quantizers learn each dimension's range
        index.train(vectors)
    index.add(vectors)
    return index, kind


def build_index(source: str | os.PathLike, out: str | os.PathLike, embedder: Any, *, model_source: str | None,
                truncate_dim: int | None = None, int8: bool = False, index_type: str = "auto",
                chunk_size: int = 256, progress: bool = True, state: Any = None,
                load_options: dict[str, str] | None = None,
                model_files: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Embed a folder or manifest into an index folder (resumable, multi-process); returns meta (rank 0).

    `model_files` is `trust.model_files_fingerprint` of the model's folder (recorded so that a search can
    refuse another model before loading it). `state` is an `accelerate.PartialState` (None: one process).
    A run with the same paths, model and dim
    continues from the chunks already saved; anything else in ``chunks/`` is an error (choose another --out).
    """
    out = Path(out)
    rank, world = (state.process_index, state.num_processes) if state is not None else (0, 1)
    paths = collection_paths(source)
    fingerprint = weights_fingerprint(embedder.model)
    dim = truncate_dim or embedder.dims[0]
    plan = {"paths_sha256": hashlib.sha256(json.dumps(paths).encode()).hexdigest(), "count": len(paths),
            "fingerprint": fingerprint, "truncate_dim": truncate_dim, "chunk_size": chunk_size}
    chunks = out / CHUNKS_DIR
    chunks.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        plan_file = chunks / "plan.json"
        if plan_file.exists() and json.loads(plan_file.read_text()) != plan:
            raise ValueError(f"{chunks} holds chunks of another build (other files, model, dim or chunk size); "
                             "remove it or choose another --out")
        atomic_write(plan_file, lambda p: p.write_text(json.dumps(plan, indent=2)))
    if state is not None:
        state.wait_for_everyone()
    n_chunks = (len(paths) + chunk_size - 1) // chunk_size
    mine = [c for c in range(n_chunks) if c % world == rank]
    todo = [c for c in mine if not (chunks / f"chunk-{c:06d}.npy").exists()]
    bar = None
    if progress:
        done = sum(min(chunk_size, len(paths) - c * chunk_size) for c in mine if c not in todo)
        total = sum(min(chunk_size, len(paths) - c * chunk_size) for c in mine)
        bar = tqdm(total=total, initial=done, desc=f"embedding{f' (rank {rank})' if world > 1 else ''}",
                   unit="clip", position=rank)
    for c in todo:
        part = paths[c * chunk_size : (c + 1) * chunk_size]
        emb = embedder.encode_audio(part, truncate_dim=truncate_dim).astype(np.float32)
        atomic_write(chunks / f"chunk-{c:06d}.npy", lambda p, emb=emb: _save_npy(p, emb))
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    if state is not None:
        state.wait_for_everyone()
    if rank != 0:
        return None
    vectors = np.concatenate([np.load(chunks / f"chunk-{c:06d}.npy") for c in range(n_chunks)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
    index, kind = make_index(vectors, int8=int8, index_type=index_type)
    faiss = require_faiss()
    atomic_write(out / INDEX_FILE, lambda p: faiss.write_index(index, str(p)))
    atomic_write(out / PATHS_FILE, lambda p: p.write_text(paths_jsonl(paths), encoding="ascii"))
    model = embedder.model
    meta = {"format": FORMAT, "model": model_source, "fingerprint": fingerprint,
            "model_type": getattr(model.config, "model_type", None), "dim": int(vectors.shape[1]),
            "truncate_dim": truncate_dim, "full_dim": int(embedder.dims[0]),
            "dtype": str(next(model.parameters()).dtype).removeprefix("torch."), "int8": bool(int8),
            "index_type": kind, "metric": "inner_product (cosine: embeddings are L2-normalised)",
            "count": len(paths), "source": os.path.abspath(os.fspath(source)),
            "load_options": dict(load_options or {}), "model_files": model_files}
    if kind == "hnsw":
        meta["hnsw"] = {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
    atomic_write(out / META_FILE, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))

    shutil.rmtree(chunks, ignore_errors=True)
    assert dim == meta["dim"]
    return meta


def paths_jsonl(paths: list[str]) -> str:
    """One JSON string per line, ASCII only (U+2028, newlines and the like escaped), for any file name."""
    return "".join(json.dumps(p) + "\n" for p in paths)


def read_paths(folder: Path) -> list[str]:
    """The paths of an index's rows: ``paths.jsonl``, or an older index's ``paths.txt``."""
    if (folder / PATHS_FILE).is_file():
        lines = (folder / PATHS_FILE).read_text(encoding="ascii").split("\n")
        try:
            return [json.loads(line) for line in lines if line]
        except json.JSONDecodeError as err:
            raise ValueError(f"{folder / PATHS_FILE} is damaged ({err}); rebuild the index") from err
    if (folder / LEGACY_PATHS_FILE).is_file():
        return (folder / LEGACY_PATHS_FILE).read_text(encoding="utf-8").split("\n")[:-1]
    raise ValueError(f"{folder} has no {PATHS_FILE}; rebuild the index")


class SearchIndex:
    """A built index folder: `check` refuses a query model or dim other than the one that built it."""

    def __init__(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        if not (folder / META_FILE).is_file():
            hint = " (an unfinished build: run wavlink index again to finish it)" if (folder / CHUNKS_DIR).is_dir() else ""
            raise ValueError(f"{folder} is not a wavlink index (no {META_FILE}){hint}")
        self.folder = folder
        self.meta = json.loads((folder / META_FILE).read_text())
        self.paths = read_paths(folder)
        self.index = require_faiss().read_index(str(folder / INDEX_FILE))
        if self.index.ntotal != len(self.paths):
            raise ValueError(f"{folder}: {self.index.ntotal} vectors but {len(self.paths)} paths")

    def check_model_files(self, files: dict[str, Any], source: str | None) -> None:
        """Refuse a query model whose files are not the index's model's, before anything of it is loaded."""
        built = self.meta.get("model_files")
        if not built:
            return  # an index of format 1: only the check after loading (`check`) applies
        if files.get("sha256") == built.get("sha256"):
            return
        ours, theirs = built.get("files", {}), files.get("files", {})
        differing = sorted((n for n in set(ours) | set(theirs) if ours.get(n) != theirs.get(n)),
                           key=lambda n: (n.endswith(".py"), n))
        raise ValueError(f"{source or 'the default model'} is not the model this index was built with: its files "
                         f"differ from the recorded ones ({', '.join(differing[:5])}"
                         f"{', ...' if len(differing) > 5 else ''}); embeddings of different models are not "
                         "comparable, so it was not loaded (pass --model with the index's model, or rebuild the index)")

    def check(self, model: Any, truncate_dim: int | None) -> None:
        """Refuse a query embedder that is not the index's model, dim or dtype, naming both sides."""
        built = self.meta
        if truncate_dim not in (None, built["truncate_dim"]) and truncate_dim != built["dim"]:
            raise ValueError(f"this index holds {built['dim']}-d embeddings (truncate_dim "
                             f"{built['truncate_dim']}); the query asks for --dim {truncate_dim}")
        fingerprint = weights_fingerprint(model)
        if fingerprint != built["fingerprint"]:
            same_arch = {k: v for k, v in fingerprint.items() if k != "weights_sha256"} == {
                k: v for k, v in built["fingerprint"].items() if k != "weights_sha256"}
            what = "the same architecture but other weights or dtype" if same_arch else "another model"
            raise ValueError(f"this index was built by {built['model'] or 'the default model'} "
                             f"({built['model_type']}, {built['dtype']}); the query model is {what}: embeddings "
                             "of different models are not comparable (pass the index's --model, or rebuild)")

    def search(self, queries: np.ndarray, top_k: int) -> list[list[tuple[str, float]]]:
        """(path, score) lists, best first, for each query row (L2-normalised here)."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.meta["dim"]:
            raise ValueError(f"queries must be (n, {self.meta['dim']}), got {q.shape}")
        q = q / np.linalg.norm(q, axis=1, keepdims=True).clip(1e-12)
        k = min(int(top_k), len(self.paths))
        scores, ids = self.index.search(q, k)
        return [[(self.paths[i], float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
                for row_ids, row_scores in zip(ids, scores)]


__all__ = ["EXACT_MAX", "INDEX_TYPES", "LOAD_OPTIONS", "SearchIndex", "build_index", "collection_paths", "make_index",
           "weights_fingerprint"]
