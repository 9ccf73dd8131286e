"""Reading WebDataset shards (plain tars, one sample = members sharing a key): which sources name shards, their
URLs, their sample counts, and one sample's captions and audio bytes. The data layer, so that training (which
streams shards, `training.shards`) and evaluation (which reads a test set of shards into memory) share it.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data import decode_audio

AUDIO_MEMBERS = ("flac", "wav", "mp3", "ogg")
INDEX_FILE = "shards.json"


def _require_webdataset():
    try:
        import webdataset
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ValueError('WebDataset shards need the webdataset package: pip install "wavlink[shards]"') from err
    return webdataset


# ---------------------------------------------------------------------------------------------- shard lists


def is_shard_spec(spec: Any) -> bool:
    """A source that names WebDataset shards: a ``.tar`` path / brace pattern / URL, ``pipe:CMD``, a folder
    written by `write_shards` (it holds ``shards.json``), or ``{"shards": ...}``."""
    if isinstance(spec, dict):
        return "shards" in spec
    if not isinstance(spec, (str, os.PathLike)):
        return False
    text = os.fspath(spec)
    if text.startswith("pipe:"):
        return True
    if os.path.isdir(text):
        return os.path.isfile(os.path.join(text, INDEX_FILE))
    try:
        import braceexpand

        first = next(iter(braceexpand.braceexpand(text.split("::")[0])), "")
    except (ImportError, StopIteration):
        first = text
    return first.lower().endswith(".tar")


def expand_shards(spec: Any) -> list[str]:
    """Shard URLs of a spec: brace patterns and ``::`` lists expanded (webdataset), a folder's shards.json."""
    if isinstance(spec, dict):
        spec = spec["shards"]
    if isinstance(spec, (list, tuple)):
        return [u for s in spec for u in expand_shards(s)]
    text = os.fspath(spec)
    if os.path.isdir(text):
        names = json.loads(Path(text, INDEX_FILE).read_text())["shards"]
        return [os.path.join(text, n) for n in names]
    from webdataset.shardlists import expand_urls

    urls = expand_urls(text)
    if not urls:
        raise ValueError(f"no shards in {text!r}")
    return urls


def _is_local(url: str) -> bool:
    return "://" not in url and not url.startswith("pipe:")


def _local_path(url: str) -> str:
    return url[len("file:"):] if url.startswith("file:") else url


def _key_of(name: str) -> str | None:
    """The sample key of a tar member (webdataset's rule: the name up to the first dot of the basename)."""
    from webdataset.tariterators import base_plus_ext

    return base_plus_ext(name)[0]


TAR_ERRORS = (tarfile.TarError, EOFError, OSError)  # what a cut-short or corrupt tar raises while being read


def damaged_shard_message(url: str, samples: int, err: BaseException) -> str:
    # webdataset appends its stream and url to the exception's args: keep tarfile's own sentence
    text = err.args[0] if err.args and isinstance(err.args[0], str) else str(err)
    first = (text.strip().splitlines() or [type(err).__name__])[0]
    return (f"shard {url} is truncated or damaged: reading stopped after {samples} sample(s) ({first}); "
            "re-create it (wavlink shard) or copy it again")


def count_samples(url: str, on_damaged: str = "fail") -> int:
    """Samples in one shard: from a ``shards.json`` beside it, else from the tar headers (local files only
    read headers; a URL is streamed once). A truncated tar is an error naming it, or with
    ``on_damaged="skip"`` the samples before the damage are counted."""
    if _is_local(url):
        path = Path(_local_path(url))
        index = path.parent / INDEX_FILE
        if index.is_file():
            counts = json.loads(index.read_text()).get("counts", {})
            if path.name in counts:
                return int(counts[path.name])
        if not path.is_file():
            raise ValueError(f"shard not found: {url}")
        opener = lambda: tarfile.open(path, mode="r:")  # noqa: E731
    else:
        from webdataset import gopen

        def opener():
            return tarfile.open(fileobj=gopen.gopen(url), mode="r|*")
    keys: list[str | None] = []
    try:
        with opener() as tar:
            for member in tar:
                if member.isreg():
                    keys.append(_key_of(member.name))
    except TAR_ERRORS as err:
        complete = len({k for k in keys if k is not None and not k.startswith("__")})
        if on_damaged != "skip":
            raise ValueError(damaged_shard_message(url, complete, err)) from None
        cut = keys[-1] if keys else None  # the last sample may be cut short: not counted
        keys = [k for k in keys if k != cut]
    n, last = 0, object()
    for key in keys:
        if key is not None and not key.startswith("__") and key != last:
            n += 1
            last = key
    return n


