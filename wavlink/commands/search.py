"""`wavlink search`: rank the clips of a folder, or of an index built by `wavlink index`, for text queries or for
similarity to example clips (``--query-audio``).

    wavlink search ~/sounds "a dog barking" "rain on a roof"     # a folder: embeddings cached per folder & model
    wavlink search ~/sounds --query-audio bark.wav               # sounds like this clip
    wavlink search sounds.idx "a dog barking"                    # an index folder (it has a meta.json)
    wavlink search clips.csv "a dog barking"                     # the clips a manifest lists

The first argument is the collection in both forms, as for `wavlink index`; ``--index IDX`` still works (every
positional argument is then a query).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any

from ._common import (
    POSITIVE_INT,
    add_json_argument,
    add_model_arguments,
    cosine,
    display_path,
    load_embedder,
    model_load_options,
    print_json,
    print_table,
    stdout_reserved_for_json,
)

COMMAND = "search"
HELP = ("rank the audio of a folder or of a `wavlink index` index for text queries or example clips "
        "(--query-audio); for thousands of clips, build an index once with `wavlink index`")
USAGE_HINT = 'wavlink search FOLDER_MANIFEST_OR_INDEX "a dog barking" [--query-audio CLIP]'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default=None,
                        help="folder of audio files (searched recursively; their embeddings are cached per folder "
                             "and model) or an index folder built by `wavlink index` (it has a meta.json)")
    parser.add_argument("queries", nargs="*", help="text queries")
    parser.add_argument("--query-audio", action="append", default=[], metavar="FILE",
                        help="rank by similarity to this clip (repeatable); the clip itself is left out of its "
                             "own results")
    parser.add_argument("--index", default=None,
                        help="search this index folder (same as giving it first); every positional argument is "
                             "then a query")
    parser.add_argument("--top-k", type=POSITIVE_INT, default=5)
    parser.add_argument("--no-cache", action="store_true",
                        help="embed the folder afresh and neither read nor write the search cache "
                             "($WAVLINK_CACHE/search, else ~/.cache/wavlink/search)")
    add_json_argument(parser)
    add_model_arguments(parser)
    parser.epilog = ("Big collections: `wavlink index FOLDER --out IDX` embeds them once into a FAISS index "
                     "(resumable, multi-process); `wavlink search IDX \"query\"` then answers in milliseconds.")


def resolve_target(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """("folder" | "manifest" | "index", path, text queries) from the positional arguments and --index, with errors that
    name the fix."""
    from ..index import CHUNKS_DIR, META_FILE

    if args.index:
        queries = [args.target, *args.queries] if args.target is not None else list(args.queries)
        return "index", args.index, queries
    target = args.target
    if target is None:
        raise ValueError(f"give a folder or an index folder, then queries: {USAGE_HINT}")
    if os.path.isdir(target):
        is_index = any(os.path.exists(os.path.join(target, name)) for name in (META_FILE, CHUNKS_DIR))
        return ("index" if is_index else "folder"), target, list(args.queries)
    if os.path.isfile(target):
        from ..inference import AUDIO_SUFFIXES

        if target.lower().endswith(AUDIO_SUFFIXES):
            raise ValueError(f"{target} is an audio file; search takes the folder or index to search first. To find "
                             f"clips that sound like it: wavlink search FOLDER --query-audio {target}")
        from ..data import TABLE_SUFFIXES

        if target.lower().endswith(TABLE_SUFFIXES):
            return "manifest", target, list(args.queries)
        raise ValueError(f"{target} is a file, not a folder of audio, a manifest or an index folder ({USAGE_HINT})")
    raise ValueError(f"no such folder or index: {target} (the first argument is what to search: {USAGE_HINT})")


def check_query_audio(paths: list[str]) -> list[str]:
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"--query-audio: audio file not found: {path}")
    return [os.path.abspath(p) for p in paths]


def run(args: argparse.Namespace) -> int:
    kind, target, texts = resolve_target(args)
    audio_queries = check_query_audio(args.query_audio)
    if not texts and not audio_queries:
        raise ValueError(f"give at least one text query or --query-audio FILE: {USAGE_HINT}")
    with stdout_reserved_for_json(args.json):
        if kind == "index":
            results = _search_index(args, target, texts, audio_queries)
        else:
            results = _search_folder(args, target, texts, audio_queries)
    if args.json:
        print_json([{**label, "results": [{"rank": r + 1, "path": p, "score": s} for r, (p, s) in enumerate(best)]}
                    for label, best in results])
        return 0
    for label, best in results:
        shown = f"query: {label['query']!r}" if "query" in label else f"query audio: {display_path(label['query_audio'])}"
        print(f"\n{shown}")
        print_table([[str(r + 1), f"{s:.3f}", display_path(p)] for r, (p, s) in enumerate(best)],
                    ["rank", "score", "file"])
    return 0


Results = list[tuple[dict[str, str], list[tuple[str, float]]]]


def _labels(texts: list[str], audio_queries: list[str]) -> list[dict[str, str]]:
    return [{"query": t} for t in texts] + [{"query_audio": a} for a in audio_queries]


def _query_vectors(embedder: Any, texts: list[str], audio_queries: list[str], dim: int | None):
    import numpy as np

    parts = []
    if texts:
        parts.append(embedder.encode_text(texts, truncate_dim=dim))
    if audio_queries:
        parts.append(embedder.encode_audio(audio_queries, truncate_dim=dim))
    return np.concatenate(parts)


def _top(paths: list[str], row, top_k: int, leave_out: str | None) -> list[tuple[str, float]]:
    """The best `top_k` (path, score), best first, without `leave_out` (a query clip is not its own answer)."""
    out = []
    for i in row.argsort(kind="stable")[::-1]:
        if leave_out is not None and os.path.realpath(paths[i]) == os.path.realpath(leave_out):
            continue
        out.append((paths[i], float(row[i])))
        if len(out) == top_k:
            break
    return out


def _search_folder(args: argparse.Namespace, folder: str, texts: list[str], audio_queries: list[str]) -> Results:
    """A folder's audio files, or the clips a manifest lists (read by the data layer's reader; its search cache
    is keyed by the manifest)."""
    from ..index import collection_paths
    from ..inference import list_audio_files

    files = list_audio_files(folder) if os.path.isdir(folder) else collection_paths(folder)
    embedder = load_embedder(args)
    audio = _folder_embeddings(args, embedder, folder, files)
    scores = cosine(_query_vectors(embedder, texts, audio_queries, args.dim), audio)
    labels = _labels(texts, audio_queries)
    return [(label, _top(files, row, args.top_k, label.get("query_audio"))) for label, row in zip(labels, scores)]


def _folder_embeddings(args: argparse.Namespace, embedder: Any, folder: str, files: list[str]):
    """The folder's clip embeddings: from the search cache (only new or changed clips embedded), or all afresh
    with --no-cache."""

    def embed(paths: list[str]):
        return embedder.encode_audio(paths, truncate_dim=args.dim, progress=len(paths) > 32)

    if args.no_cache:
        return embed(files)
    from ..search_cache import cached_folder_embeddings

    vectors, report = cached_folder_embeddings(folder, files, embed, model_sha256=_model_key(args, embedder),
                                               options=model_load_options(args), dim=args.dim)
    if report.embedded or report.dropped:
        print(f"search cache: embedded {report.embedded} new or changed clip(s), reused {report.reused}"
              f"{f', dropped {report.dropped} deleted' if report.dropped else ''}", file=sys.stderr)
    return vectors


def _model_key(args: argparse.Namespace, embedder: Any) -> str:
    """The model part of the cache key: `trust.model_files_fingerprint` (what indexes record: every file that
    defines the model), or, when the files cannot be found (a Hub id without a local snapshot), the hash of the
    loaded weights (`index.weights_fingerprint`)."""
    from ..index import weights_fingerprint
    from ..trust import model_files_fingerprint
    from .index import _model_folder

    try:
        return "files:" + model_files_fingerprint(_model_folder(args.model), args.revision)["sha256"]
    except (ValueError, OSError):
        digest = hashlib.sha256(json.dumps(weights_fingerprint(embedder.model), sort_keys=True).encode())
        return "weights:" + digest.hexdigest()


def _search_index(args: argparse.Namespace, folder: str, texts: list[str], audio_queries: list[str]) -> Results:
    from ..index import LOAD_OPTIONS, SearchIndex
    from ..trust import model_files_fingerprint
    from .index import _model_folder

    index = SearchIndex(folder)
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
    queries = _query_vectors(embedder, texts, audio_queries, dim)
    labels = _labels(texts, audio_queries)
    ranked = index.search(queries, args.top_k + (1 if audio_queries else 0))  # room for the query clip itself
    return [(label, [(p, s) for p, s in best if label.get("query_audio") is None
                     or os.path.realpath(p) != os.path.realpath(label["query_audio"])][: args.top_k])
            for label, best in zip(labels, ranked)]
