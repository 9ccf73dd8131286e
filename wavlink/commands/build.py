"""`wavlink build`: assemble a model from real pretrained checkpoints (no weight left uninitialised).

The options are the families' own (`Family.build_options` in `wavlink.families`): a family's two tower
sources and whatever else its builder takes.
"""

from __future__ import annotations

import argparse

from ..families import FAMILIES, BuildOption, get_family
from ._common import POSITIVE_INT, SEED

COMMAND = "build"
HELP = "assemble a model folder from pretrained parts (Whisper + text encoder, or audio encoder + LLM)"


def _all_options() -> dict[str, BuildOption]:
    """Every family's build options by name (a name two families share is one option)."""
    return {o.name: o for family in FAMILIES.values() for o in family.build_options}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=sorted(FAMILIES), default="wavlink")
    for option in _all_options().values():
        parser.add_argument("--" + option.name.replace("_", "-"), type=POSITIVE_INT if option.integer else str,
                            default=None, help=option.help or None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=SEED, default=0)


def run(args: argparse.Namespace) -> int:
    from ..builders.folder import save_model_folder  # lazy: torch loads only when a command runs

    family = get_family(args.family)
    own = {o.name for o in family.build_options}
    given = ["--" + name.replace("_", "-") for name in sorted(set(_all_options()) - own)
             if getattr(args, name) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: not an option of --family {family.name}")
    options = {o.name: getattr(args, o.name) for o in family.build_options
               if o.role is None and getattr(args, o.name) is not None}
    model, processor = family.build(getattr(args, family.option("audio").name),
                                    getattr(args, family.option("text").name), seed=args.seed, **options)
    out = save_model_folder(model, processor, args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"built {args.family} model ({n / 1e6:.1f}M parameters) in {out}")
    return 0
