"""`wavlink classify`: zero-shot labels for audio files, with prompt-template ensembling.

Scores are probabilities on the model's trained logit scale (`remote_code.losses.zero_shot_probabilities`: a
softmax over the labels for CLIP-trained models, one sigmoid per label for SigLIP-trained ones), the same numbers
the web app and the folder's zero-shot pipeline show; ``--scores cosine`` prints the raw cosine similarities.
With ``--json`` every row names its scale (``"scores": "softmax" | "sigmoid" | "cosine"``).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from ._common import (
    POSITIVE_INT,
    add_json_argument,
    add_model_arguments,
    cosine,
    load_embedder,
    print_json,
    print_table,
    stdout_reserved_for_json,
)

COMMAND = "classify"
HELP = "zero-shot classify audio files against candidate labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="audio files or folders")
    parser.add_argument("--labels", required=True,
                        help="comma-separated labels, or a text file with one label per line")
    parser.add_argument("--top-k", type=POSITIVE_INT, default=3)
    parser.add_argument("--scores", choices=["probability", "cosine"], default="probability",
                        help="probability: the model's trained logit scale read as it was trained (softmax over "
                             "the labels for CLIP-trained models, a sigmoid per label for SigLIP-trained ones; the "
                             "app and the pipeline show the same); cosine: raw cosine similarities (default: "
                             "probability)")
    parser.add_argument("--template", action="append", default=None,
                        help="prompt template with {} (repeatable; default: the package's template ensemble)")
    add_json_argument(parser)
    add_model_arguments(parser)


def read_labels(spec: str) -> list[str]:
    from ..inference import check_labels  # lazy: torch is imported only when a command runs

    if os.path.isfile(spec):
        with open(spec) as f:
            labels = [line.strip() for line in f if line.strip()]
    else:
        labels = [x.strip() for x in spec.split(",") if x.strip()]
    return check_labels(labels)


def score_scale(model: Any, kind: str) -> str:
    """What the scores are, as `--json` names them: ``softmax`` (over the labels: CLIP-trained), ``sigmoid`` (one
    per label: SigLIP-trained) or ``cosine``."""
    if kind == "cosine":
        return "cosine"
    from ..remote_code.losses import is_sigmoid_loss

    return "sigmoid" if is_sigmoid_loss(getattr(model.config, "loss_type", "clip")) else "softmax"


def label_scores(audio: np.ndarray, classes: np.ndarray, model: Any, kind: str) -> np.ndarray:
    """(clips, labels) scores: `zero_shot_probabilities` (kind "probability") or raw cosines."""
    if kind == "cosine":
        return cosine(audio, classes)
    from ..remote_code.losses import zero_shot_probabilities

    return zero_shot_probabilities(audio, classes, model).numpy()


def run(args: argparse.Namespace) -> int:
    from ..inference import list_audio_files
    from ..metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates, prettify_label

    labels = read_labels(args.labels)
    with stdout_reserved_for_json(args.json):
        files = [f for x in args.inputs for f in (list_audio_files(x) if os.path.isdir(x) else [x])]
        embedder = load_embedder(args)
        templates = args.template or list(DEFAULT_TEMPLATES)
        classes = class_embeddings_from_templates(
            lambda texts: embedder.encode_text(texts, truncate_dim=args.dim),
            [prettify_label(x) for x in labels], templates)
        audio = embedder.encode_audio(files, truncate_dim=args.dim, progress=len(files) > 32)
    scores = label_scores(audio, classes, embedder.model, args.scores)
    k = min(args.top_k, len(labels))
    ranked = [(path, [(labels[i], float(row[i])) for i in row.argsort()[::-1][:k]]) for path, row in zip(files, scores)]
    if args.json:
        scale = score_scale(embedder.model, args.scores)
        print_json([{"path": path, "scores": scale, "labels": [{"label": label, "score": score} for label, score in best]}
                    for path, best in ranked])
        return 0
    rows = [[os.path.basename(path)] + [f"{label} ({score:.3f})" for label, score in best] for path, best in ranked]
    print_table(rows, ["file"] + [f"#{i + 1}" for i in range(k)])
    return 0
