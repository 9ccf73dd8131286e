"""Auto-ACD (Sun et al., ACM MM 2024, arXiv 2309.11500; huggingface.co/datasets/Loie/Auto-ACD) -> caption
manifests (WavLink's stage 1 uses it with AudioSetCaps).

Layout followed (the Hub dataset's card: "We provide a csv file. For each data pairs, we provide YouTube URLs
and generated caption", columns "YouTube ID, caption"; the ids carry a 6-digit suffix, the clip's start second
in the video, "oPRC3zComfA_000117", as the authors answered in github.com/LoieSun/Auto-ACD issue 3):

* ``SRC/train.csv`` and/or ``SRC/test.csv``: ``youtube_id,caption`` (a header row is recognised and skipped; a
  file without one works too), ids ``<youtube_id>_<start:06d>`` (AudioSet and VGGSound clips, 10 s);
* audio (YouTube, not distributed): ``SRC/audio/{train,test}/``, ``SRC/audio/``, ``SRC/{train,test}/`` or
  ``--audio-dir``, named ``<id>`` as in the csv, ``<youtube_id>_<start>`` (other start formats),
  ``Y<youtube_id>`` or ``<youtube_id>`` (`youtube.youtube_stems`).

Splits: train.csv -> train, test.csv -> test. One row per csv row. Licence column: "captions: Auto-ACD
(huggingface.co/datasets/Loie/Auto-ACD; its card states no licence); audio: YouTube video <id>".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .common import AudioIndex, LayoutError, PrepareOptions, Row, audio_folders, iter_csv_rows
from .youtube import youtube_stems

NAME = "auto-acd"
DESCRIPTION = "Auto-ACD (1.5M+ generated captions of AudioSet / VGGSound clips)"
LAYOUT = "SRC/train.csv and/or SRC/test.csv (youtube_id,caption); audio in SRC/audio/<split>/, SRC/audio/ or --audio-dir"
PARTS = {"train": "train", "test": "test"}
ID_SUFFIX = re.compile(r"^(?P<ytid>.+)_(?P<start>\d+(?:\.\d+)?)$")
HEADER_KEYS = {"youtube_id", "youtube id", "id", "ytid", "# youtube id"}


def split_id(clip_id: str) -> tuple[str, str | None]:
    """'oPRC3zComfA_000117' -> ('oPRC3zComfA', '000117'); an id without a numeric suffix has no start."""
    match = ID_SUFFIX.match(clip_id)
    if match and len(match.group("ytid")) >= 11:
        return match.group("ytid"), match.group("start")
    return clip_id, None


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    tables = {part: src / f"{part}.csv" for part in PARTS}
    if not any(p.is_file() for p in tables.values()):
        raise LayoutError(f"no Auto-ACD train.csv / test.csv in {src}\nexpected layout: {LAYOUT}")
    for part, table in tables.items():
        split = PARTS[part]
        if not table.is_file() or not options.wants(split):
            continue
        index = AudioIndex(audio_folders(options, [src / "audio" / part, src / "audio", src / part]))
        for n, (origin, row) in enumerate(iter_csv_rows(table, header=False)):
            if len(row) < 2:
                raise ValueError(f"{origin}: expected two columns, youtube_id and caption")
            clip_id, caption = row["0"], ",".join(row[str(i)] for i in range(1, len(row))).strip()
            if n == 0 and clip_id.strip().lower() in HEADER_KEYS:
                continue
            if not caption:
                stats["empty_captions"] = stats.get("empty_captions", 0) + 1
                continue
            ytid, start = split_id(clip_id)
            stems = youtube_stems(ytid, start, own=[clip_id])
            yield Row(
                clip_id=clip_id, caption=caption, split=split,
                license=f"captions: Auto-ACD (huggingface.co/datasets/Loie/Auto-ACD; its card states no licence); "
                        f"audio: YouTube video {ytid}",
                origin=origin, audio=index.find(stems), expected=" | ".join(stems[:3]) + " (any audio extension)",
                extra={"youtube_id": ytid, **({"start_time": float(start)} if start is not None else {})},
            )
