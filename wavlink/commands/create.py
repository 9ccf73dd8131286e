"""`wavlink create`: write a randomly initialised, loadable model folder of a preset."""

from __future__ import annotations

import argparse

from ..families import FAMILIES, get_family
from ._common import SEED

COMMAND = "create"
HELP = "write a randomly initialised model folder (model + processor) for a preset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=sorted(FAMILIES), default="wavlink")
    parser.add_argument("--preset", required=True, help="e.g. base, small, large, tiny-random (omni: m1..m4)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokenizer", default=None,
                        help="tokenizer folder/Hub id, or 'byte-level' (offline; default: the preset's own)")
    parser.add_argument("--seed", type=SEED, default=0)


def run(args: argparse.Namespace) -> int:
    from ..builders.folder import save_model_folder  # lazy: torch loads only when a command runs

    model, processor = get_family(args.family).create(args.preset, tokenizer=args.tokenizer, seed=args.seed)
    out = save_model_folder(model, processor, args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.family} preset {args.preset!r} ({n / 1e6:.1f}M parameters, random weights) to {out}")
    return 0
