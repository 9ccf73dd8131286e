"""`wavlink eval`: retrieval / zero-shot benchmarks, Matryoshka and quantisation sweeps, JSON results."""

from __future__ import annotations

import argparse
import sys

from ._common import COUNT, add_model_arguments, model_load_options

COMMAND = "eval"
HELP = "evaluate a model on retrieval or zero-shot classification data (AudioCaps, Clotho, ESC-50, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True,
                        help="retrieval | zero-shot | clotho | audiocaps | esc50 | us8k | vggsound")
    parser.add_argument("--data", required=True,
                        help="the benchmark's local folder, a manifest (.csv/.jsonl), a datasets.save_to_disk "
                             "folder, or WebDataset shards for retrieval / zero-shot ('DIR/shard-{000000..000009}"
                             ".tar', a `wavlink shard` folder; layouts: docs/evaluation.md)")
    parser.add_argument("--output", default=None, help="write the results JSON here")
    parser.add_argument("--matryoshka", action="store_true",
                        help="evaluate every trained dim (d, d/2, d/4, d/8) and draw the quality-vs-dim PNG")
    parser.add_argument("--quantize", action="store_true", help="also evaluate int8 and binary audio embeddings")
    parser.add_argument("--fold", type=COUNT, default=None, help="zero-shot: only the clips of this fold")
    parser.add_argument("--per-fold", action="store_true", help="zero-shot: also report each fold's accuracy")
    parser.add_argument("--templates", nargs="+", default=None,
                        help="prompt templates with {} (or one file, a template per line); default: the "
                             "package's ensemble")
    parser.add_argument("--classes", default=None,
                        help="zero-shot: the class list (comma-separated or a file); default: from the data")
    parser.add_argument("--split", default=None, help="benchmark split (clotho: evaluation, audiocaps/vggsound: "
                                                      "test), the datasets split, or the rows of a manifest's "
                                                      "split column (default: test, else validation)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="AudioCaps/VGGSound/Clotho: evaluate on the clips present (count is recorded)")
    parser.add_argument("--audio-root", default=None, help="manifests: folder the audio paths are relative to")
    parser.add_argument("--audio-column", default=None)
    parser.add_argument("--text-column", default=None)
    parser.add_argument("--label-column", default=None)
    parser.add_argument("--cache-dir", default=None, help="embedding cache (default: ~/.cache/wavlink/embeddings)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    parser.add_argument("--plot", default=None,
                        help="PNG path (default: OUTPUT.png with --matryoshka): the quality-vs-dimension curve "
                             "(--matryoshka, with int8/binary under --quantize) and, for zero-shot tasks, the "
                             "confusion matrix (PATH_confusion.png)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.runner import evaluate, read_class_names, read_templates

    evaluate(
        args.model,
        args.task,
        args.data,
        args.output,
        matryoshka=args.matryoshka,
        quantize_embeddings=args.quantize,
        dim=args.dim,
        fold=args.fold,
        per_fold=args.per_fold,
        templates=read_templates(args.templates),
        class_names=read_class_names(args.classes),
        split=args.split,
        skip_missing=args.skip_missing,
        audio_root=args.audio_root,
        audio_column=args.audio_column,
        text_column=args.text_column,
        label_column=args.label_column,
        batch_size=args.batch_size,
        device=args.device,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        plot=args.plot,
        progress=not args.quiet,
        trust_remote_code=args.trust_remote_code,
        **model_load_options(args),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``scripts/run_eval.py``), same arguments and errors as ``wavlink eval``."""
    parser = argparse.ArgumentParser(prog="run_eval.py", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 2
