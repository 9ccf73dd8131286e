"""Prove a staged repo works for users who have only transformers or only sentence-transformers.

The reference embeddings are computed in this process, with the package, before anything is written or
uploaded. The staged folder is then reloaded in a fresh Python process where `wavlink` cannot be imported
(a `sys.meta_path` blocker, the repo root removed from `sys.path`, cwd outside the repo, offline), exactly
as a user of the Hub repo would load it, and every embedding must match to `TOLERANCE`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from transformers import AutoModel, AutoProcessor, pipeline

import wavlink

from ..remote_code import remote_code_files
from . import probe
from .cards import CardError, validate_card
from .folders import (
    PublishError,
    adapter_serves_sentence_transformers,
    check_model_files,
    check_safetensors,
    list_files,
    required_adapter_files,
)

TOLERANCE = 1e-5
REPO_ROOT = Path(__file__).resolve().parents[2]


class VerificationError(RuntimeError):
    """A staged repo does not reload, reloads differently, lacks a file, or has a broken card."""


@dataclass
class VerifyJob:
    """One staged folder and what it must reproduce."""

    folder: Path
    kind: str  # "model" | "adapter"
    family: str
    reference: dict[str, dict[str, list[float]]]
    dims: list[int] = field(default_factory=list)
    base: Path | None = None  # adapters: the local base folder to load under the adapter
    pipeline: bool = False


def smaller_dims(config: Any) -> list[int]:
    """Matryoshka widths below the full one (each is checked through `truncate_dim`)."""
    get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
    dims = get("matryoshka_dims") or []
    full = get("projection_dim")
    return sorted((int(d) for d in dims if full is None or int(d) != int(full)), reverse=True)


def reference_embeddings(model: Any, processor: Any, family: str, dims: Sequence[int]) -> dict[str, Any]:
    """Embeddings of the probe with the in-memory model, and the zero-shot pipeline's scores (both families:
    the pipeline calls the model's forward, which returns `logits_per_audio`)."""
    clip = probe.probe_clip()
    model = model.eval()
    with probe.threads_for(_weight_bytes(model)):
        reference = {"transformers": probe.embed_transformers(model, processor, clip, list(dims))}
        if hasattr(processor, "feature_extractor"):
            classifier = pipeline("zero-shot-audio-classification", model=model, device="cpu",
                                  feature_extractor=processor.feature_extractor, tokenizer=processor.tokenizer)
            reference["pipeline"] = probe.pipeline_scores(classifier, clip)
    return reference


def _weight_bytes(model: Any) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def load_with_package(folder: str | os.PathLike) -> tuple[Any, Any]:
    """Load a model folder with the package's own classes (registered locally); its .py files are not run."""
    wavlink.register_families()  # both families with the Auto classes

    # the registered classes only: the folder's own .py files are never run in this process
    model = AutoModel.from_pretrained(folder, trust_remote_code=False)
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
    return model, processor


def adapter_reference(adapter: str | os.PathLike, base: str | os.PathLike) -> tuple[dict, list[int]]:
    """Reference embeddings of base + adapter, loaded with the package in this process."""
    from peft import PeftModel  # lazy: 2.5 s; only adapter verification needs it

    base_model, processor = load_with_package(base)
    dims = smaller_dims(base_model.config)
    model = PeftModel.from_pretrained(base_model, os.fspath(adapter)).eval()
    with probe.threads_for(probe.folder_weight_bytes(os.fspath(base))):
        ref = {"transformers": probe.embed_transformers(model, processor, probe.probe_clip(), dims)}
    return ref, dims


def check_card(folder: Path, base_repo: str | None = None) -> None:
    readme = folder / "README.md"
    if not readme.is_file():
        raise VerificationError(f"{folder} has no README.md model card")
    try:
        card = validate_card(readme)
    except CardError as err:
        raise VerificationError(f"{readme}: {err}") from err
    if base_repo is not None:
        bases = card.data.base_model
        bases = [bases] if isinstance(bases, str) else list(bases or [])
        if base_repo not in bases:
            raise VerificationError(f"{readme}: base_model is {bases}, expected {base_repo!r}")


