"""What may be published: recognise model and adapter folders, refuse pickles, and stage the exact upload.

The staged folder is the single source of truth: the dry run writes it, verification reloads it, and the
upload commits every file in it and nothing else. Empty directories are dropped because the Hub (git)
cannot hold them, so the dry run shows exactly what a user will download.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from safetensors import safe_open

from ..builders.folder import ADAPTER_FILES, ADAPTER_META, ST_FILES
from ..families import family_of

# Pickle-based or non-safetensors weight formats: a repo that ships one can execute code on load.
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".h5", ".msgpack")
SKIPPED_NAMES = {"__pycache__", ".git", ".cache", ".ipynb_checkpoints", ".DS_Store", ".gitattributes"}


class PublishError(ValueError):
    """Input that cannot be published (bad repo id, not a model folder, pickle files, ...)."""


def check_repo_id(repo_id: str, what: str = "--repo") -> str:
    """A full `namespace/name` id that the Hub accepts (checked locally, before any network call)."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise PublishError(f"{what} {repo_id!r} is not a valid Hub repo id: {err}") from err
    if repo_id.count("/") != 1:
        raise PublishError(f"{what} {repo_id!r} is not a valid Hub repo id here: it must be 'namespace/name' "
                           "(e.g. my-org/wavlink-base)")
    return repo_id


def check_org(org: str) -> str:
    try:
        validate_repo_id(f"{org}/wavlink-base")
    except HFValidationError as err:
        raise PublishError(f"--org {org!r} is not a valid Hub namespace: {err}") from err
    if "/" in org:
        raise PublishError(f"--org {org!r} must be a bare namespace (no '/')")
    return org


@dataclass
class FolderInfo:
    """A recognised folder: `kind` is "model" or "adapter"; `family` is "wavlink" / "omni" for models."""

    path: Path
    kind: str
    family: str
    config: dict[str, Any]
    files: list[str] = field(default_factory=list)


def list_files(folder: str | os.PathLike) -> list[str]:
    """Relative POSIX paths of the files that would be uploaded, sorted; junk (caches, .git) skipped."""
    root = Path(folder)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        for name in filenames:
            if name in SKIPPED_NAMES or name.endswith(".pyc"):
                continue
            out.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(out)


def refuse_pickles(folder: str | os.PathLike, files: list[str]) -> None:
    bad = [f for f in files if f.lower().endswith(FORBIDDEN_SUFFIXES)]
    if bad:
        raise PublishError(
            f"{folder} contains non-safetensors files {bad}; only safetensors weights are published. Re-save with "
            "`save_pretrained(..., safe_serialization=True)` and remove the pickles (optimizer/trainer state too)."
        )


def _family(config: dict[str, Any]) -> str:
    family = family_of(config)
    if family is None:
        raise PublishError(
            f"config.json model_type={config.get('model_type')!r}, architectures={config.get('architectures')} is "
            "neither a WavLink nor an OmniAudioEmbedder model"
        )
    return family.name


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise PublishError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise PublishError(f"{path} must hold a JSON object")
    return data


def _auto_map_files(mapping: Any) -> set[str]:
    files = set()
    for value in (mapping or {}).values():
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, str) and "." in ref:
                files.add(ref.split("--")[-1].rsplit(".", 1)[0] + ".py")
    return files


def required_model_files(folder: Path, config: dict[str, Any]) -> set[str]:
    """Files a model repo needs so AutoModel/AutoProcessor/SentenceTransformer load it with remote code."""
    needed = {"config.json", "processor_config.json", *ST_FILES}
    needed |= _auto_map_files(config.get("auto_map"))
    processor_path = folder / "processor_config.json"
    if processor_path.is_file():
        processor = _read_json(processor_path)
        needed |= _auto_map_files(processor.get("auto_map"))
        for sub in processor.values():
            if isinstance(sub, dict):
                needed |= _auto_map_files(sub.get("auto_map"))
    for py in [p for p in folder.glob("*.py")]:
        for match in re.finditer(r"^\s*from\s+\.(\w+)\s+import", py.read_text(), flags=re.M):
            needed.add(match.group(1) + ".py")
    return needed


