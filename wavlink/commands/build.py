"""`wavlink build`: assemble a model from real pretrained checkpoints (no weight left uninitialised)."""

from __future__ import annotations

import argparse

from ..defaults import FAMILY_NAMES
from ._common import POSITIVE_INT, SEED

COMMAND = "build"
HELP = "assemble a model folder from pretrained parts (Whisper + text encoder, or audio encoder + LLM)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=sorted(FAMILY_NAMES), default="wavlink")
    parser.add_argument("--whisper", help="wavlink: Whisper checkpoint folder or Hub id")
    parser.add_argument("--text", help="wavlink: text encoder folder or Hub id (CLIP, BERT/MiniLM, ...)")
    parser.add_argument("--projection-dim", type=POSITIVE_INT, default=None)
    parser.add_argument("--audio-encoder", help="omni: Qwen2.5-Omni / Qwen3-Omni / Whisper checkpoint")
    parser.add_argument("--llm", help="omni: causal LM checkpoint (Qwen2/2.5/3)")
    parser.add_argument("--num-layers", type=POSITIVE_INT, default=None, help="omni: keep the first N decoder layers")
    parser.add_argument("--preset", default=None,
                        help="omni: take the sources and layer count of a preset (m1..m4, omni-7b, omni-7b-l10, ...); "
                             "--audio-encoder/--llm/--num-layers override it")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=SEED, default=0)


def run(args: argparse.Namespace) -> int:
    from ..builders.families import FAMILIES, get_family  # lazy: torch loads only when a command runs
    from ..builders.wavlink import save_model_folder

    family = get_family(args.family)
    own = {family.cli_audio, family.cli_text, *family.cli_options}
    foreign = sorted({name for f in FAMILIES.values() for name in (f.cli_audio, f.cli_text, *f.cli_options)} - own)
    given = ["--" + name.replace("_", "-") for name in foreign if getattr(args, name) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: not an option of --family {family.name}")
    options = {name: getattr(args, name) for name in family.cli_options if getattr(args, name) is not None}
    model, processor = family.build(getattr(args, family.cli_audio), getattr(args, family.cli_text),
                                    seed=args.seed, **options)
    out = save_model_folder(model, processor, args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"built {args.family} model ({n / 1e6:.1f}M parameters) in {out}")
    return 0
