"""`wavlink demo`: embed the bundled real sounds and a few texts and print the similarity table."""

from __future__ import annotations

import argparse
import os
from importlib import resources

from ._common import cosine, print_table

COMMAND = "demo"
HELP = "embed the bundled CC0 animal sounds and a few captions, print text-to-audio similarities"

CAPTIONS = [
    "a dog barking", "a cat meowing", "a cow mooing", "a rooster crowing", "ducks quacking",
    "a horse neighing", "an owl hooting", "a pig oinking", "frogs croaking", "a sheep bleating",
]


def bundled_sounds() -> list[str]:
    folder = resources.files("wavlink") / "assets" / "sounds"
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith(".flac"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model folder or Hub id (default: the package's default model if it can be "
                             "assembled, otherwise a randomly initialised tiny model)")
    parser.add_argument("--device", default=None)


def _embedder(args: argparse.Namespace):
    from ..inference import Embedder

    if args.model is not None:
        return Embedder.load(args.model, device=args.device), args.model
    try:
        from ..default_model import default_model_dir

        path = default_model_dir()
        return Embedder.load(path, device=args.device), f"default model ({path})"
    except (ImportError, ValueError) as err:
        from ..builder import create_model

        print(f"note: default model unavailable ({err}); using a random tiny-random model")
        model, processor = create_model("tiny-random")
        return Embedder(model, processor, device=args.device), "tiny-random (random weights)"


def run(args: argparse.Namespace) -> int:
    embedder, name = _embedder(args)
    files = bundled_sounds()
    audio = embedder.encode_audio(files)
    text = embedder.encode_text(CAPTIONS)
    sims = cosine(text, audio)
    names = [os.path.basename(f).rsplit(".", 1)[0] for f in files]
    print(f"model: {name}\ncosine similarity, rows = captions, columns = bundled sounds; * = best sound\n")
    rows = []
    for caption, row in zip(CAPTIONS, sims):
        best = int(row.argmax())
        rows.append([caption] + [f"{v:+.2f}{'*' if j == best else ' '}" for j, v in enumerate(row)])
    print_table(rows, ["caption"] + names)
    hits = sum(names[int(r.argmax())] in c for c, r in zip(CAPTIONS, sims))
    print(f"\ntop-1 text-to-audio hits: {hits}/{len(CAPTIONS)}")
    return 0
