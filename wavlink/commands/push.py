"""`wavlink push`: publish a model / adapter folder, or every preset of both families, to the Hub.

Every repo is staged locally, reloaded in a fresh process without `wavlink` (transformers alone and
sentence-transformers alone must reproduce the embeddings computed before upload), and only then uploaded
as one atomic commit. `--dry-run OUTDIR` stops before the upload and leaves exactly the files that would be
uploaded in `OUTDIR/<org>/<name>/`.

    wavlink push --model out/base --repo my-org/wavlink-base --results eval/clotho.json
    wavlink push --model adapter --repo my-org/wavlink-base-lora-dogs --base-repo my-org/wavlink-base \\
        --base-folder out/base
    wavlink push --all-sizes --org my-org --dry-run hub_out --tokenizer byte-level
    wavlink push --all-sizes --org my-org --from-pretrained --private
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..families import FAMILIES
from ._common import NON_NEGATIVE, POSITIVE_INT, SEED

COMMAND = "push"
HELP = "publish model/adapter folders (or every preset: --all-sizes) to the Hugging Face Hub, verified"
WEIGHTS = ("random", "pretrained-components", "trained", "unspecified")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to publish (one of)")
    what.add_argument("--model", metavar="DIR", help="a model folder (or a LoRA adapter folder) to publish")
    what.add_argument("--all-sizes", action="store_true", help="build and publish every preset of every family")
    parser.add_argument("--repo", metavar="ORG/NAME", help="target repo of --model")
    parser.add_argument("--org", help="namespace of the --all-sizes repos (ORG/wavlink-base, ...)")

    sizes = parser.add_argument_group("--all-sizes")
    sizes.add_argument("--family", choices=[*sorted(FAMILIES), "all"], default="all")
    sizes.add_argument("--presets", type=_csv, default=None, metavar="A,B",
                       help="only these presets (preset or repo names, e.g. base,omni-audio-embedder-m1)")
    sizes.add_argument("--from-pretrained", action="store_true",
                       help="assemble each preset from its real pretrained checkpoints (default: random weights)")
    sizes.add_argument("--tiny-standins", action="store_true",
                       help="build every preset with the tiny-random architecture under its real name (tests)")
    sizes.add_argument("--tokenizer", default=None,
                       help="tokenizer for random builds: folder/Hub id or 'byte-level' (offline)")
    sizes.add_argument("--seed", type=SEED, default=0)
    sizes.add_argument("--results-dir", metavar="DIR",
                       help="`wavlink eval` JSON files per repo: DIR/<repo name>/*.json")

    card = parser.add_argument_group("model card")
    card.add_argument("--results", action="append", default=[], metavar="JSON",
                      help="`wavlink eval` results of --model (repeatable): results table + model-index")
    card.add_argument("--preset", help="the preset --model was made from (default: guessed from the repo name)")
    card.add_argument("--weights", choices=WEIGHTS, default="unspecified", help="what the --model weights are")
    card.add_argument("--component", action="append", default=[], metavar="HUB_ID",
                      help="checkpoint the --model weights were initialised from (card base_model; repeatable)")
    card.add_argument("--license", default=None,
                      help="card licence (default: apache-2.0, or the research licence of a Qwen component the "
                           "weights were initialised from, e.g. Qwen2.5-3B in m2/m3)")
    card.add_argument("--dataset", action="append", default=[], metavar="HUB_ID",
                      help="training dataset for the card's `datasets` (repeatable)")
    card.add_argument("--card-templates", metavar="DIR", help="use these templates instead of the packaged wavlink/hub_cards/")

    adapter = parser.add_argument_group("adapters")
    adapter.add_argument("--base-repo", metavar="ORG/NAME",
                         help="Hub id of the adapter's base model (written to adapter_config.json and the card)")
    adapter.add_argument("--base-folder", metavar="DIR", help="local copy of the base, to verify the adapter")

    hub = parser.add_argument_group("upload")
    hub.add_argument("--dry-run", metavar="OUTDIR", help="write OUTDIR/<org>/<name>/ instead of uploading")
    hub.add_argument("--private", action="store_true", help="create new repos as private")
    hub.add_argument("--revision", help="branch to commit to (created if missing)")
    hub.add_argument("--commit-message", default=None)
    hub.add_argument("--retries", type=POSITIVE_INT, default=3, help="attempts per Hub call on network errors")
    hub.add_argument("--retry-delay", type=NON_NEGATIVE, default=2.0, help="first backoff delay in seconds (doubles)")
    hub.add_argument("--keep-remote-files", action="store_true",
                     help="keep files already in the repo that this upload lacks (default: the same commit "
                          "deletes them, so the repo holds exactly the verified files)")
    hub.add_argument("--no-verify", action="store_true", help="skip the fresh-process reload check")
    hub.add_argument("--verify-remote", action="store_true",
                     help="after each commit, download it from the Hub and run the reload check on that copy too")
    hub.add_argument("--overwrite", action="store_true", help="replace existing dry-run output folders")
    hub.add_argument("--trust-remote-code", action="store_true",
                     help="let the reload check run a folder's .py files that differ from this package's own")


def run(args: argparse.Namespace) -> int:
    from ..hub import PublishOptions, PushError, RetryPolicy, VerificationError
    from ..hub.publish import publish_all_sizes, publish_folder

    if bool(args.model) == bool(args.all_sizes):
        raise ValueError("give either --model DIR (with --repo) or --all-sizes (with --org)")
    if args.verify_remote and (args.no_verify or args.dry_run):
        raise ValueError("--verify-remote checks an uploaded commit: it needs a real push with verification "
                         "(not --dry-run, not --no-verify)")
    options = PublishOptions(
        dry_run=Path(args.dry_run) if args.dry_run else None, private=args.private, revision=args.revision,
        commit_message=args.commit_message, verify=not args.no_verify, overwrite=args.overwrite,
        license=args.license, datasets=args.dataset, retry=RetryPolicy(args.retries, args.retry_delay),
        template_dir=Path(args.card_templates) if args.card_templates else None,
        keep_remote_files=args.keep_remote_files, verify_remote=args.verify_remote,
        trust_remote_code=args.trust_remote_code,
    )
    try:
        if args.model:
            if not args.repo:
                raise ValueError("--model needs --repo ORG/NAME")
            publish_folder(args.model, args.repo, options, preset=args.preset, weights=args.weights,
                           components=args.component, results=args.results, base_repo=args.base_repo,
                           base_folder=args.base_folder)
        else:
            if not args.org:
                raise ValueError("--all-sizes needs --org ORG")
            families = list(FAMILIES) if args.family == "all" else [args.family]
            publish_all_sizes(args.org, options, families=families, presets=args.presets,
                              pretrained=args.from_pretrained, standins=args.tiny_standins,
                              tokenizer=args.tokenizer, seed=args.seed, results_dir=args.results_dir)
    except (PushError, VerificationError) as err:
        print(f"wavlink push: error: {err}", file=sys.stderr)
        return 1
    return 0
