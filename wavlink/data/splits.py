"""The data-split vocabulary shared by training manifests and evaluation loaders.

One manifest both trains and evaluates a model, so its ``split`` column must mean the same thing in both.
"""

from __future__ import annotations

from typing import Any

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"val": "validation", "valid": "validation", "dev": "validation", "eval": "validation"}


def normalize_split(value: Any, origin: str) -> str:
    """'val'/'valid'/'dev'/'eval' -> 'validation'; anything outside train/validation/test is an error."""
    name = str(value).strip().lower()
    name = SPLIT_ALIASES.get(name, name)
    if name not in SPLITS:
        raise ValueError(f"{origin}: split {value!r} is not one of {', '.join(SPLITS)} (or val/valid/dev/eval)")
    return name


__all__ = ["SPLITS", "SPLIT_ALIASES", "normalize_split"]
