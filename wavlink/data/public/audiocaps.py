"""AudioCaps (Kim et al., NAACL 2019; github.com/cdjkim/audiocaps) -> caption manifests.

Layout followed (the repository's ``dataset/`` (v1) and ``dataset2.0/`` (v2) folders, and the AudioCaps
loader of this package, ``evaluation.benchmarks.load_audiocaps``):

* ``SRC/{train,val,test}.csv`` (or ``SRC/dataset/`` / ``SRC/dataset2.0/``): ``audiocap_id,youtube_id,
  start_time,caption``, one row per caption (train: 1 caption per clip, val / test: 5);
* the audio is not distributed (YouTube). Looked for under ``SRC/audio/<split>/``, ``SRC/<split>/``,
  ``SRC/audio/``, ``SRC/waveforms/<split>/`` or ``--audio-dir``, named after any of the usual download
  conventions (``youtube.youtube_stems``: ``<youtube_id>_<start_time>``, ``Y<youtube_id>``, ``<youtube_id>``,
  ``<audiocap_id>``; any audio extension). Clips no longer on YouTube are the usual missing ones: they are
  listed in ``missing.csv``.

Splits: train -> train, val -> validation, test -> test. Licence column: "captions: MIT (AudioCaps
repository LICENSE); audio: YouTube video <id> (AudioSet)"; the audio's rights stay with its uploader.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .common import AudioIndex, LayoutError, PrepareOptions, Row, audio_folders, iter_csv_rows
from .youtube import youtube_stems

NAME = "audiocaps"
DESCRIPTION = "AudioCaps (AudioSet clips, human captions)"
LAYOUT = ("SRC/{train,val,test}.csv (or SRC/dataset/, SRC/dataset2.0/) with audiocap_id,youtube_id,start_time,"
          "caption; audio in SRC/audio/<split>/, SRC/<split>/, SRC/audio/ or --audio-dir")
PARTS = {"train": "train", "val": "validation", "test": "test"}


def _table(src: Path, part: str) -> Path | None:
    for folder in (src, src / "dataset2.0", src / "dataset"):
        if (folder / f"{part}.csv").is_file():
            return folder / f"{part}.csv"
    return None


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    tables = {part: _table(src, part) for part in PARTS}
    if not any(tables.values()):
        raise LayoutError(f"no AudioCaps train.csv / val.csv / test.csv in {src}\nexpected layout: {LAYOUT}")
    for part, table in tables.items():
        split = PARTS[part]
        if table is None or not options.wants(split):
            continue
        index = AudioIndex(audio_folders(options, [src / "audio" / part, src / part, src / "audio",
                                                   src / "waveforms" / part]))
        for origin, row in iter_csv_rows(table):
            if not {"youtube_id", "start_time", "caption"} <= set(row):
                raise ValueError(f"{origin}: expected columns audiocap_id, youtube_id, start_time, caption; "
                                 f"got {sorted(row)}")
            caption = row["caption"].strip()
            if not caption:
                stats["empty_captions"] = stats.get("empty_captions", 0) + 1
                continue
            ytid, start = row["youtube_id"], row["start_time"]
            stems = youtube_stems(ytid, start, extra=[row.get("audiocap_id", "")])
            yield Row(
                clip_id=f"{ytid}_{start}", caption=caption, split=split,
                license=f"captions: MIT (AudioCaps repository LICENSE); audio: YouTube video {ytid} (AudioSet)",
                origin=origin, audio=index.find(stems), expected=" | ".join(stems[:3]) + " (any audio extension)",
                extra={"audiocap_id": row.get("audiocap_id", ""), "youtube_id": ytid, "start_time": start},
            )
