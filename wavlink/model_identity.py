"""What a model is: what to call it in front of a user and under which licence (the web app's header shows these
instead of a cache path, so that a non-commercial licence, the default model's CC BY-NC, is in view wherever it is
served), and its architecture fingerprint (adapters refuse a wrong base with it, indexes record it). Light on
purpose: the index and search read it without importing the training stack."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any


def _front_matter(card: str) -> dict[str, str]:
    """The top-level ``key: value`` lines of a model card's YAML front matter (no YAML parser needed for these)."""
    match = re.match(r"---\s*\n(.*?)\n---\s*\n", card, re.S)
    if not match:
        return {}
    return {m.group(1): m.group(2).strip().strip("'\"")
            for m in re.finditer(r"^([A-Za-z_]+):[ \t]*(\S.*)$", match.group(1), re.M)}


def model_identity(source: str | os.PathLike) -> tuple[str, str | None]:
    """(name, licence) of a model folder or Hub id: the card's title (its first ``# `` heading, up to a
    parenthesis) and its ``license:``; a Hub id names itself; a folder without a card, its folder name. The
    licence is None when nothing states it."""
    path = Path(os.path.expanduser(os.fspath(source)))
    if not path.is_dir():
        return os.fspath(source), None
    card_file = path / "README.md"
    card = card_file.read_text(encoding="utf-8", errors="replace") if card_file.is_file() else ""
    meta = _front_matter(card)
    title = re.search(r"^# (.+)$", card, re.M)
    name = title.group(1).split(" (")[0].strip() if title else path.name
    return name, meta.get("license")


def licence_notice(licence: str | None) -> str:
    """A short line for a licence id, with the restriction spelled out for non-commercial ones."""
    if not licence:
        return "licence: not stated in the model card"
    if "-nc" in licence.lower() or "noncommercial" in licence.lower().replace("-", ""):
        return f"licence: {licence} (non-commercial use only)"
    return f"licence: {licence}"


def unwrap(model: Any) -> Any:
    """The plain model under a DDP / PeftModel wrapper."""
    model = getattr(model, "module", model)
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def architecture_fingerprint(model: Any) -> dict[str, Any]:
    """Architecture identity of a base model (type + parameter names and shapes), to refuse a wrong base."""
    base = unwrap(model)
    lines = sorted(f"{n}:{tuple(p.shape)}" for n, p in base.named_parameters())
    return {
        "model_type": getattr(getattr(base, "config", None), "model_type", None),
        "num_parameters": sum(p.numel() for p in base.parameters()),
        "shapes_sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
    }


__all__ = ["architecture_fingerprint", "licence_notice", "model_identity", "unwrap"]
