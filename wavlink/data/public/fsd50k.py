"""FSD50K (Fonseca et al. 2020; zenodo.org/records/4060432) -> caption manifests.

Layout followed (the Zenodo release unpacked, as soundata's FSD50K test resources mirror it,
github.com/soundata/soundata tests/resources/sound_datasets/fsd50k/):

* ``SRC/FSD50K.ground_truth/dev.csv``: ``fname,labels,mids,split`` (``split`` train / val), labels and mids
  comma-separated inside one quoted cell, already propagated to their ancestors
  ("Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music");
* ``SRC/FSD50K.ground_truth/eval.csv``: ``fname,labels,mids`` (no split column);
* ``SRC/FSD50K.ground_truth/vocabulary.csv``: no header, ``index,label,mid``;
* ``SRC/FSD50K.dev_audio/<fname>.wav`` and ``SRC/FSD50K.eval_audio/<fname>.wav``;
* optional ``SRC/FSD50K.metadata/{dev,eval}_clips_info_FSD50K.json``: ``{fname: {"title", "description",
  "tags", "license", "uploader"}}``, the Freesound licence of each clip.

Splits: dev ``train`` -> train, dev ``val`` -> validation, eval -> test (the blog's "41K" is the dev set,
40,966 clips: train + validation).

Captions: FSD50K has labels, not captions. They are rendered as LAION's audio-dataset did for FSD50K
(github.com/LAION-AI/audio-dataset, data_card/FSD50K.md): "The sounds of A, B and C" over the clip's labels,
named by the AudioSet ontology when ``--ontology ontology.json`` is given (e.g. "Wind instrument, woodwind
instrument"), else by FSD50K's vocabulary names with underscores as spaces. ``--labels all`` (default, as
LAION) keeps every label of the row, ancestors included; ``--labels leaves`` keeps only the most specific
ones (labels with no descendant in the row; needs the ontology). ``--template`` changes the sentence.

Licence column: the clip's Freesound licence URL when the clips-info JSON is there, else FSD50K's own
("CC BY 4.0 (FSD50K); per-clip Freesound licences in FSD50K.metadata"), as FSD50K.doc/LICENSE-DATASET says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .common import (
    AudioIndex,
    LayoutError,
    PrepareOptions,
    Row,
    audio_folders,
    descendants,
    fill_template,
    read_csv_rows,
    read_ontology,
    read_text,
    require_file,
)

NAME = "fsd50k"
DESCRIPTION = "FSD50K (Freesound, 200 AudioSet classes): labels -> 'The sounds of A, B and C'"
LAYOUT = ("SRC/FSD50K.ground_truth/{dev,eval,vocabulary}.csv, SRC/FSD50K.dev_audio/*.wav, "
          "SRC/FSD50K.eval_audio/*.wav (optional: SRC/FSD50K.metadata/*_clips_info_FSD50K.json)")
DEFAULT_TEMPLATE = "The sounds of {labels}"
DATASET_LICENSE = "CC BY 4.0 (FSD50K); per-clip Freesound licences in FSD50K.metadata"
SPLITS = {"train": "train", "val": "validation"}


def _clip_info(src: Path, part: str) -> dict[str, dict]:
    path = src / "FSD50K.metadata" / f"{part}_clips_info_FSD50K.json"
    if not path.is_file():
        return {}
    try:
        return {str(k): v for k, v in json.loads(read_text(path)).items()}
    except (json.JSONDecodeError, AttributeError) as err:
        raise ValueError(f"{path}: not the FSD50K clips-info JSON ({err})") from err


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    gt = src / "FSD50K.ground_truth"
    vocab_path = require_file(gt / "vocabulary.csv", "FSD50K vocabulary", LAYOUT)
    vocab = {row["2"]: row["1"].replace("_", " ") for _, row in read_csv_rows(vocab_path, header=False)
             if len(row) >= 3}
    onto_names, children = read_ontology(options.ontology) if options.ontology else ({}, {})
    if options.labels not in ("all", "leaves"):
        raise ValueError(f"--labels must be 'all' or 'leaves', got {options.labels!r}")
    if options.labels == "leaves" and not children:
        raise ValueError("--labels leaves needs the AudioSet ontology (--ontology ontology.json)")
    template = options.template or DEFAULT_TEMPLATE
    parts = [("dev", gt / "dev.csv"), ("eval", gt / "eval.csv")]
    if not any(p.is_file() for _, p in parts):
        raise LayoutError(f"FSD50K ground truth not found: {gt}/dev.csv or eval.csv\nexpected layout: {LAYOUT}")
    for part, table in parts:
        if not table.is_file():
            continue
        folders = audio_folders(options, [src / f"FSD50K.{part}_audio"])
        index = AudioIndex(folders)
        info = _clip_info(src, part)
        for origin, row in read_csv_rows(table):
            if not {"fname", "labels", "mids"} <= set(row):
                raise ValueError(f"{origin}: expected columns fname, labels, mids; got {sorted(row)}")
            split = "test" if part == "eval" else SPLITS.get(row.get("split", "").lower())
            if split is None:
                raise ValueError(f"{origin}: split {row.get('split')!r} is not train or val")
            if not options.wants(split):
                continue
            mids = [m.strip() for m in row["mids"].split(",") if m.strip()]
            labels = [x.strip() for x in row["labels"].split(",") if x.strip()]
            if len(mids) != len(labels):
                raise ValueError(f"{origin}: {len(labels)} labels but {len(mids)} mids")
            label_of = dict(zip(mids, labels))
            if options.labels == "leaves":
                present = set(mids)
                mids = [m for m in mids if not (descendants(children, m) & present)]
            names = [onto_names.get(m) or vocab.get(m) or label_of[m].replace("_", " ") for m in mids]
            if not names:
                stats["empty_captions"] = stats.get("empty_captions", 0) + 1
                continue
            fname = row["fname"]
            clip_info = info.get(fname, {})
            yield Row(
                clip_id=fname, caption=fill_template(template, names), split=split,
                license=str(clip_info.get("license") or DATASET_LICENSE), origin=origin,
                audio=index.find([fname]), expected=f"FSD50K.{part}_audio/{fname}.wav",
                extra={"labels": ",".join(labels), "mids": row["mids"],
                       **({"uploader": clip_info["uploader"]} if clip_info.get("uploader") else {})},
            )
