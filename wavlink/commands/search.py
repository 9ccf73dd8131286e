"""`wavlink search`: rank a folder of audio for one or more text queries."""

from __future__ import annotations

import argparse
import os

from ._common import (
    add_json_argument,
    add_model_arguments,
    cosine,
    load_embedder,
    print_json,
    print_table,
    stdout_reserved_for_json,
)

COMMAND = "search"
HELP = "rank the audio files of a folder for text queries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder of audio files (searched recursively)")
    parser.add_argument("queries", nargs="+", help="text queries")
    parser.add_argument("--top-k", type=int, default=5)
    add_json_argument(parser)
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..inference import list_audio_files

    with stdout_reserved_for_json(args.json):
        files = list_audio_files(args.folder)
        embedder = load_embedder(args)
        audio = embedder.encode_audio(files, truncate_dim=args.dim, progress=len(files) > 32)
        text = embedder.encode_text(args.queries, truncate_dim=args.dim)
    scores = cosine(text, audio)
    ranked = [(query, [(i, float(row[i])) for i in row.argsort()[::-1][: args.top_k]])
              for query, row in zip(args.queries, scores)]
    if args.json:
        print_json([{"query": query, "results": [{"rank": r + 1, "path": files[i], "score": score}
                                                 for r, (i, score) in enumerate(best)]}
                    for query, best in ranked])
        return 0
    for query, best in ranked:
        print(f"\nquery: {query!r}")
        print_table([[str(r + 1), f"{score:.3f}", os.path.relpath(files[i], args.folder)]
                     for r, (i, score) in enumerate(best)], ["rank", "score", "file"])
    return 0
