"""`wavlink build`: assemble a model from real pretrained checkpoints (no weight left uninitialised)."""

from __future__ import annotations

import argparse

COMMAND = "build"
HELP = "assemble a model folder from pretrained parts (Whisper + text encoder, or audio encoder + LLM)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=["wavlink", "omni"], default="wavlink")
    parser.add_argument("--whisper", help="wavlink: Whisper checkpoint folder or Hub id")
    parser.add_argument("--text", help="wavlink: text encoder folder or Hub id (CLIP, BERT/MiniLM, ...)")
    parser.add_argument("--projection-dim", type=int, default=None)
    parser.add_argument("--audio-encoder", help="omni: Qwen2.5-Omni / Qwen3-Omni / Whisper checkpoint")
    parser.add_argument("--llm", help="omni: causal LM checkpoint (Qwen2/2.5/3)")
    parser.add_argument("--num-layers", type=int, default=None, help="omni: keep the first N decoder layers")
    parser.add_argument("--preset", default=None,
                        help="omni: take the sources and layer count of a preset (m1..m4, omni-7b, omni-7b-l10, ...); "
                             "--audio-encoder/--llm/--num-layers override it")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from ..builder import save_model_folder

    if args.family == "omni":
        if not args.preset and not (args.audio_encoder and args.llm):
            raise ValueError("--family omni needs --audio-encoder and --llm, or --preset")
        from ..omni_builder import build_omni

        model, processor = build_omni(args.audio_encoder, args.llm, num_layers=args.num_layers, preset=args.preset,
                                      seed=args.seed)
    else:
        if args.preset:
            raise ValueError("--preset is for --family omni (wavlink build takes --whisper and --text)")
        if not (args.whisper and args.text):
            raise ValueError("wavlink build needs --whisper and --text")
        from ..builder import build_model

        model, processor = build_model(args.whisper, args.text, projection_dim=args.projection_dim, seed=args.seed)
    out = save_model_folder(model, processor, args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"built {args.family} model ({n / 1e6:.1f}M parameters) in {out}")
    return 0
