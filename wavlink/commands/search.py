"""`wavlink search`: rank a folder of audio for one or more text queries."""

from __future__ import annotations

import argparse
import os

from ._common import add_model_arguments, cosine, load_embedder, print_table

COMMAND = "search"
HELP = "rank the audio files of a folder for text queries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder of audio files (searched recursively)")
    parser.add_argument("queries", nargs="+", help="text queries")
    parser.add_argument("--top-k", type=int, default=5)
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..inference import list_audio_files

    files = list_audio_files(args.folder)
    embedder = load_embedder(args)
    audio = embedder.encode_audio(files, truncate_dim=args.dim, progress=len(files) > 32)
    text = embedder.encode_text(args.queries, truncate_dim=args.dim)
    scores = cosine(text, audio)
    for query, row in zip(args.queries, scores):
        print(f"\nquery: {query!r}")
        best = row.argsort()[::-1][: args.top_k]
        print_table([[str(r + 1), f"{row[i]:.3f}", os.path.relpath(files[i], args.folder)]
                     for r, i in enumerate(best)], ["rank", "score", "file"])
    return 0
