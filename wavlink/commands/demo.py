"""`wavlink demo`: embed the bundled real sounds and a few texts and print the similarity table."""

from __future__ import annotations

import argparse
import os
from importlib import resources

from ._common import add_trust_argument, cosine, print_table

COMMAND = "demo"
HELP = "search and classify the bundled real CC0 recordings with text (the default model unless --model)"

def bundled_sounds() -> list[str]:
    folder = resources.files("wavlink") / "assets" / "sounds"
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith(".flac"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model folder or Hub id (default: the package's default model if it can be "
                             "assembled, otherwise a randomly initialised tiny model)")
    parser.add_argument("--device", default=None)
    add_trust_argument(parser)


def _embedder(args: argparse.Namespace):
    from ..inference import Embedder

    if args.model is not None:
        return Embedder.load(args.model, device=args.device, trust_remote_code=args.trust_remote_code), args.model
    try:
        from ..builders.default_model import default_model_dir

        path = default_model_dir()
        return Embedder.load(path, device=args.device), f"default model ({path})"
    except (ImportError, ValueError) as err:
        from ..builders.wavlink import create_model

        print(f"note: default model unavailable ({err}); using a random tiny-random model")
        model, processor = create_model("tiny-random")
        return Embedder(model, processor, device=args.device), "tiny-random (random weights)"


# (query, the recording it should find first): the first queries a new user types
QUERIES = [("a dog barking", "dog"), ("a cat meowing", "cat"), ("a cow mooing", "cow"),
           ("a rooster crowing", "rooster"), ("frogs croaking", "frog"), ("a horse neighing", "horse")]
LABELS = ["cat", "cow", "dog", "duck", "frog", "horse", "owl", "pig", "rooster", "sheep",
          "rain", "car horn", "church bells", "footsteps"]


def run(args: argparse.Namespace) -> int:
    from ..metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates

    embedder, name = _embedder(args)
    files = bundled_sounds()
    names = [os.path.basename(f).rsplit(".", 1)[0] for f in files]
    audio = embedder.encode_audio(files)
    print(f"model: {name}")
    print(f"\n1) text-to-audio search over {len(files)} real CC0 recordings (wavlink/assets/sounds)")
    sims = cosine(embedder.encode_text([q for q, _ in QUERIES]), audio)
    found = 0
    for (query, expected), row in zip(QUERIES, sims):
        best = row.argsort()[::-1][:3]
        found += names[best[0]] == expected
        mark = "ok" if names[best[0]] == expected else f"missed {expected}"
        print(f"  {query!r:22} -> " + ", ".join(f"{names[i]} ({row[i]:.2f})" for i in best) + f"   [{mark}]")
    print(f"  the expected recording ranked first for {found}/{len(QUERIES)} queries")
    print(f"\n2) zero-shot classification among {len(LABELS)} labels (prompt-template ensemble)")
    classes = class_embeddings_from_templates(embedder.encode_text, LABELS, list(DEFAULT_TEMPLATES))
    scores = cosine(audio, classes)
    rows, hits = [], 0
    for sound, row in zip(names, scores):
        best = row.argsort()[::-1][:3]
        hits += LABELS[best[0]] == sound
        rows.append([sound] + [f"{LABELS[i]} ({row[i]:.2f})" for i in best])
    print_table(rows, ["recording", "#1", "#2", "#3"])
    print(f"\ntop-1 correct: {hits}/{len(names)}")
    return 0
