"""UrbanSound8K (Salamon, Jacoby & Bello 2014; urbansounddataset.weebly.com/urbansound8k.html) -> caption
manifests for training (``wavlink eval --task us8k`` reads the same layout for zero-shot evaluation).

Layout followed (the dataset page, and the loader ``evaluation.benchmarks.load_us8k`` of this package):

* ``SRC/metadata/UrbanSound8K.csv``: ``slice_file_name,fsID,start,end,salience,fold,classID,class``;
* ``SRC/audio/fold1/`` ... ``SRC/audio/fold10/``: ``<slice_file_name>`` (``[fsID]-[classID]-[occurrence]-[slice].wav``).

Captions: LAION's audio-dataset template for UrbanSound8K (github.com/LAION-AI/audio-dataset,
data_card/UrbanSound8K.md): "The sound of " + class name (underscores as spaces) + "." ("The sound of dog bark.");
``--template`` changes it. All 8,732 clips are ``train`` (the blog trains on all of them, "9K"); the official
``fold`` is kept as a column for cross-validation, and ``salience`` and ``freesound_id`` too.

Licence column: "CC BY-NC 3.0 (UrbanSound8K); Freesound sound <fsID>": the dataset README (UrbanSound8K_README.txt)
offers it "for non-commercial use only" under CC BY-NC 3.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .common import AudioIndex, PrepareOptions, Row, audio_folders, fill_template, read_csv_rows, require_file

NAME = "urbansound8k"
DESCRIPTION = "UrbanSound8K (10 urban classes): labels -> 'The sound of <class>.'"
LAYOUT = "SRC/metadata/UrbanSound8K.csv and SRC/audio/fold1 ... fold10/*.wav"
DEFAULT_TEMPLATE = "The sound of {labels}."
SALIENCE = {"1": "foreground", "2": "background"}


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    meta = require_file(src / "metadata" / "UrbanSound8K.csv", "UrbanSound8K metadata", LAYOUT)
    if not options.wants("train"):
        return
    template = options.template or DEFAULT_TEMPLATE
    index = AudioIndex(audio_folders(options, [src / "audio"]))
    for origin, row in read_csv_rows(meta):
        if not {"slice_file_name", "fold", "class"} <= set(row):
            raise ValueError(f"{origin}: expected columns slice_file_name, fsID, fold, classID, class; got {sorted(row)}")
        name = row["slice_file_name"]
        label = row["class"].replace("_", " ").strip()
        if not label:
            stats["empty_captions"] = stats.get("empty_captions", 0) + 1
            continue
        stem = Path(name).stem
        fs_id = row.get("fsID", "")
        yield Row(
            clip_id=stem, caption=fill_template(template, [label]), split="train",
            license=f"CC BY-NC 3.0 (UrbanSound8K); Freesound sound {fs_id}".rstrip(), origin=origin,
            audio=index.find([stem]), expected=f"audio/fold{row['fold']}/{name}",
            extra={"label": row["class"], "fold": row["fold"], "freesound_id": fs_id,
                   "salience": SALIENCE.get(row.get("salience", ""), row.get("salience", ""))},
        )
