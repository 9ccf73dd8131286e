"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


class Number:
    """An argparse ``type`` for a numeric flag, checked when the command line is parsed (before any model is
    loaded): ``Number(int, low=1)``, ``Number(float, low=0, high=1, high_open=True)``. NaN and inf are refused."""

    def __init__(self, kind: type, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> None:
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return what + (" " + " and ".join(bounds) if bounds else "")

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}") from None
        ok = math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value < self.high if self.high_open else value <= self.high
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.describe()})"


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help unless the help already says its default or there is none to say
    (None, False, an empty list): argparse's ArgumentDefaultsHelpFormatter would print "(default: None)" on
    required options and a second default after help texts that explain theirs."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        nothing = action.default is None or action.default is False or action.default == []  # 0 is a default
        if not action.option_strings or "default" in text or nothing or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


POSITIVE_INT = Number(int, low=1)
COUNT = Number(int, low=0)  # zero allowed (workers, extra steps)
SEED = Number(int, low=0, high=2**32 - 1)
PORT = Number(int, low=1, high=65535)
POSITIVE = Number(float, low=0, low_open=True)
NON_NEGATIVE = Number(float, low=0)
FRACTION = Number(float, low=0, high=1, high_open=True)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model folder or Hub id (default: the package's default model, see `wavlink default`)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument("--batch-size", type=POSITIVE_INT, default=16)
    parser.add_argument("--revision", default=None,
                        help="branch, tag or commit of a Hub --model (default: main; not for local folders)")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default=None,
                        help="load the weights in this precision (default: as saved; bfloat16 is the fast CPU "
                             "option on CPUs with AVX-512 BF16 / AMX)")
    parser.add_argument("--int8", action="store_true",
                        help="int8 dynamic quantisation of every Linear layer after loading (CPU only; faster, "
                             "embeddings shift slightly: see docs/bench_embed.md)")
    parser.add_argument("--dim", type=POSITIVE_INT, default=None, help="Matryoshka width (one of the trained dims)")
    add_trust_argument(parser)


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow a --model that is not a wavlink/omni model to run the Python code in its folder "
                             "(off by default; wavlink and omni folders never need it: the package's own classes "
                             "load them and their .py files are not run)")


def model_load_options(args: argparse.Namespace) -> dict[str, str]:
    """The --revision / --dtype / --int8 given, as keyword arguments of `Embedder.load`."""
    options = {k: v for k, v in (("revision", args.revision), ("dtype", args.dtype)) if v is not None}
    if getattr(args, "int8", False):
        options["int8"] = True
    return options


def load_embedder(args: argparse.Namespace):
    from ..inference import Embedder

    return Embedder.load(args.model, device=args.device, batch_size=args.batch_size,
                         trust_remote_code=bool(getattr(args, "trust_remote_code", False)), **model_load_options(args))


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


def display_path(path: str) -> str:
    """A path as printed in a table: one that opens from the current directory (relative when the file is under
    it, absolute otherwise), with control and line-separator characters (newline, U+2028, ...) escaped so that a
    row stays one line. The --json output carries paths unescaped."""
    relative = os.path.relpath(path)
    shown = os.path.abspath(path) if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c)[0] in "CZ" and c != " "
                   else c for c in shown)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np  # lazy: `wavlink --help` imports no numpy

    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T