def _weights(files: list[str]) -> list[str]:
    return [f for f in files if f.endswith(".safetensors") or f.endswith(".safetensors.index.json")]


def inspect_folder(folder: str | os.PathLike) -> FolderInfo:
    """Recognise a model or adapter folder, or raise `PublishError` saying what is missing."""
    path = Path(folder)
    if not path.is_dir():
        raise PublishError(f"{path} is not a folder")
    files = list_files(path)
    refuse_pickles(path, files)
    if (path / "adapter_config.json").is_file():
        missing = [f for f in ADAPTER_FILES if f not in files]
        if missing:
            raise PublishError(f"{path} looks like an adapter but lacks {missing}")
        config = _read_json(path / "adapter_config.json")
        return FolderInfo(path, "adapter", "", config, files)
    if "config.json" not in files:
        raise PublishError(f"{path} is not a model folder: no config.json (nor adapter_config.json)")
    config = _read_json(path / "config.json")
    family = _family(config)
    if not _weights(files):
        raise PublishError(f"{path} is not a model folder: no *.safetensors weights")
    return FolderInfo(path, "model", family, config, files)


def check_model_files(folder: Path, files: list[str], config: dict[str, Any]) -> None:
    """Every file the loaders will ask for is present (run on the staged folder)."""
    missing = sorted(required_model_files(folder, config) - set(files))
    if not _weights(files):
        missing.append("model.safetensors")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(_read_json(index).get("weight_map", {}).values())
        missing += sorted(shards - set(files))
    if not any(f in files for f in ("tokenizer.json", "tokenizer_config.json")):
        missing.append("tokenizer.json")
    if missing:
        raise PublishError(f"{folder} lacks files the loaders need: {missing}")


def check_safetensors(folder: Path, files: list[str]) -> None:
    """Every safetensors file has a readable header (catches truncated copies)."""
    for name in files:
        if name.endswith(".safetensors"):
            try:
                with safe_open(str(folder / name), "pt") as handle:
                    handle.keys()
            except Exception as err:
                raise PublishError(f"{folder / name} is not a readable safetensors file: {err}") from err


def prepare_target(target: Path, overwrite: bool) -> None:
    """An empty target folder; refuses to mix with files from an earlier run unless told to."""
    if target.exists() and any(target.iterdir()):
        if not overwrite:
            raise PublishError(f"{target} already exists and is not empty; remove it or pass --overwrite")
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)


def copy_files(source: Path, target: Path, files: list[str]) -> None:
    for name in files:
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, dest)


def remove_empty_dirs(folder: Path) -> None:
    for dirpath, _, _ in sorted(os.walk(folder), key=lambda t: -len(t[0])):
        path = Path(dirpath)
        if path != folder and not any(path.iterdir()):
            path.rmdir()


def set_adapter_base(folder: Path, base_repo: str) -> dict[str, Any]:
    """Point the staged adapter at the base repo id (peft saves the local path it was trained from), in
    `adapter_config.json` and in `wavlink finetune`'s metadata, so no publisher-local path is published."""
    path = folder / "adapter_config.json"
    config = _read_json(path)
    config["base_model_name_or_path"] = base_repo
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    meta_path = folder / ADAPTER_META
    if meta_path.is_file():
        meta = _read_json(meta_path)
        meta["base_model"] = base_repo
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return config


def adapter_serves_sentence_transformers(files: list[str]) -> bool:
    """`wavlink finetune` adapters also hold processor + ST files: `SentenceTransformer(adapter)` loads them."""
    return "modules.json" in files


def required_adapter_files(folder: Path, files: list[str]) -> set[str]:
    needed = {"adapter_config.json", "adapter_model.safetensors", "README.md"}
    if adapter_serves_sentence_transformers(files):
        needed |= required_model_files(folder, {}) - {"config.json"}
    return needed
