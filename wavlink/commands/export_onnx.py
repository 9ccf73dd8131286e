"""`wavlink export-onnx`: the audio and text towers as ONNX graphs for onnxruntime."""

from __future__ import annotations

import argparse
import json

COMMAND = "export-onnx"
HELP = "export a WavLink model's audio and text towers to ONNX (dynamic batch/frames; needs the [onnx] extra)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model folder or Hub id (WavLinkModel)")
    parser.add_argument("--out", required=True, help="output folder (audio.onnx, text.onnx, processor files)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running both graphs once in onnxruntime against PyTorch")


def run(args: argparse.Namespace) -> int:
    from ..onnx_export import MANIFEST, export_onnx

    out = export_onnx(args.model, args.out, check=not args.no_check)
    manifest = json.loads((out / MANIFEST).read_text())
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in manifest["max_abs_difference_vs_pytorch"].items())
    print(f"wrote {out / manifest['audio']} and {out / manifest['text']}"
          + (f" (max |onnxruntime - PyTorch|: {diffs})" if diffs else ""))
    return 0