class BadSample(ValueError):
    """A sample that cannot be used (corrupt or missing audio, no caption); names its shard and key."""


def _where(sample: dict[str, Any]) -> str:
    return f"shard {sample.get('__url__')} key {sample.get('__key__')!r}"


def sample_captions(sample: dict[str, Any]) -> list[str]:
    """The captions of a raw sample (``.txt``, or ``.json`` with ``caption`` / ``captions``)."""
    if sample.get("__damaged__"):
        raise BadSample(sample["__damaged__"])
    captions: list[Any] = []
    if sample.get("json") is not None:
        try:
            meta = json.loads(sample["json"])
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadSample(f"{_where(sample)}: invalid .json member ({err})") from None
        if isinstance(meta, dict):
            value = meta.get("captions", meta.get("caption"))
            captions = value if isinstance(value, list) else [value] if value is not None else []
    if not captions and sample.get("txt") is not None:
        captions = [sample["txt"].decode("utf-8", errors="replace")]
    captions = [c.strip() for c in captions if isinstance(c, str) and c.strip()]
    if not captions:
        raise BadSample(f"{_where(sample)}: no caption (a .txt member, or .json with 'caption'/'captions')")
    return captions


def sample_audio(sample: dict[str, Any]) -> bytes:
    if sample.get("__damaged__"):
        raise BadSample(sample["__damaged__"])
    for ext in AUDIO_MEMBERS:
        if sample.get(ext):
            return sample[ext]
    raise BadSample(f"{_where(sample)}: no audio member ({', '.join('.' + e for e in AUDIO_MEMBERS)})")


def decode_sample(sample: dict[str, Any], sampling_rate: int, max_seconds: float | None = None,
                  start_fraction: float | None = None) -> np.ndarray:
    """The waveform of a raw sample through the package's one decoder; BadSample names shard and key."""
    data = sample_audio(sample)
    try:
        return decode_audio(data, sampling_rate, max_seconds=max_seconds, start_fraction=start_fraction,
                            name=_where(sample))
    except Exception as err:
        raise BadSample(str(err) if _where(sample) in str(err) else f"{_where(sample)}: {err}") from None


def iter_raw(urls: Sequence[str], counts: Sequence[int] | None = None,
             on_damaged: str = "fail") -> Iterator[dict[str, Any]]:
    """Raw samples (member bytes by extension, ``__key__``, ``__url__``) of shards in order (webdataset).

    A truncated or corrupt shard raises a ValueError naming it (tarfile's own error names no file); with
    ``on_damaged="skip"`` the rest of that shard is skipped: when its `counts` entry is known, one placeholder
    sample per missing sample (``__damaged__``: the message; `sample_captions` / `sample_audio` raise
    `BadSample` on it) keeps the stream positions of a resumable reader where they belong."""
    wds = _require_webdataset()
    for i, url in enumerate(urls):
        read = 0
        try:
            for sample in wds.tariterators.tarfile_samples(iter([{"url": url}])):
                if on_damaged == "skip" and counts is not None and read >= int(counts[i]):
                    break  # a damaged shard counted short (`count_samples`): positions follow the count
                read += 1
                yield sample
        except TAR_ERRORS as err:
            message = damaged_shard_message(url, read, err)
            if on_damaged != "skip":
                raise ValueError(message) from None
            missing = (int(counts[i]) - read) if counts is not None else 0
            for _ in range(max(missing, 0)):
                yield {"__url__": url, "__key__": None, "__damaged__": message}


__all__ = ["AUDIO_MEMBERS", "INDEX_FILE", "TAR_ERRORS", "BadSample", "count_samples", "damaged_shard_message",
           "decode_sample", "expand_shards",
           "is_shard_spec", "iter_raw", "sample_audio", "sample_captions"]
