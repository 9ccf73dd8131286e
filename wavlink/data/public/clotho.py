"""Clotho v2.1 (Drossos, Lipping & Virtanen 2020; zenodo.org/records/4783391) -> caption manifests.

Layout followed (the Zenodo record's files, as the Clotho loader of this package, ``load_clotho``, and
Labbeti/aac-datasets ``datasets/functional/clotho.py`` read them):

* ``SRC/clotho_captions_<split>.csv``: ``file_name,caption_1,...,caption_5`` for ``development``,
  ``validation`` and ``evaluation``;
* ``SRC/<split>/<file_name>`` (the extracted ``clotho_audio_<split>.7z``; also ``SRC/clotho_audio_<split>/``);
* optional ``SRC/clotho_metadata_<split>.csv``: ``file_name,keywords,sound_id,sound_link,start_end_samples,
  manufacturer,license`` (not always UTF-8; read as Windows-1252 when it is not).

Splits: development -> train (3,839 clips x 5 = the blog's "19K" captions), validation -> validation,
evaluation -> test. One row per caption. Licence column: the clip's Freesound licence from the metadata file,
else "Clotho (zenodo.org/records/4783391); Freesound clip licences in clotho_metadata_<split>.csv".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .common import AudioIndex, LayoutError, PrepareOptions, Row, audio_folders, read_csv_rows

NAME = "clotho"
DESCRIPTION = "Clotho v2.1 (Freesound clips, 5 human captions each)"
LAYOUT = ("SRC/clotho_captions_{development,validation,evaluation}.csv and SRC/{development,validation,"
          "evaluation}/*.wav (optional: SRC/clotho_metadata_<split>.csv)")
PARTS = {"development": "train", "validation": "validation", "evaluation": "test"}
DATASET_LICENSE = "Clotho (zenodo.org/records/4783391); Freesound clip licences in clotho_metadata_{part}.csv"


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    found = [part for part in PARTS if (src / f"clotho_captions_{part}.csv").is_file()]
    if not found:
        raise LayoutError(f"no clotho_captions_<split>.csv in {src}\nexpected layout: {LAYOUT}")
    for part in found:
        split = PARTS[part]
        if not options.wants(split):
            continue
        meta_path = src / f"clotho_metadata_{part}.csv"
        meta = {row.get("file_name", ""): row for _, row in read_csv_rows(meta_path)} if meta_path.is_file() else {}
        index = AudioIndex(audio_folders(options, [src / part, src / f"clotho_audio_{part}"]))
        for origin, row in read_csv_rows(src / f"clotho_captions_{part}.csv"):
            columns = sorted((c for c in row if c.startswith("caption_")), key=lambda c: int(c.split("_")[1]))
            if "file_name" not in row or not columns:
                raise ValueError(f"{origin}: expected columns file_name, caption_1..caption_5; got {sorted(row)}")
            name = row["file_name"]
            stem = Path(name).stem
            info = meta.get(name, {})
            license_ = info.get("license") or DATASET_LICENSE.format(part=part)
            extra = {k: info[k] for k in ("sound_id", "sound_link") if info.get(k)}
            audio = index.find([stem])
            for column in columns:
                caption = (row.get(column) or "").strip()
                if not caption:
                    stats["empty_captions"] = stats.get("empty_captions", 0) + 1
                    continue
                yield Row(clip_id=name, caption=caption, split=split, license=license_,
                          origin=f"{origin} {column}", audio=audio, expected=f"{part}/{name}", extra=dict(extra))