def check_static(job: VerifyJob) -> None:
    """Files, safetensors headers and card, before spending a process on the reload."""
    files = list_files(job.folder)
    try:
        if job.kind == "model":
            config = json.loads((job.folder / "config.json").read_text()) if "config.json" in files else {}
            check_model_files(job.folder, files, config)
        else:
            missing = sorted(required_adapter_files(job.folder, files) - set(files))
            if missing:
                raise PublishError(f"{job.folder} lacks files the loaders need: {missing}")
        check_safetensors(job.folder, files)
    except PublishError as err:
        raise VerificationError(str(err)) from err
    base_repo = None
    if job.kind == "adapter":
        base_repo = json.loads((job.folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
    check_card(job.folder, base_repo)


def _compare(name: str, got: dict[str, list[float]], want: dict[str, list[float]], problems: list[str]) -> float:
    worst = 0.0
    for key, expected in want.items():
        if key not in got:
            problems.append(f"{name}: no {key!r} embedding")
            continue
        a, b = np.asarray(got[key], dtype=np.float64), np.asarray(expected, dtype=np.float64)
        if a.shape != b.shape:
            problems.append(f"{name} {key}: shape {a.shape} != {b.shape} before upload")
            continue
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        worst = max(worst, diff)
        if not np.isfinite(diff) or diff > TOLERANCE:
            problems.append(f"{name} {key}: max |diff| {diff:.3g} > {TOLERANCE:g} vs before upload")
    return worst


def run_child(jobs: Sequence[VerifyJob], timeout: float) -> list[dict[str, Any]]:
    """One fresh process for all jobs (one interpreter start and import, many folders)."""
    with tempfile.TemporaryDirectory(prefix="wavlink-verify-") as tmp:
        tmp_path = Path(tmp)
        script = tmp_path / "wavlink_hub_probe.py"
        shutil.copy(probe.__file__, script)
        np.save(tmp_path / "clip.npy", probe.probe_clip())
        spec = {"clip": str(tmp_path / "clip.npy"), "jobs": [
            {"folder": str(j.folder.resolve()), "kind": j.kind, "dims": j.dims, "pipeline": j.pipeline,
             "base": str(j.base.resolve()) if j.base else None} for j in jobs]}
        (tmp_path / "job.json").write_text(json.dumps(spec))
        result_path = tmp_path / "result.json"
        env = dict(os.environ)
        env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"), TOKENIZERS_PARALLELISM="false",
                   PYTHONDONTWRITEBYTECODE="1")
        root = os.path.realpath(REPO_ROOT)
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.realpath(p) != root]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        cmd = [sys.executable, str(script), str(tmp_path / "job.json"), str(result_path), "wavlink", root]
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise VerificationError(f"the verification process did not finish within {timeout:g} s") from err
        results = json.loads(result_path.read_text()) if result_path.is_file() else []
        if proc.returncode != 0 or len(results) != len(jobs):
            tail = (proc.stderr or "")[-3000:]
            raise VerificationError(
                f"the verification process failed (exit {proc.returncode}) after {len(results)} of {len(jobs)} "
                f"folders:\n{tail}")
        return results


def foreign_code(folder: str | os.PathLike) -> list[str]:
    """The .py files of a folder that are not byte-identical to this package's remote-code files (the reload
    check runs a folder's code in a fresh process: that is what Hub users will run)."""
    own = {p.name: p.read_bytes() for p in remote_code_files()}
    return sorted(p.name for p in Path(folder).glob("*.py") if own.get(p.name) != p.read_bytes())


def verify(jobs: Sequence[VerifyJob], timeout: float = 3600.0,
           trust_remote_code: bool = False) -> dict[str, dict[str, float]]:
    """Check every staged folder; raise `VerificationError` listing every problem. Returns max diffs.

    The fresh-process reload runs each folder's own .py files; a folder whose code is not this package's is
    refused unless `trust_remote_code`."""
    if not jobs:
        return {}
    problems: list[str] = []
    for job in jobs:
        try:
            check_static(job)
        except VerificationError as err:
            problems.append(str(err))
        folders = [job.folder] + ([job.base] if job.base is not None else [])
        foreign = [] if trust_remote_code else [name for folder in folders for name in foreign_code(folder)]
        if foreign:
            problems.append(f"{job.folder}: {', '.join(foreign)} differ from this package's remote code; the reload "
                            "check would run them: pass --trust-remote-code if you have read them and trust them "
                            "(or re-save the model with this wavlink version)")
    if problems:
        raise VerificationError("repo check failed:\n  " + "\n  ".join(problems))
    results = run_child(jobs, timeout)
    report: dict[str, dict[str, float]] = {}
    for job, result in zip(jobs, results):
        name = str(job.folder)
        if not result["ok"]:
            problems.append(f"{name}: reload without wavlink failed: {result['error']}\n{result['traceback']}")
            continue
        if result["leaked"]:
            problems.append(f"{name}: the verification process imported {result['leaked']}")
        want = job.reference["transformers"]
        diffs = {"transformers": _compare(f"{name} [transformers]", result["transformers"], want, problems),
                 "sentence-transformers": _compare(f"{name} [sentence-transformers]", result["sentence_transformers"],
                                                   {k: want[k] for k in ("text", "audio")}, problems)}
        if "sentence_transformers_direct" in result:
            diffs["sentence-transformers (adapter repo)"] = _compare(
                f"{name} [SentenceTransformer(adapter repo)]", result["sentence_transformers_direct"],
                {k: want[k] for k in ("text", "audio")}, problems)
        elif job.kind == "adapter" and adapter_serves_sentence_transformers(list_files(job.folder)):
            problems.append(f"{name}: SentenceTransformer(adapter repo) was not checked")
        if "pipeline" in job.reference:
            diffs["pipeline"] = _compare(f"{name} [zero-shot pipeline]", result.get("pipeline", {}),
                                         job.reference["pipeline"], problems)
        report[name] = diffs
    if problems:
        raise VerificationError("verification failed:\n  " + "\n  ".join(problems))
    return report
