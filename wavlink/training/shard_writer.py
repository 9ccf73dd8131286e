"""`write_shards`: any manifest or audio folder as WebDataset shards plus ``shards.json`` (``wavlink shard``).

The clips are read by `load_source` (the package's one table reader) and checked with the package's one
decoder before they are written; see `shards` for the layout and how shards are read back.
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import soundfile as sf
from tqdm.auto import tqdm

from ..data import decode_audio
from ..data.records import load_source
from ..data.shards import AUDIO_MEMBERS, INDEX_FILE, _require_webdataset
from ..files import atomic_write
from .shards import ON_BAD

logger = logging.getLogger(__name__)


def write_shards(source: Any, out_dir: str | os.PathLike, shard_size: int = 1000, prefix: str = "shard",
                 split: str | None = None, on_bad_audio: str = "fail", progress: bool = False) -> dict[str, Any]:
    """Write the clips of any source `load_source` reads as WebDataset shards plus ``shards.json``.

    One sample per clip: ``KEY.<ext>`` (the original bytes for FLAC/WAV/MP3/OGG, else re-encoded to FLAC) and
    ``KEY.json`` (``captions``, ``source``: the original path). Every clip is decoded first (the package's
    decoder); a bad one fails naming its manifest row, or is skipped and counted with ``on_bad_audio="skip"``.
    Shards are written under a temporary name and renamed when complete. Returns the index written.
    """
    wds = _require_webdataset()

    if shard_size < 1:
        raise ValueError(f"--shard-size must be positive, got {shard_size}")
    if on_bad_audio not in ON_BAD:
        raise ValueError(f"on_bad_audio must be one of {ON_BAD}, got {on_bad_audio!r}")
    clips, pairs, dataset, column, name = load_source(source, split)
    if dataset is not None:
        raise ValueError("write shards from a manifest or audio folder (a `datasets` source is not supported)")
    captions: dict[int, list[str]] = {}
    origin: dict[int, str] = {}
    for p in pairs:
        captions.setdefault(p.clip, []).append(p.caption)
        origin.setdefault(p.clip, p.origin)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    names: list[str] = []
    skipped: list[str] = []
    state = {"writer": None, "index": 0, "count": 0}

    def close() -> None:
        if state["writer"] is not None:
            state["writer"].close()
            final = f"{prefix}-{state['index']:06d}.tar"
            os.replace(out / (final + ".partial"), out / final)
            written[final] = state["count"]
            names.append(final)
            state.update(writer=None, index=state["index"] + 1, count=0)

    order = sorted(captions)
    if progress:
        order = tqdm(order, desc="writing shards", unit="clip")
    n = 0
    for c in order:
        clip = clips[c]
        try:
            decode_audio(clip.path, 16000, name=f"{origin[c]}: {clip.path}")
        except ValueError as err:
            if on_bad_audio != "skip":
                raise ValueError(f"{err}\n(pass --on-bad-audio skip to leave such clips out)") from None
            skipped.append(f"{origin[c]}: {err}")
            continue
        ext = Path(clip.path).suffix.lower().lstrip(".")
        if ext in AUDIO_MEMBERS:
            data = Path(clip.path).read_bytes()
        else:  # e.g. .aiff / .opus: re-encode losslessly as FLAC

            wave, rate = sf.read(clip.path, dtype="float32")
            buf = io.BytesIO()
            sf.write(buf, wave, rate, format="FLAC")
            data, ext = buf.getvalue(), "flac"
        if state["writer"] is None:
            state["writer"] = wds.TarWriter(str(out / f"{prefix}-{state['index']:06d}.tar.partial"))
        state["writer"].write({"__key__": f"{n:08d}", ext: data,
                               "json": json.dumps({"captions": captions[c], "source": clip.path}).encode()})
        n += 1
        state["count"] += 1
        if state["count"] >= shard_size:
            close()
    close()
    if not names:
        raise ValueError(f"{name}: no clip to write")
    index = {"shards": names, "counts": written, "samples": n, "source": str(source), "skipped": len(skipped)}
    atomic_write(out / INDEX_FILE, lambda tmp: tmp.write_text(json.dumps(index, indent=2) + "\n"))
    for line in skipped[:20]:
        logger.warning("skipped %s", line)
    return index


__all__ = ["write_shards"]
