"""AudioSetCaps (Bai et al. 2024, arXiv 2411.18953; huggingface.co/datasets/baijs/AudioSetCaps) -> caption
manifests (WavLink's stage 1 uses it with Auto-ACD).

Layout followed (the Hub dataset's ``Dataset/`` folder; the id formats as a public converter of these files
documents them, and the card's example id ``_7Xe9vD3Hpg_4_10``):

* ``SRC/Dataset/AudioSetCaps_caption.csv`` (AudioSet: ids ``Y<youtube_id>``),
  ``SRC/Dataset/VGGSound_AudioSetCaps_caption.csv`` (VGGSound: ``<youtube_id>_<start:06d>``) and
  ``SRC/Dataset/YouTube-8M_AudioSetCaps_caption.csv`` (YouTube-8M: ``<youtube_id>_<start>_<duration>``), each
  with columns ``id,caption`` (also accepted directly in ``SRC/``); the ``*_Q&A.csv`` files are not captions
  and are ignored;
* audio (YouTube, not distributed): ``SRC/audio/<subset>/`` (subset ``AudioSet``, ``VGGSound``,
  ``YouTube-8M``), ``SRC/audio/`` or ``--audio-dir``, named ``<id>`` as in the csv, ``Y<youtube_id>``,
  ``<youtube_id>_<start>`` or ``<youtube_id>`` (`youtube.youtube_stems`).

All rows are ``train`` (6.1M 10-second clips in all); the subset is kept as a column. Licence column:
"captions: CC BY 4.0 (AudioSetCaps); audio: YouTube video <id>" (the Hub card's licence is cc-by-4.0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .common import AudioIndex, LayoutError, PrepareOptions, Row, audio_folders, iter_csv_rows
from .youtube import youtube_stems

NAME = "audiosetcaps"
DESCRIPTION = "AudioSetCaps (6.1M generated captions: AudioSet, VGGSound, YouTube-8M)"
LAYOUT = ("SRC/Dataset/{AudioSetCaps,VGGSound_AudioSetCaps,YouTube-8M_AudioSetCaps}_caption.csv (id,caption); "
          "audio in SRC/audio/<subset>/, SRC/audio/ or --audio-dir")
FILES = {"AudioSet": "AudioSetCaps_caption.csv", "VGGSound": "VGGSound_AudioSetCaps_caption.csv",
         "YouTube-8M": "YouTube-8M_AudioSetCaps_caption.csv"}
YT8M_ID = re.compile(r"^(?P<ytid>.+)_(?P<start>\d+)_(?P<duration>\d+)$")
VGG_ID = re.compile(r"^(?P<ytid>.+)_(?P<start>\d{6})$")


def parse_id(subset: str, clip_id: str) -> tuple[str, str | None]:
    """(youtube id, start seconds or None) of an AudioSetCaps id of a subset."""
    if subset == "AudioSet":
        return (clip_id[1:] if clip_id.startswith("Y") else clip_id), None
    match = (YT8M_ID if subset == "YouTube-8M" else VGG_ID).match(clip_id)
    if match:
        return match.group("ytid"), match.group("start")
    return clip_id, None


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    tables = {}
    for subset, name in FILES.items():
        for folder in (src / "Dataset", src):
            if (folder / name).is_file():
                tables[subset] = folder / name
                break
    if not tables:
        raise LayoutError(f"no AudioSetCaps caption csv in {src}/Dataset or {src}\nexpected layout: {LAYOUT}")
    if not options.wants("train"):
        return
    for subset, table in tables.items():
        index = AudioIndex(audio_folders(options, [src / "audio" / subset, src / "audio"]))
        for origin, row in iter_csv_rows(table):
            if not {"id", "caption"} <= set(row):
                raise ValueError(f"{origin}: expected columns id, caption; got {sorted(row)}")
            caption = row["caption"].strip()
            if not caption:
                stats["empty_captions"] = stats.get("empty_captions", 0) + 1
                continue
            clip_id = row["id"]
            ytid, start = parse_id(subset, clip_id)
            stems = youtube_stems(ytid, start, own=[clip_id])
            yield Row(
                clip_id=clip_id, caption=caption, split="train",
                license=f"captions: CC BY 4.0 (AudioSetCaps); audio: YouTube video {ytid}", origin=origin,
                audio=index.find(stems), expected=" | ".join(stems[:3]) + " (any audio extension)",
                extra={"subset": subset, "youtube_id": ytid},
            )
