"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model folder or Hub id (default: the package's default model, see `wavlink default`)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--revision", default=None,
                        help="branch, tag or commit of a Hub --model (default: main; not for local folders)")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default=None,
                        help="load the weights in this precision (default: as saved; bfloat16 is the fast CPU "
                             "option on CPUs with AVX-512 BF16 / AMX)")
    parser.add_argument("--int8", action="store_true",
                        help="int8 dynamic quantisation of every Linear layer after loading (CPU only; faster, "
                             "embeddings shift slightly: see docs/bench_embed.md)")
    parser.add_argument("--dim", type=int, default=None, help="Matryoshka width (one of the trained dims)")


def model_load_options(args: argparse.Namespace) -> dict[str, str]:
    """The --revision / --dtype / --int8 given, as keyword arguments of `Embedder.load`."""
    options = {k: v for k, v in (("revision", args.revision), ("dtype", args.dtype)) if v is not None}
    if getattr(args, "int8", False):
        options["int8"] = True
    return options


def load_embedder(args: argparse.Namespace):
    from ..inference import Embedder

    return Embedder.load(args.model, device=args.device, batch_size=args.batch_size, **model_load_options(args))


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout (notes and progress go to stderr)")


@contextlib.contextmanager
def stdout_reserved_for_json(enabled: bool) -> Iterator[None]:
    """With --json, whatever the work prints (e.g. assembling the default model) goes to stderr, so stdout
    holds the JSON document only."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np  # lazy: `wavlink --help` imports no numpy

    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T
