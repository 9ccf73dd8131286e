"""`wavlink train`: a training run from a YAML/JSON config (the paper's two-stage recipe and training modes).

    wavlink train --stage 1 --config scripts/configs/wavlink-base-stage1.yaml
    wavlink train --stage 2 --config scripts/configs/wavlink-base-stage2.yaml --resume latest
    accelerate launch --num-processes 8 -m wavlink train --stage 1 --config ...   # many GPUs
"""

from __future__ import annotations

import argparse
import json
import os

from ._common import NON_NEGATIVE, POSITIVE_INT, add_trust_argument

COMMAND = "train"
HELP = "train with a config file: two-stage recipe, projector/LoRA/full modes, one CPU to many GPUs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML or JSON training config (see scripts/configs/)")
    parser.add_argument("--stage", type=int, choices=[1, 2], default=None,
                        help="recipe stage; must match the config's `stage` (or pick one of its `stages`)")
    parser.add_argument("--out", default=None, help="output folder (overrides output_dir)")
    parser.add_argument("--resume", default=None,
                        help="'latest' (newest checkpoint in the output folder; a fresh start if none) or a folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config option, e.g. --set lr=3e-4 --set mode=lora (repeatable)")
    parser.add_argument("--data", action="append", default=None, metavar="SOURCE",
                        help="training data (replaces train_data; repeatable): a manifest, an audio folder, or "
                             "WebDataset shards, e.g. 'shards/train-{000000..000099}.tar' (local, pipe: or http)")
    parser.add_argument("--eval-data", action="append", default=None, metavar="SOURCE",
                        help="evaluation data (replaces eval_data; repeatable); shards are read into memory")
    parser.add_argument("--on-bad-audio", choices=["fail", "skip"], default=None,
                        help="a corrupt clip / shard member: fail naming it (default) or skip and count it")
    parser.add_argument("--max-steps", type=POSITIVE_INT, default=None, help="stop after this many optimizer steps")
    parser.add_argument("--overwrite", action="store_true", help="start afresh even if the folder has checkpoints")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    add_trust_argument(parser)
    parser.add_argument("--debug-step-delay", type=NON_NEGATIVE, default=0.0, help=argparse.SUPPRESS)


def build_config(args: argparse.Namespace):
    from ..training.config import load_config, parse_override

    overrides = dict(parse_override(item) for item in args.set)
    if args.out:
        overrides["output_dir"] = args.out
    if args.data:
        overrides["train_data"] = args.data
    if args.eval_data:
        overrides["eval_data"] = args.eval_data
    if args.on_bad_audio:
        overrides["on_bad_audio"] = args.on_bad_audio
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    if args.overwrite:
        overrides["overwrite_output_dir"] = True
    if args.trust_remote_code:
        overrides["trust_remote_code"] = True
    return load_config(args.config, stage=args.stage, overrides=overrides)


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2, default=str))
        return 0
    from ..training.trainer import train

    result = train(config, resume=args.resume, step_delay=args.debug_step_delay)
    summary = {"output_dir": str(result.output_dir), "steps": result.step,
               "model": str(result.final_model_dir) if result.final_model_dir else None,
               "adapter": str(result.adapter_dir) if result.adapter_dir else None,
               "validation": result.final_metrics}
    if int(os.environ.get("RANK", "0")) == 0:  # one summary, not one per process
        print(json.dumps(summary, indent=2))
    return 0
