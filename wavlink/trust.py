"""Which code a model folder may run, decided before anything of it is imported.

Every WavLink / OmniAudioEmbedder folder carries the package's remote-code files (``modeling_wavlink.py`` & co.)
so that plain ``transformers`` users can load it with ``trust_remote_code=True``. This package does not need
them: importing ``wavlink`` registers its own classes with ``AutoConfig`` / ``AutoModel`` / ``AutoProcessor``,
so a folder whose ``model_type`` is one of the families (`wavlink.families.FAMILIES`) is loaded with
``trust_remote_code=False`` and its ``.py`` files are never executed, whatever they contain.

Any other ``model_type`` that ships its own code (an ``auto_map`` in ``config.json``) is refused unless the
caller opted in (``--trust-remote-code``, off by default, as in transformers). The decision reads
``config.json`` as JSON only (`read_config_dict`).

`model_files_fingerprint` hashes what a folder's model is made of (config, weights, processor and tokenizer
files, and the code when that code would run) without importing anything, so that an index can refuse a
query model other than its own before any of that model is loaded (`index.SearchIndex.check_files`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from huggingface_hub import snapshot_download

import wavlink

from .families import FAMILIES

TRUST_HINT = "pass --trust-remote-code (trust_remote_code=True) only if you have read that code and trust it"
# top-level files that define a model's embeddings (weights, config, processor, tokenizer); README and docs do not
FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken")
HASH_BLOCK = 1 << 20


class UntrustedCodeError(ValueError):
    """A model folder that would need its own Python code to load, without the caller's consent."""


def package_model_types() -> set[str]:
    """The model types this package loads with its own classes (registered when wavlink is imported)."""
    return {family.model_type for family in FAMILIES.values()}


def read_config_dict(source: str | os.PathLike, revision: str | None = None) -> dict[str, Any]:
    """``config.json`` of a folder or Hub id as a plain dict (read as JSON; no code is imported)."""
    source = os.fspath(source)
    if os.path.isdir(source):
        path = Path(source) / "config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read {path}: {err}") from err
    else:
        from transformers import PretrainedConfig  # lazy: 1.5 s (torch); a local folder is read as plain JSON

        try:
            data, _ = PretrainedConfig.get_config_dict(source, revision=revision)
        except OSError as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ValueError(f"cannot load model {source!r}: {first}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{source}: config.json is not a JSON object")
    return data


def custom_code_files(source: str | os.PathLike, config: dict[str, Any]) -> list[str]:
    """The Python files a folder would run under trust_remote_code (its .py files; for a Hub id, the modules
    its ``auto_map`` names)."""
    source = os.fspath(source)
    if os.path.isdir(source):
        return sorted(p.name for p in Path(source).glob("*.py"))
    refs = (config.get("auto_map") or {}).values()
    names = {str(r if isinstance(r, str) else (r[0] if r else "")).split("--")[-1].rsplit(".", 1)[0] for r in refs}
    return sorted(f"{n}.py" for n in names if n)


def resolve_trust(source: str | os.PathLike, config: dict[str, Any], trust_remote_code: bool = False) -> bool:
    """The ``trust_remote_code`` value to give transformers for this model, or `UntrustedCodeError`.

    The package's own model types: always False (the registered classes load them; the folder's code never
    runs). Another model type with code of its own: True only when the caller said so. Another model type
    without code (a plain transformers architecture): False.
    """
    wavlink.register_families()  # the families' classes with the Auto classes

    model_type = config.get("model_type")
    if model_type in package_model_types():
        return False
    if not config.get("auto_map"):
        return False
    if trust_remote_code:
        return True
    files = custom_code_files(source, config)
    shown = ", ".join(files[:6]) + (f" (+{len(files) - 6} more)" if len(files) > 6 else "") if files else "its auto_map"
    known = ", ".join(sorted(package_model_types()))
    raise UntrustedCodeError(
        f"{os.fspath(source)} is not a wavlink model (model_type {model_type!r}; this package loads {known} "
        f"with its own code) and it ships Python code of its own ({shown}) that loading it would run; "
        f"{TRUST_HINT}"
    )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def local_model_folder(source: str | os.PathLike, revision: str | None = None) -> Path:
    """A folder holding the model's files: the folder itself, or a Hub id's cached snapshot (downloaded when
    online; offline, what the cache holds)."""
    source = os.path.expanduser(os.fspath(source))
    if os.path.isdir(source):
        return Path(source)

    patterns = [f"*{s}" for s in FINGERPRINT_SUFFIXES] + ["*.py"]
    try:
        return Path(snapshot_download(source, revision=revision, allow_patterns=patterns))
    except Exception as err:  # noqa: BLE001  (hub errors: offline, not found, gated, ...)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"cannot read the files of model {source!r}: {first}") from err


def model_files_fingerprint(source: str | os.PathLike, revision: str | None = None) -> dict[str, Any]:
    """SHA-256 of every top-level file that defines the model (`FINGERPRINT_SUFFIXES`; its ``.py`` files too
    unless the model type is the package's own, whose folder code is never run), and of their list.
    Reads files only: nothing is imported or executed."""
    folder = local_model_folder(source, revision)
    config = read_config_dict(folder)
    own = config.get("model_type") in package_model_types()
    suffixes = FINGERPRINT_SUFFIXES if own else (*FINGERPRINT_SUFFIXES, ".py")
    files = {p.name: _hash_file(p) for p in sorted(folder.iterdir())
             if p.is_file() and p.name.endswith(suffixes) and not p.name.startswith(".")}
    total = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"sha256": total, "files": files}


__all__ = [
    "TRUST_HINT",
    "UntrustedCodeError",
    "custom_code_files",
    "local_model_folder",
    "model_files_fingerprint",
    "package_model_types",
    "read_config_dict",
    "resolve_trust",
]
