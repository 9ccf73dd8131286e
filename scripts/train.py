#!/usr/bin/env python
"""Train a WavLink (or OmniAudioEmbedder) model from a config file: the paper's two-stage recipe.

Same as `wavlink train`; kept as a script because `accelerate launch` and `torchrun` take a script path.

One CPU or one GPU::

    python scripts/train.py --stage 1 --config scripts/configs/wavlink-base-stage1.yaml
    python scripts/train.py --stage 2 --config scripts/configs/wavlink-base-stage2.yaml

Many GPUs on one machine (features are all-gathered across processes inside the loss, so the contrastive
batch is the global batch ``batch_size x processes``)::

    accelerate launch --num-processes 8 --mixed-precision bf16 scripts/train.py --stage 1 \
        --config scripts/configs/wavlink-base-stage1.yaml
    torchrun --nproc-per-node 8 scripts/train.py --stage 1 --config scripts/configs/wavlink-base-stage1.yaml

Several machines (run on each, with its own ``--node-rank``)::

    torchrun --nnodes 8 --nproc-per-node 8 --node-rank $RANK --rdzv-backend c10d \
        --rdzv-endpoint $MASTER:29500 scripts/train.py --stage 1 --config ...

Preemptible jobs: always pass ``--resume latest``; a run killed at any point (even SIGKILL) continues from its
newest complete checkpoint on the same trajectory. Override options without editing the file:
``--set lr=3e-4 --set mode=lora --set batch_size=64``; ``--dry-run`` prints the resolved config.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from wavlink.commands import train as command

    # 1. the command line (the same options as `wavlink train`)
    parser = argparse.ArgumentParser(description=command.HELP)
    command.add_arguments(parser)
    args = parser.parse_args(argv)

    # 2. the config: file + --stage + --set overrides, validated (unknown options are an error)
    try:
        config = command.build_config(args)
    except ValueError as err:
        parser.error(str(err))
    if args.dry_run:
        return command.run(args)

    # 3. train (or resume), evaluate, save checkpoints and the final model; see wavlink/training/trainer.py
    from wavlink.training import train

    result = train(config, resume=args.resume, step_delay=args.debug_step_delay)

    # 4. where things are
    print(f"steps: {result.step}")
    print(f"final model: {result.final_model_dir}")
    if result.adapter_dir:
        print(f"adapter: {result.adapter_dir}")
    if result.final_metrics:
        print("validation: " + ", ".join(f"{k} {v:.3f}" for k, v in result.final_metrics.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
