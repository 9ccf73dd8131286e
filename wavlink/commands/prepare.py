"""`wavlink prepare NAME SRC --out DIR`: a public dataset's published layout -> the package's caption manifests.

    wavlink prepare fsd50k ~/data/FSD50K --out data/fsd50k --ontology ~/data/ontology.json
    wavlink prepare clotho ~/data/clotho_v2.1 --out data/clotho
    wavlink prepare audiocaps ~/data/audiocaps --audio-dir ~/data/audiocaps_wav --out data/audiocaps
    wavlink prepare --list
"""

from __future__ import annotations

import argparse

from ._common import POSITIVE_INT

COMMAND = "prepare"
HELP = ("convert a public dataset (FSD50K, MACS, AudioSet strong, UrbanSound8K, Clotho, AudioCaps, Auto-ACD, "
        "AudioSetCaps) into caption manifests")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="dataset: fsd50k, macs, audioset-strong, urbansound8k, clotho, "
                                                "audiocaps, auto-acd, audiosetcaps (--list describes them)")
    parser.add_argument("src", nargs="?", help="the dataset's folder, as downloaded")
    parser.add_argument("--out", help="output folder: <split>.csv manifests, missing.csv, prepare_report.json")
    parser.add_argument("--list", action="store_true", help="list the datasets and the layout each expects")
    parser.add_argument("--audio-dir", default=None, help="where the audio is, when not in the dataset's layout "
                                                          "(YouTube-sourced sets: your download folder)")
    parser.add_argument("--split", action="append", default=None, choices=["train", "validation", "test"],
                        help="convert only this split (repeatable; default: every split the dataset has)")
    parser.add_argument("--ontology", default=None, help="AudioSet ontology.json (label names; fsd50k, audioset-strong)")
    parser.add_argument("--template", default=None,
                        help="caption template of label datasets with a {labels} placeholder "
                             "(default: 'The sounds of {labels}' / 'The sound of {labels}.')")
    parser.add_argument("--labels", choices=["all", "leaves"], default="all",
                        help="fsd50k: every label of a clip (default, as LAION) or only the most specific (needs --ontology)")
    parser.add_argument("--caption-style", choices=["temporal", "labels"], default="temporal",
                        help="audioset-strong: events in onset order (default) or the LAION label sentence")
    parser.add_argument("--max-captions-per-clip", type=POSITIVE_INT, default=None, metavar="N",
                        help="keep the first N captions of each clip (e.g. 1 for MACS gives the blog's 4K pairs)")
    parser.add_argument("--license", default=None, help="override the licence column")
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--probe-audio", action="store_true",
                        help="read every file's header: adds a duration column and reports unreadable files")
    parser.add_argument("--fail-on-missing", action="store_true",
                        help="fail (write nothing) when clips of the metadata have no audio; default: write the "
                             "others and list the missing ones in missing.csv")


def run(args: argparse.Namespace) -> int:
    from ..data.public import CONVERTERS, PrepareOptions, prepare

    if args.list:
        for name, module in CONVERTERS.items():
            print(f"{name:16s} {module.DESCRIPTION}\n{'':16s} layout: {module.LAYOUT}")
        return 0
    if not (args.name and args.src and args.out):
        raise ValueError("give NAME SRC --out DIR (or --list)")
    options = PrepareOptions(
        audio_dir=args.audio_dir, splits=args.split, ontology=args.ontology, template=args.template,
        labels=args.labels, caption_style=args.caption_style, max_captions_per_clip=args.max_captions_per_clip,
        license=args.license, format=args.format, probe=args.probe_audio, fail_on_missing=args.fail_on_missing,
    )
    result = prepare(args.name, args.src, args.out, options)
    print(result.summary())
    return 0
