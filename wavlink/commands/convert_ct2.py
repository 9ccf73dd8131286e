"""`wavlink convert-ct2`: a CTranslate2 (faster-whisper) Whisper to a transformers Whisper folder."""

from __future__ import annotations

import argparse

COMMAND = "convert-ct2"
HELP = "convert a CTranslate2 Whisper model (model.bin, or pip:whisper-base / pip:whisper-tiny.en) to transformers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="CTranslate2 model folder, or pip:whisper-base / pip:whisper-tiny.en")
    parser.add_argument("--out", required=True, help="output transformers Whisper folder")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])


def run(args: argparse.Namespace) -> int:
    from ..builders.convert_ct2 import main as convert_main

    argv = [args.src, "--out", args.out]
    if args.dtype != "float32":
        argv += ["--dtype", args.dtype]
    return convert_main(argv)
