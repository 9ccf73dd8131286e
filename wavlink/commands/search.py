"""`wavlink search`: rank a folder of audio for one or more text queries, or answer from a FAISS index
built by `wavlink index` (``--index IDX``: every positional argument is a query)."""

from __future__ import annotations

import argparse

from ._common import (
    POSITIVE_INT,
    add_json_argument,
    add_model_arguments,
    cosine,
    display_path,
    load_embedder,
    print_json,
    print_table,
    stdout_reserved_for_json,
)

COMMAND = "search"
HELP = "rank the audio files of a folder (or a `wavlink index` index, --index) for text queries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder of audio files (searched recursively); with --index, a query")
    parser.add_argument("queries", nargs="*", help="text queries")
    parser.add_argument("--index", default=None,
                        help="answer from this index folder (wavlink index); its model and dim are used")
    parser.add_argument("--top-k", type=POSITIVE_INT, default=5)
    add_json_argument(parser)
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..inference import list_audio_files

    if args.index:
        return _run_index(args)
    if not args.queries:
        raise ValueError("give a folder and at least one query (or --index IDX and queries)")
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
        print_table([[str(r + 1), f"{score:.3f}", display_path(files[i])]
                     for r, (i, score) in enumerate(best)], ["rank", "score", "file"])
    return 0


def _run_index(args: argparse.Namespace) -> int:
    from ..index import LOAD_OPTIONS, SearchIndex
    from ..trust import model_files_fingerprint
    from .index import _model_folder

    queries = [args.folder, *args.queries]
    with stdout_reserved_for_json(args.json):
        index = SearchIndex(args.index)
        meta = index.meta
        if args.model is None:
            args.model = meta["model"]
        options = meta.get("load_options") or {}
        for key in LOAD_OPTIONS:  # the index's revision / dtype / int8, nothing else (meta.json is just a file)
            if key in options and not getattr(args, key, None):
                setattr(args, key, options[key])
        # the query model's files against the index's, before any of that model is imported or loaded
        index.check_model_files(model_files_fingerprint(_model_folder(args.model), args.revision), args.model)
        embedder = load_embedder(args)
        index.check(embedder.model, args.dim)
        dim = meta["truncate_dim"] if args.dim is None else args.dim
        text = embedder.encode_text(queries, truncate_dim=dim)
        ranked = index.search(text, args.top_k)
    if args.json:
        print_json([{"query": q, "results": [{"rank": r + 1, "path": p, "score": s} for r, (p, s) in enumerate(best)]}
                    for q, best in zip(queries, ranked)])
        return 0
    for q, best in zip(queries, ranked):
        print(f"\nquery: {q!r}")
        print_table([[str(r + 1), f"{s:.3f}", display_path(p)] for r, (p, s) in enumerate(best)],
                    ["rank", "score", "file"])
    return 0
