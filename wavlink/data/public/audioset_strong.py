"""AudioSet strong labels (Hershey et al., ICASSP 2021; research.google.com/audioset/download_strong.html)
with the AudioSet ontology's names -> caption manifests.

Layout followed (Google's download page files; their columns as github.com/bakhtos/GoogleAudioSetReformatted
``src/convert.py`` reads them):

* ``SRC/audioset_train_strong.tsv`` and ``SRC/audioset_eval_strong.tsv``: tab-separated with header
  ``segment_id  start_time_seconds  end_time_seconds  label``; ``segment_id`` is ``<youtube_id>_<start ms>``
  (e.g. ``YxAg7J-8fY4_30000``), ``label`` an ontology id (``/m/09x0r``); one row per event;
* label names: ``ontology.json`` of github.com/audioset/ontology (``--ontology``, or ``SRC/ontology.json``),
  falling back to ``SRC/mid_to_display_name.tsv`` (no header: ``mid<TAB>name``, from the same download page)
  for ids the ontology lacks; an id named by neither is an error;
* audio (YouTube, not distributed): ``SRC/audio/{train,eval}/``, ``SRC/audio/``, ``SRC/{train,eval}/`` or
  ``--audio-dir``, named ``<segment_id>``, ``<youtube_id>_<start s>``, ``Y<youtube_id>`` or ``<youtube_id>``
  (`youtube.youtube_stems`); clips not found are listed in ``missing.csv``.

Splits: train TSV -> train (103K clips listed; the blog trains on "108K" AudioSetStrong pairs), eval TSV ->
test. One caption per clip.

Captions (the blog used GPT-written captions, which are not published; these are rendered from the labels
instead, deterministic and documented): ``--caption-style temporal`` (default) orders the clip's events by
onset and groups events that overlap in time: names inside a group are joined "A and B" / "A, B and C", groups
are joined with ", then "; each name is the ontology name with its first letter lower-cased (acronyms kept),
the sentence starts with a capital: "Speech and dog, then vehicle horn, car horn, honking". A label repeated
in one group is named once; a label that recurs after a gap is named again. ``--caption-style labels`` gives
LAION's label sentence "The sounds of A, B and C" over the distinct labels in onset order (``--template``
changes it).

Licence column: "labels: CC BY 4.0 (AudioSet); audio: YouTube video <id>".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from .common import (
    AudioIndex,
    LayoutError,
    PrepareOptions,
    Row,
    audio_folders,
    fill_template,
    iter_csv_rows,
    join_names,
    lower_name,
    read_csv_rows,
    read_ontology,
)
from .youtube import youtube_stems

NAME = "audioset-strong"
DESCRIPTION = "AudioSet strong (temporally labelled events) -> captions from the ontology's names"
LAYOUT = ("SRC/audioset_{train,eval}_strong.tsv, SRC/ontology.json (or --ontology) and/or "
          "SRC/mid_to_display_name.tsv; audio in SRC/audio/{train,eval}/, SRC/audio/ or --audio-dir")
PARTS = {"train": "train", "eval": "test"}
CAPTION_STYLES = ("temporal", "labels")
DEFAULT_TEMPLATE = "The sounds of {labels}"


def label_names(src: Path, ontology: str | None) -> dict[str, str]:
    names: dict[str, str] = {}
    display = src / "mid_to_display_name.tsv"
    if display.is_file():
        names.update({row["0"]: row["1"] for _, row in read_csv_rows(display, delimiter="\t", header=False)
                      if len(row) >= 2})
    onto_path = Path(ontology) if ontology else src / "ontology.json"
    if ontology or onto_path.is_file():
        names.update(read_ontology(onto_path)[0])  # the ontology's names win
    if not names:
        raise LayoutError(f"no label names: give the AudioSet ontology (--ontology ontology.json or "
                          f"{src}/ontology.json) or {display}\nexpected layout: {LAYOUT}")
    return names


def temporal_caption(events: list[tuple[float, float, str]]) -> str:
    """Events (onset, offset, name) -> "A and B, then C"; see the module docstring."""
    groups: list[tuple[float, list[str]]] = []  # (end of the group, names in order)
    for onset, offset, name in sorted(events, key=lambda e: (e[0], e[1], e[2])):
        if groups and onset < groups[-1][0]:
            end, names = groups[-1]
            if name not in names:
                names.append(name)
            groups[-1] = (max(end, offset), names)
        else:
            groups.append((offset, [name]))
    text = ", then ".join(join_names([lower_name(n) for n in names]) for _, names in groups)
    return text[:1].upper() + text[1:]


def convert(src: Path, options: PrepareOptions, stats: dict[str, int]) -> Iterator[Row]:
    tables = {part: src / f"audioset_{part}_strong.tsv" for part in PARTS}
    if not any(p.is_file() for p in tables.values()):
        raise LayoutError(f"no audioset_train_strong.tsv / audioset_eval_strong.tsv in {src}\n"
                          f"expected layout: {LAYOUT}")
    if options.caption_style not in CAPTION_STYLES:
        raise ValueError(f"--caption-style must be one of {CAPTION_STYLES}, got {options.caption_style!r}")
    names = label_names(src, options.ontology)
    template = options.template or DEFAULT_TEMPLATE
    for part, table in tables.items():
        split = PARTS[part]
        if not table.is_file() or not options.wants(split):
            continue
        clips: OrderedDict[str, list[tuple[float, float, str]]] = OrderedDict()
        first_origin: dict[str, str] = {}
        for origin, row in iter_csv_rows(table, delimiter="\t"):
            if not {"segment_id", "start_time_seconds", "end_time_seconds", "label"} <= set(row):
                raise ValueError(f"{origin}: expected columns segment_id, start_time_seconds, end_time_seconds, "
                                 f"label; got {sorted(row)}")
            mid = row["label"]
            if mid not in names:
                raise ValueError(f"{origin}: label {mid!r} is neither in the ontology nor in mid_to_display_name.tsv")
            try:
                event = (float(row["start_time_seconds"]), float(row["end_time_seconds"]), names[mid])
            except ValueError:
                raise ValueError(f"{origin}: start/end times must be numbers of seconds") from None
            clips.setdefault(row["segment_id"], []).append(event)
            first_origin.setdefault(row["segment_id"], origin)
        index = AudioIndex(audio_folders(options, [src / "audio" / part, src / "audio", src / part]))
        for segment, events in clips.items():
            ytid, _, ms = segment.rpartition("_")
            if not ytid or not ms.isdigit():
                raise ValueError(f"{first_origin[segment]}: segment_id {segment!r} is not <youtube_id>_<start ms>")
            if options.caption_style == "temporal":
                caption = temporal_caption(events)
            else:
                distinct = list(OrderedDict.fromkeys(n for _, _, n in sorted(events)))
                caption = fill_template(template, distinct)
            stems = youtube_stems(ytid, int(ms) / 1000, own=[segment])
            yield Row(
                clip_id=segment, caption=caption, split=split,
                license=f"labels: CC BY 4.0 (AudioSet); audio: YouTube video {ytid}", origin=first_origin[segment],
                audio=index.find(stems), expected=" | ".join(stems[:3]) + " (any audio extension)",
                extra={"youtube_id": ytid, "start_time": int(ms) / 1000, "events": len(events)},
            )
