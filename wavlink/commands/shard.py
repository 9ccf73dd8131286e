"""`wavlink shard`: write a manifest's (or audio folder's) clips as WebDataset shards for streamed training.

    wavlink shard data/train.csv --out shards/ --shard-size 1000
    wavlink train --config cfg.yaml --data 'shards/shard-{000000..000099}.tar'
"""

from __future__ import annotations

import argparse
import os

from ._common import POSITIVE_INT

COMMAND = "shard"
HELP = "write a manifest's clips as WebDataset shards (tar) plus shards.json, for streamed training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", help="CSV/TSV/JSONL/JSON manifest (audio + caption columns) or audio folder")
    parser.add_argument("--out", required=True, help="output folder for the shards")
    parser.add_argument("--shard-size", type=POSITIVE_INT, default=1000, help="samples (clips) per shard")
    parser.add_argument("--prefix", default="shard", help="shard file prefix: PREFIX-000000.tar, ...")
    parser.add_argument("--split", default=None, help="only rows of this split (train/validation/test)")
    parser.add_argument("--on-bad-audio", choices=["fail", "skip"], default="fail",
                        help="a clip that does not decode: stop naming it (default) or leave it out")


def run(args: argparse.Namespace) -> int:
    from ..training.shard_writer import write_shards

    index = write_shards(args.manifest, args.out, shard_size=args.shard_size, prefix=args.prefix, split=args.split,
                         on_bad_audio=args.on_bad_audio, progress=True)
    first, last = index["shards"][0], index["shards"][-1]
    pattern = first if first == last else f"{first[:-10]}{{{first[-10:-4]}..{last[-10:-4]}}}.tar"
    print(f"wrote {index['samples']} samples in {len(index['shards'])} shard(s) to {args.out}"
          + (f" (skipped {index['skipped']} bad clip(s))" if index["skipped"] else ""))
    print(f"train with: --data '{os.path.join(args.out, pattern)}'")
    return 0
