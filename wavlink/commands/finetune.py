"""`wavlink finetune`: LoRA-finetune a model on one's own captioned audio; the adapter goes to --out.

    wavlink finetune --data my_sounds/captions.csv --out my-adapter --merge     # the default model
    wavlink finetune --model org/wavlink-base --data my_sounds/captions.csv --out my-adapter
"""

from __future__ import annotations

import argparse
import json
import os

from ..defaults import FINETUNE_BATCH_SIZE as BATCH_SIZE
from ..defaults import FINETUNE_EPOCHS as EPOCHS
from ..defaults import FINETUNE_LORA_LR as LORA_LR
from ..defaults import FINETUNE_MIN_STEPS as MIN_STEPS
from ._common import COUNT, FRACTION, POSITIVE, POSITIVE_INT, SEED, DefaultsHelpFormatter, add_trust_argument

COMMAND = "finetune"
HELP = "LoRA-finetune a model on your own (audio, caption) pairs (CSV/JSONL manifest or audio folder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = DefaultsHelpFormatter  # every default in --help
    parser.add_argument("--model", default=None,
                        help="model folder or Hub id, WavLink or OmniAudioEmbedder (default: the package's default "
                             "model, see `wavlink default`)")
    parser.add_argument("--data", required=True, nargs="+",
                        help="CSV/TSV/JSONL manifest(s) with audio,caption[,split] columns, audio folder(s) "
                             "with metadata.csv (file_name,caption), `datasets` save_to_disk folder(s) or "
                             "hf:NAME (a dataset with an Audio column and a caption column)")
    parser.add_argument("--out", required=True, help="adapter folder (peft + sentence-transformers)")
    parser.add_argument("--val-data", nargs="+", default=None,
                        help="validation manifest(s) (default: the data's validation split, else --val-fraction)")
    parser.add_argument("--val-fraction", type=FRACTION, default=0.1,
                        help="clips held out for validation when there is no validation split (0: none)")
    parser.add_argument("--lora-r", type=POSITIVE_INT, default=8, help="LoRA rank")
    parser.add_argument("--lora-alpha", type=POSITIVE, default=None, help="LoRA alpha (default: 2 x r)")
    parser.add_argument("--targets", default="audio,text",
                        help="towers that get LoRA: audio, text or audio,text (audio only also freezes the text "
                             "projection, so text embeddings stay unchanged)")
    parser.add_argument("--epochs", type=POSITIVE_INT, default=EPOCHS, help="passes over the data (extended to --min-steps)")
    parser.add_argument("--min-steps", type=COUNT, default=MIN_STEPS,
                        help="at least this many optimiser steps, so a small set still trains (0: epochs only)")
    parser.add_argument("--max-steps", type=POSITIVE_INT, default=None,
                        help="exactly this many optimiser steps (default: none, --epochs and --min-steps decide)")
    parser.add_argument("--lr", type=POSITIVE, default=LORA_LR, help="peak learning rate (LoRA)")
    parser.add_argument("--batch-size", type=POSITIVE_INT, default=BATCH_SIZE, help="clips per step, per process")
    parser.add_argument("--grad-accum", type=POSITIVE_INT, default=1, help="batches per optimiser step")
    parser.add_argument("--max-train-seconds", type=POSITIVE, default=10.0, help="random crop window")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for activation memory")
    parser.add_argument("--num-workers", type=COUNT, default=2, help="audio decoding workers")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed (data order, split, LoRA init)")
    parser.add_argument("--on-bad-audio", choices=["fail", "skip"], default="fail",
                        help="missing/unreadable audio: fail with a list, or skip and report a count (default: fail)")
    parser.add_argument("--merge", nargs="?", const=True, default=False, metavar="DIR",
                        help="also write base+adapter merged into a full model folder DIR (default: no merge; DIR: <out>/merged)")
    parser.add_argument("--resume", default=None,
                        help="'latest' or a checkpoint folder (default: none, start from the model)")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep <out>/checkpoints after the run")
    parser.add_argument("--overwrite", action="store_true", help="start afresh even if --out has checkpoints")
    add_trust_argument(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other training option (see `wavlink train`), e.g. --set eval_every=50")


def run(args: argparse.Namespace) -> int:
    from ..training.config import parse_override
    from ..training.finetune import finetune

    options = dict(parse_override(item) for item in args.set)
    model = args.model
    if model is None:
        from ..builders.default_model import default_model_dir

        model = str(default_model_dir())
    result = finetune(
        model, args.data, args.out,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, targets=args.targets, epochs=args.epochs,
        min_steps=args.min_steps or None, max_steps=args.max_steps, lr=args.lr,
        batch_size=args.batch_size, val_data=args.val_data, val_fraction=args.val_fraction, merge=args.merge,
        resume=args.resume, keep_checkpoints=args.keep_checkpoints,
        grad_accum_steps=args.grad_accum, max_train_seconds=args.max_train_seconds,
        mixed_precision="bf16" if args.bf16 else "no", gradient_checkpointing=args.gradient_checkpointing,
        num_workers=args.num_workers, seed=args.seed, on_bad_audio=args.on_bad_audio,
        overwrite_output_dir=args.overwrite, trust_remote_code=args.trust_remote_code, **options,
    )
    if int(os.environ.get("RANK", "0")) != 0:  # one summary, not one per process
        return 0
    print(validation_summary(result.initial_metrics, result.final_metrics))
    print(json.dumps({"adapter": str(result.adapter_dir), "merged": str(result.final_model_dir)
                      if result.final_model_dir else None, "steps": result.step,
                      "validation": result.final_metrics}, indent=2))
    return 0


MIN_VALIDATION_CLIPS = 20  # below this, one clip more or less moves R@1 by 5 points or more: noise, not a measure


def validation_summary(before: dict | None, after: dict | None) -> str:
    """One line per retrieval metric, before -> after, headed by the size of the validation set, with a warning
    when it is too small for the figures to mean anything."""
    if not after:
        return "validation: none (no validation split, --val-data or --val-fraction)"
    clips, captions = after.get("n_clips"), after.get("n_captions")
    size = f"{int(clips)} held-out clips, {int(captions)} captions" if clips is not None else "held-out clips"
    lines = []
    if clips is not None and clips < MIN_VALIDATION_CLIPS:
        lines.append(f"warning: the validation set has only {int(clips)} clip(s), too few for recall figures to "
                     f"mean anything (one clip moves R@1 by {100 / max(int(clips), 1):.0f} points); give "
                     f"--val-data with at least {MIN_VALIDATION_CLIPS} clips, or more data")
    lines.append(f"validation ({size})   before -> after")
    for key in ("t2a_R@1", "t2a_R@5", "a2t_R@1", "a2t_R@5"):
        if key in after:
            start = f"{before[key]:.3f}" if before and key in before else "  -  "
            lines.append(f"  {key:<26} {start} -> {after[key]:.3f}")
    return "\n".join(lines)
