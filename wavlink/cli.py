"""The `wavlink` command line. Each subcommand is a module of `wavlink.commands` (found automatically)
exposing `COMMAND`, `HELP`, `add_arguments(parser)` and `run(args) -> int`."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings

from . import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wavlink", description="Audio-text embedding models on the Hugging Face Hub.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        cmd = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _quiet_libraries() -> None:
    """Keep the CLI output readable unless WAVLINK_VERBOSE=1: no weight-loading tables or shard progress bars, and
    no FutureWarning / DeprecationWarning of the libraries underneath (they address the package's code, which the
    user of a command cannot change). The package's own notes are plain prints and warnings of other categories."""
    if os.environ.get("WAVLINK_VERBOSE"):
        return
    for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    from .errors import EnvironmentProblem

    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"wavlink {args.command}: error: {err}", file=sys.stderr)
        return 2
    except EnvironmentProblem as err:
        print(f"wavlink {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
