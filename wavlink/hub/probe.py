"""The embedding probe: one fixed text and one generated clip, embedded the way a user of the repo would.

This file is deliberately self-contained (numpy, torch, transformers, sentence-transformers, peft; never
`wavlink`): the publisher imports it to compute the reference embeddings before upload, and the
verification child runs a copy of it as a script, with the `wavlink` package made unimportable, so both
sides embed with literally the same code.

Child usage: `python probe.py JOB.json RESULT.json BLOCKED_PACKAGE REPO_ROOT`.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoProcessor, pipeline

PROBE_TEXT = "a dog barks twice while rain falls on a tin roof"
PROBE_LABELS = ["a dog barking", "rain on a roof", "a car engine"]
SAMPLING_RATE = 16000


def probe_clip(seconds: float = 1.5, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """A deterministic clip (two tones, a chirp and seeded noise), float32 in [-1, 1]."""
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    rng = np.random.default_rng(1234)
    wave = (0.25 * np.sin(2 * np.pi * 440 * t) + 0.15 * np.sin(2 * np.pi * 1210 * t)
            + 0.1 * np.sin(2 * np.pi * (200 + 900 * t) * t) + 0.05 * rng.standard_normal(t.shape))
    return wave.astype(np.float32)


SMALL_MODEL_BYTES = 200 * 2**20


@contextlib.contextmanager
def threads_for(weight_bytes: int) -> Iterator[None]:
    """One intra-op thread for small models: on a busy machine, many threads make tiny matmuls ~10x slower."""
    before = torch.get_num_threads()
    if weight_bytes < SMALL_MODEL_BYTES:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def folder_weight_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".safetensors"))


def _vec(tensor: Any) -> list[float]:
    return [float(x) for x in tensor.detach().float().cpu().reshape(-1).tolist()]


def embed_transformers(model: Any, processor: Any, clip: np.ndarray, dims: list[int],
                       text: str = PROBE_TEXT, sampling_rate: int = SAMPLING_RATE) -> dict[str, list[float]]:
    """Text and audio embeddings through `get_*_features` (and each smaller Matryoshka width)."""
    out: dict[str, list[float]] = {}
    with torch.inference_mode():
        text_inputs = processor(text=[text], return_tensors="pt")
        audio_inputs = processor(audio=[clip], sampling_rate=sampling_rate, return_tensors="pt")
        out["text"] = _vec(model.get_text_features(**text_inputs).pooler_output[0])
        out["audio"] = _vec(model.get_audio_features(**audio_inputs).pooler_output[0])
        for dim in dims:
            out[f"text@{dim}"] = _vec(model.get_text_features(**text_inputs, truncate_dim=dim).pooler_output[0])
            out[f"audio@{dim}"] = _vec(model.get_audio_features(**audio_inputs, truncate_dim=dim).pooler_output[0])
    return out


def embed_sentence_transformers(st: Any, clip: np.ndarray, text: str = PROBE_TEXT,
                                sampling_rate: int = SAMPLING_RATE) -> dict[str, list[float]]:
    text_emb = st.encode([text], convert_to_numpy=True)[0]
    audio_emb = st.encode([{"array": clip, "sampling_rate": sampling_rate}], convert_to_numpy=True)[0]
    return {"text": [float(x) for x in text_emb], "audio": [float(x) for x in audio_emb]}


def pipeline_scores(classifier: Any, clip: np.ndarray) -> dict[str, list[float]]:
    """Scores of the zero-shot pipeline, keyed by label (order-independent)."""
    result = classifier(clip, candidate_labels=PROBE_LABELS)
    return {item["label"]: [float(item["score"])] for item in result}


# ----------------------------------------------------------------------------------------------- child
class _Blocker(importlib.abc.MetaPathFinder):
    """Makes a package unimportable, as on a machine where only transformers / sentence-transformers exist."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise ImportError(f"{fullname} is blocked in the verification process")
        return None


def _isolate(blocked: str, repo_root: str) -> None:
    sys.meta_path.insert(0, _Blocker(blocked))
    root = os.path.realpath(repo_root)
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root]
    try:
        __import__(blocked)
    except ImportError:
        return
    raise RuntimeError(f"could not make {blocked!r} unimportable")


def _run_job(job: dict[str, Any], clip: np.ndarray) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer  # lazy: 4 s; only the jobs that use it pay

    torch.manual_seed(0)
    folder, dims = job["folder"], job["dims"]
    result: dict[str, Any] = {}
    if job["kind"] == "adapter":
        from peft import PeftModel  # lazy: 2.5 s; adapter jobs only

        base = AutoModel.from_pretrained(job["base"], trust_remote_code=True)
        model = PeftModel.from_pretrained(base, folder).eval()
        processor = AutoProcessor.from_pretrained(job["base"], trust_remote_code=True)
        result["transformers"] = embed_transformers(model, processor, clip, dims)
        del model, base
        st = SentenceTransformer(job["base"], trust_remote_code=True, device="cpu")
        st.load_adapter(folder)
        result["sentence_transformers"] = embed_sentence_transformers(st, clip)
        if os.path.isfile(os.path.join(folder, "modules.json")):
            result["sentence_transformers_direct"] = _embed_adapter_repo(folder, job["base"], clip)
        return result
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    result["transformers"] = embed_transformers(model, processor, clip, dims)
    del model
    st = SentenceTransformer(folder, trust_remote_code=True, device="cpu")
    result["sentence_transformers"] = embed_sentence_transformers(st, clip)
    del st
    if job.get("pipeline"):
        classifier = pipeline("zero-shot-audio-classification", model=folder, trust_remote_code=True, device="cpu")
        result["pipeline"] = pipeline_scores(classifier, clip)
    return result


def _embed_adapter_repo(folder: str, base: str, clip: np.ndarray) -> dict[str, list[float]]:
    """`SentenceTransformer(<adapter repo>)`: the same files, with the base repo id pointed at the local base
    (the base repo is not on the Hub yet, and verification runs offline)."""
    from sentence_transformers import SentenceTransformer  # lazy: 4 s; only this job pays

    with tempfile.TemporaryDirectory(prefix="adapter-repo-") as tmp:
        copy = os.path.join(tmp, os.path.basename(folder))
        shutil.copytree(folder, copy)
        config_path = os.path.join(copy, "adapter_config.json")
        with open(config_path) as handle:
            config = json.load(handle)
        config["base_model_name_or_path"] = base
        with open(config_path, "w") as handle:
            json.dump(config, handle)
        st = SentenceTransformer(copy, trust_remote_code=True, device="cpu")
        return embed_sentence_transformers(st, clip)


def main(argv: list[str]) -> int:
    job_path, result_path, blocked, repo_root = argv
    _isolate(blocked, repo_root)
    spec = json.loads(open(job_path).read())
    clip = np.load(spec["clip"])
    results = []
    for job in spec["jobs"]:
        start = time.perf_counter()
        try:
            with threads_for(folder_weight_bytes(job["base"] or job["folder"])):
                entry = {"folder": job["folder"], "ok": True, **_run_job(job, clip)}
        except Exception as err:  # reported per folder; the parent fails loudly with the traceback
            entry = {"folder": job["folder"], "ok": False, "error": f"{err.__class__.__name__}: {err}",
                     "traceback": traceback.format_exc()}
        entry["seconds"] = round(time.perf_counter() - start, 3)
        entry["leaked"] = sorted(m for m in sys.modules if m == blocked or m.startswith(blocked + "."))
        results.append(entry)
        with open(result_path, "w") as handle:  # rewritten after each job: a crash keeps the earlier ones
            json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
