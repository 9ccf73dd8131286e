"""MACS, Multi-Annotator Captioned Soundscapes (Martín-Morató & Mesaros, DCASE 2021;
zenodo.org/records/5114771) -> caption manifests.

Layout followed (the Zenodo record's description, and Labbeti/aac-datasets ``datasets/functional/macs.py``,
which reads the same files):

* ``SRC/MACS.yaml``: ``files:`` a list of ``{filename: airport-barcelona-0-0-a.wav, annotations: [{annotator_id,
  sentence, tags: [...]}, ...]}``, 3,930 files with 2-5 annotations each;
* optional ``SRC/MACS_competence.csv`` (tab-separated ``annotator_id``, ``competence``): kept as a column;
* the audio is not in the record: it is the TAU Urban Acoustic Scenes 2019 development set
  (zenodo.org/records/2589280), ``TAU-urban-acoustic-scenes-2019-development/audio/<filename>``. Looked for in
  ``SRC/audio/``, ``SRC/TAU-urban-acoustic-scenes-2019-development/audio/`` and ``SRC/`` (recursively), or
  ``--audio-dir``.

One row per annotation with a non-empty ``sentence`` (the caption); all rows are ``train`` (MACS has no
split). The blog counts MACS as "4K" pairs, which matches the 3,930 clips rather than the ~17K captions:
``--max-captions-per-clip 1`` keeps the first annotation of each clip (YAML order) to reproduce that count.

Licence column: the captions' record (MACS, zenodo 5114771, see its LICENSE.txt) and the audio's own licence
(TAU Urban Acoustic Scenes 2019, zenodo 2589280); the Zenodo description says the audio "is covered by its own
license".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .common import AudioIndex, PrepareOptions, Row, audio_folders, read_csv_rows, read_text, require_file

NAME = "macs"
DESCRIPTION = "MACS (urban soundscape captions on TAU Urban Acoustic Scenes 2019 audio)"
LAYOUT = ("SRC/MACS.yaml (+ optional SRC/MACS_competence.csv); audio TAU-urban-acoustic-scenes-2019-development/"
          "audio/*.wav under SRC/ or --audio-dir")
DATASET_LICENSE = ("captions: MACS, zenodo.org/records/5114771 (LICENSE.txt); audio: TAU Urban Acoustic Scenes "
                   "2019 development, zenodo.org/records/2589280 (its own licence)")


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    try:
        import yaml
    except ImportError as err:  # pragma: no cover - PyYAML comes with the [train] extra
        raise ValueError("reading MACS.yaml needs PyYAML (pip install pyyaml)") from err
    path = require_file(src / "MACS.yaml", "MACS annotations", LAYOUT)
    data = yaml.safe_load(read_text(path))
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ValueError(f"{path}: expected a mapping with a 'files' list (the MACS.yaml of zenodo 5114771)")
    competence = {}
    comp_path = src / "MACS_competence.csv"
    if comp_path.is_file():
        for _, row in read_csv_rows(comp_path, delimiter="\t"):
            key = row.get("annotator_id") or row.get("id")
            if key:
                competence[str(key).strip()] = row.get("competence", "")
    if not options.wants("train"):
        return
    index = AudioIndex(audio_folders(options, [src / "audio", src / "TAU-urban-acoustic-scenes-2019-development" /
                                               "audio", src]))
    for i, item in enumerate(files):
        if not isinstance(item, dict) or "filename" not in item:
            raise ValueError(f"{path.name} file {i}: expected a 'filename' and 'annotations'")
        filename = str(item["filename"]).strip()
        stem = Path(filename).stem
        audio = index.find([stem])
        for j, ann in enumerate(item.get("annotations") or []):
            sentence = str((ann or {}).get("sentence") or "").strip()
            if not sentence:
                stats["empty_captions"] = stats.get("empty_captions", 0) + 1
                continue
            annotator = str(ann.get("annotator_id", "")).strip()
            extra = {"annotator_id": annotator, "tags": ",".join(str(t) for t in ann.get("tags") or [])}
            if annotator in competence:
                extra["annotator_competence"] = competence[annotator]
            yield Row(clip_id=stem, caption=sentence, split="train", license=DATASET_LICENSE,
                      origin=f"{path.name} file {i} ({filename}) annotation {j}", audio=audio,
                      expected=f"audio/{filename}", extra=extra)
