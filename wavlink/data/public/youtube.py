"""File names under which YouTube-sourced clips (AudioSet, AudioCaps, VGGSound, Auto-ACD, AudioSetCaps) are
commonly saved by download scripts, so a converter finds a clip whichever convention its downloader used.

For a clip of video ``ID`` starting at ``S`` seconds the stems looked for, in order, are: the dataset's own id
(e.g. ``ID_000030``, ``YID``), ``ID_S`` with S as an integer, with one and three decimals and zero-padded to six
digits (VGGSound / Auto-ACD), ``ID_<S in ms>`` (AudioSet strong segment ids), ``YID`` (AudioSet downloads,
AudioSetCaps ids), ``ID``; extra stems (AudioCaps' ``audiocap_id``) come last.
"""

from __future__ import annotations

from collections.abc import Sequence


def start_variants(start: str | float | None) -> list[str]:
    if start in (None, ""):
        return []
    text = str(start).strip()
    out = [text]
    try:
        value = float(text)
    except ValueError:
        return out
    for form in (str(int(value)), f"{value:.1f}", f"{value:.3f}", f"{int(value):06d}", str(int(round(value * 1000)))):
        if form not in out:
            out.append(form)
    return out


def youtube_stems(video_id: str, start: str | float | None = None, own: Sequence[str] = (),
                  extra: Sequence[str] = ()) -> list[str]:
    """Candidate file stems of one clip; see the module docstring."""
    stems = [s for s in own if s]
    stems += [f"{video_id}_{s}" for s in start_variants(start)]
    stems += [f"Y{video_id}", video_id]
    stems += [s for s in extra if s]
    seen: set[str] = set()
    return [s for s in stems if not (s in seen or seen.add(s))]


__all__ = ["start_variants", "youtube_stems"]
