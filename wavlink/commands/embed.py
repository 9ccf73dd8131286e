"""`wavlink embed`: audio files or texts to a .npy or .safetensors file.

A ``.npy`` output gets a sidecar ``<out>.inputs.jsonl`` (``vectors.npy.inputs.jsonl``: one JSON string per row,
the input of that row, so any file name or text round-trips); a ``.safetensors`` output keeps the inputs in its
metadata. Neither file is overwritten unless --overwrite is given, and both are checked before the model loads.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..files import atomic_write
from ._common import add_model_arguments, load_embedder

COMMAND = "embed"
HELP = "embed audio files (or texts with --text) and save the vectors to .npy or .safetensors"
SIDECAR_SUFFIX = ".inputs.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="audio files, folders of audio, or texts with --text")
    parser.add_argument("--text", action="store_true", help="treat inputs as texts")
    parser.add_argument("--out", required=True,
                        help=f"output file: .npy (with a {SIDECAR_SUFFIX} sidecar listing the inputs) or .safetensors")
    parser.add_argument("--overwrite", action="store_true", help="replace --out (and its sidecar) if they exist")
    add_model_arguments(parser)


def sidecar_path(out: str | os.PathLike) -> Path:
    """Where the inputs of a .npy output are listed: ``<out>.inputs.jsonl`` (never another file's name)."""
    return Path(f"{os.fspath(out)}{SIDECAR_SUFFIX}")


def output_files(out: str) -> list[Path]:
    return [Path(out), sidecar_path(out)] if out.endswith(".npy") else [Path(out)]


def check_outputs(out: str, overwrite: bool) -> None:
    """Refuse, before any work, an output that would replace an existing file or land in a missing folder."""
    if not out.endswith((".npy", ".safetensors")):
        raise ValueError(f"--out must end with .npy or .safetensors, got {out}")
    for path in output_files(out):
        if path.is_dir():
            raise ValueError(f"{path} is a folder; --out names the file to write")
        if path.exists() and not overwrite:
            raise ValueError(f"{path} already exists; pass --overwrite to replace it, or choose another --out")
    parent = Path(out).parent
    if not parent.is_dir():
        raise ValueError(f"the folder of --out does not exist: {parent}")


def check_input_paths(inputs: list[str]) -> None:
    """Refuse, before the model loads, an input that is neither a file nor a folder; one that looks like a
    sentence (no audio suffix) was most likely meant as text, so the error says --text."""
    from ..inference import AUDIO_SUFFIXES

    missing = [x for x in inputs if not os.path.exists(x)]
    if not missing:
        return
    first = missing[0]
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    if not first.lower().endswith(AUDIO_SUFFIXES):
        raise ValueError(f"no such audio file or folder: {first!r}{more}; to embed texts, pass --text "
                         f"(wavlink embed --text {json.dumps(first)} --out OUT.npy)")
    raise ValueError(f"audio file not found: {first}{more}")


def run(args: argparse.Namespace) -> int:
    import numpy as np  # lazy, as torch: `wavlink --help` imports neither

    from ..inference import list_audio_files

    check_outputs(args.out, args.overwrite)
    if args.text:
        items = list(args.inputs)
    else:
        check_input_paths(args.inputs)
        items = []
        for x in args.inputs:
            items.extend(list_audio_files(x) if os.path.isdir(x) else [x])
    embedder = load_embedder(args)
    if args.text:
        vectors = embedder.encode_text(items, truncate_dim=args.dim, progress=True)
    else:
        vectors = embedder.encode_audio(items, truncate_dim=args.dim, progress=True)
    vectors = vectors.astype(np.float32)
    check_outputs(args.out, args.overwrite)  # nothing appeared there while we worked
    out = Path(args.out)
    if args.out.endswith(".npy"):
        def save_npy(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, vectors)

        atomic_write(out, save_npy)
        lines = "".join(json.dumps(str(x)) + "\n" for x in items)  # ASCII: U+2028 & co. escaped, one line each
        atomic_write(sidecar_path(out), lambda tmp: tmp.write_text(lines, encoding="utf-8"))
        where = f"{out} (inputs: {sidecar_path(out)})"
    else:
        import torch
        from safetensors.torch import save_file

        atomic_write(out, lambda tmp: save_file(
            {"embeddings": torch.from_numpy(vectors)}, str(tmp),
            metadata={"inputs": json.dumps([str(x) for x in items], ensure_ascii=False), "inputs_format": "json",
                      "modality": "text" if args.text else "audio"}))
        where = str(out)
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} embeddings to {where}")
    return 0
