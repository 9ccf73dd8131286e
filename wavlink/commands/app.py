"""`wavlink app`: the browser demo (Gradio): text-to-audio search over a folder, zero-shot classification of
an uploaded or recorded clip, and a clips-vs-captions similarity heat map."""

from __future__ import annotations

import argparse
import os

from ._common import PORT, add_model_arguments, load_embedder

COMMAND = "app"
HELP = "a web app (Gradio) to search, classify and compare audio with text in a browser"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", default=None,
                        help="folder of audio to search (recursively; default: the bundled CC0 recordings)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: reachable from others)")
    parser.add_argument("--port", type=PORT, default=7860)
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home (works offline)
    try:
        import gradio  # noqa: F401
    except ImportError as err:
        raise ValueError('the web app needs gradio: pip install "wavlink[app]"') from err
    from ..app import AppEngine, launch_app
    from ..model_identity import licence_notice, model_identity

    if args.model is None:  # assembled once from the pip parts, then cached (works offline)
        from ..builders.default_model import default_model_dir

        args.model = default_model_dir()
    name, licence = model_identity(args.model)  # the card's name and licence, not a cache path
    embedder = load_embedder(args)
    engine = AppEngine(embedder, folder=args.folder, dim=args.dim, model_name=name, licence=licence)
    print(f"model: {name} ({licence_notice(licence)})\nfolder: {engine.folder} ({len(engine.files)} audio files)",
          flush=True)
    engine.folder_embeddings()  # once, before serving: the first search is then as fast as the others
    launch_app(engine, host=args.host, port=args.port)
    return 0
