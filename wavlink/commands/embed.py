"""`wavlink embed`: audio files or texts to a .npy or .safetensors file."""

from __future__ import annotations

import argparse
import os

from ._common import add_model_arguments, load_embedder

COMMAND = "embed"
HELP = "embed audio files (or texts with --text) and save the vectors to .npy or .safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="audio files, folders of audio, or texts with --text")
    parser.add_argument("--text", action="store_true", help="treat inputs as texts")
    parser.add_argument("--out", required=True, help="output file: .npy or .safetensors")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np  # lazy, as torch: `wavlink --help` imports neither

    from ..inference import list_audio_files

    if not args.out.endswith((".npy", ".safetensors")):
        raise ValueError(f"--out must end with .npy or .safetensors, got {args.out}")
    embedder = load_embedder(args)
    if args.text:
        items = list(args.inputs)
        vectors = embedder.encode_text(items, truncate_dim=args.dim, progress=True)
    else:
        items = []
        for x in args.inputs:
            items.extend(list_audio_files(x) if os.path.isdir(x) else [x])
        vectors = embedder.encode_audio(items, truncate_dim=args.dim, progress=True)
    vectors = vectors.astype(np.float32)
    if args.out.endswith(".npy"):
        np.save(args.out, vectors)
        with open(args.out[:-4] + ".txt", "w") as f:
            f.write("\n".join(str(x).replace("\n", " ") for x in items) + "\n")
    else:
        import torch
        from safetensors.torch import save_file

        save_file({"embeddings": torch.from_numpy(vectors)}, args.out,
                  metadata={"inputs": "\n".join(str(x).replace("\n", " ") for x in items),
                            "modality": "text" if args.text else "audio"})
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} embeddings to {args.out}")
    return 0
