"""`wavlink index`: embed a folder or manifest of audio into a FAISS index folder for `wavlink search IDX`.

    wavlink index ~/sounds --out sounds.idx [--model M] [--dim 64] [--vectors int8]
    accelerate launch --num-processes 4 -m wavlink index ~/sounds --out sounds.idx   # each process a slice
    wavlink search sounds.idx "a dog barking" --top-k 10      # same form as searching the folder itself
"""

from __future__ import annotations

import argparse
import os

from ._common import POSITIVE_INT, add_model_arguments, load_embedder, model_load_options

COMMAND = "index"
HELP = ("embed a folder or manifest of audio into a FAISS index (resumable, multi-process); search it with "
        "`wavlink search IDX QUERY`")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="folder of audio files (recursive) or a manifest with an 'audio' column")
    parser.add_argument("--out", required=True, help="index folder to write (a killed run continues there)")
    parser.add_argument("--vectors", choices=["float32", "int8"], default="float32",
                        help="int8: 8-bit scalar-quantised vectors in the index (4x smaller; FAISS SQ8)")
    parser.add_argument("--index-type", choices=["auto", "flat", "hnsw"], default="auto",
                        help="auto: exact (flat) up to 50,000 clips, HNSW beyond")
    parser.add_argument("--chunk-size", type=POSITIVE_INT, default=256, help="clips per saved chunk (resume granularity)")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..index import build_index, require_faiss
    from ..trust import model_files_fingerprint

    require_faiss()
    state = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # accelerate launch / torchrun
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available())
        if args.device is None:
            args.device = str(state.device)
    embedder = load_embedder(args)
    model_source = os.path.abspath(os.path.expanduser(args.model)) if args.model and os.path.isdir(
        os.path.expanduser(args.model)) else args.model
    model_files = model_files_fingerprint(_model_folder(args.model), args.revision)
    meta = build_index(args.source, args.out, embedder, model_source=model_source, truncate_dim=args.dim,
                       int8=args.vectors == "int8", index_type=args.index_type, chunk_size=args.chunk_size,
                       state=state, load_options=model_load_options(args), model_files=model_files)
    if meta is not None:
        print(f"indexed {meta['count']} clips into {args.out} ({meta['index_type']}"
              f"{', int8' if meta['int8'] else ''}, {meta['dim']}-d)")
    return 0


def _model_folder(model: str | None) -> str:
    """The --model given (folder or Hub id), or the default model's folder when none was."""
    if model is not None:
        return model
    from ..builders.default_model import default_model_dir

    return str(default_model_dir())
