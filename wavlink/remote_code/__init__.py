"""The code saved model folders carry (Hugging Face remote code), for every family.

The files here are flat and import only each other (`from .x import y`), the standard library, torch,
numpy and transformers: `save_model_folder` copies a family's own files and the shared ones
(`modeling_common.py`, `losses.py`, `processing_wavlink.py`, ...) into each saved model, so
`AutoModel.from_pretrained(folder, trust_remote_code=True)` works where only transformers is installed.
Build-time code (assembling towers from checkpoints, presets, converters) lives in `wavlink.builders`.
"""

from __future__ import annotations

from pathlib import Path

REMOTE_CODE_DIR = Path(__file__).resolve().parent


def remote_code_files(folder: Path = REMOTE_CODE_DIR) -> list[Path]:
    """The modules a saved model folder carries: every .py file of `folder` (default: this one) but __init__."""
    return sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")


__all__ = ["REMOTE_CODE_DIR", "remote_code_files"]
