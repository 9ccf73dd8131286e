"""The two shapes every evaluation input takes: `RetrievalSet` and `ClassificationSet`.

Every loader (`generic_sets` for any layout the data reader reads, `benchmarks` for the named
benchmarks) returns one of these plain dataclasses, so the runner, the metrics and user code never see a
benchmark's own layout:

* :class:`RetrievalSet` - clips, captions and, for each caption, the index of its clip (several captions per
  clip are normal: Clotho and AudioCaps test have 5).
* :class:`ClassificationSet` - clips, integer labels into ``class_names`` and optional fold numbers.

Both check their own consistency on construction (counts, indices, empty captions, unique class names), so a
bad set fails where it is built, naming the row, clip or class, and not later inside a metric.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: One audio item: a file path, a waveform at the model's rate, ``{"array", "sampling_rate"}``, or an
#: undecoded ``{"bytes", "path"}`` record from a `datasets` Audio column (decoded lazily by the runner).
AudioItem = Any


@dataclass
class RetrievalSet:
    """Clips and captions for text-to-audio / audio-to-text retrieval.

    ``caption_to_audio[i]`` is the index in ``audio`` of the clip that caption ``i`` describes. Every clip
    needs at least one caption (audio-to-text queries would otherwise have no relevant item).
    """

    audio: list[AudioItem]
    captions: list[str]
    caption_to_audio: list[int]
    name: str = "retrieval"
    audio_ids: list[str] | None = None
    n_missing: int = 0
    split: str | None = None

    def __post_init__(self) -> None:
        self.audio = list(self.audio)
        self.captions = [str(c) if c is not None else "" for c in self.captions]
        self.caption_to_audio = [int(i) for i in self.caption_to_audio]
        if not self.audio:
            raise ValueError(f"{self.name}: no audio clips (empty dataset)")
        if not self.captions:
            raise ValueError(f"{self.name}: empty query set: no captions")
        if len(self.captions) != len(self.caption_to_audio):
            raise ValueError(
                f"{self.name}: mismatched counts: {len(self.captions)} captions but "
                f"{len(self.caption_to_audio)} caption_to_audio entries"
            )
        if self.audio_ids is not None and len(self.audio_ids) != len(self.audio):
            raise ValueError(f"{self.name}: {len(self.audio_ids)} audio_ids for {len(self.audio)} clips")
        n = len(self.audio)
        bad = [i for i, a in enumerate(self.caption_to_audio) if not 0 <= a < n]
        if bad:
            raise ValueError(
                f"{self.name}: caption {bad[0]} points at clip {self.caption_to_audio[bad[0]]}, outside [0, {n})"
            )
        empty = [i for i, c in enumerate(self.captions) if not c.strip()]
        if empty:
            raise ValueError(f"{self.name}: caption {empty[0]} is empty ({len(empty)} empty caption(s))")
        counts = np.bincount(np.asarray(self.caption_to_audio, dtype=np.int64), minlength=n)
        orphans = np.flatnonzero(counts == 0)
        if len(orphans):
            first = self.clip_name(int(orphans[0]))
            raise ValueError(
                f"{self.name}: {len(orphans)} clip(s) have no caption, e.g. {first}; every clip needs at "
                "least one caption for audio-to-text retrieval"
            )

    def clip_name(self, index: int) -> str:
        if self.audio_ids is not None:
            return self.audio_ids[index]
        item = self.audio[index]
        return os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"clip {index}"

    @property
    def captions_per_clip(self) -> float:
        return len(self.captions) / len(self.audio)


@dataclass
class ClassificationSet:
    """Clips with integer labels into ``class_names`` (unique), and optional cross-validation folds."""

    audio: list[AudioItem]
    labels: list[int]
    class_names: list[str]
    folds: list[int] | None = None
    name: str = "zero-shot"
    audio_ids: list[str] | None = None
    n_missing: int = 0
    split: str | None = None

    def __post_init__(self) -> None:
        self.audio = list(self.audio)
        self.labels = [int(x) for x in self.labels]
        self.class_names = [str(c) for c in self.class_names]
        check_class_names(self.class_names, self.name)
        if not self.audio:
            raise ValueError(f"{self.name}: no audio clips (empty label list)")
        if len(self.labels) != len(self.audio):
            raise ValueError(
                f"{self.name}: mismatched counts: {len(self.audio)} clips but {len(self.labels)} labels"
            )
        bad = [i for i, y in enumerate(self.labels) if not 0 <= y < len(self.class_names)]
        if bad:
            raise ValueError(
                f"{self.name}: label {self.labels[bad[0]]} of clip {bad[0]} is outside the "
                f"{len(self.class_names)} classes"
            )
        if self.folds is not None:
            self.folds = [int(f) for f in self.folds]
            if len(self.folds) != len(self.audio):
                raise ValueError(
                    f"{self.name}: mismatched counts: {len(self.audio)} clips but {len(self.folds)} folds"
                )
        if self.audio_ids is not None and len(self.audio_ids) != len(self.audio):
            raise ValueError(f"{self.name}: {len(self.audio_ids)} audio_ids for {len(self.audio)} clips")

    @property
    def fold_numbers(self) -> list[int]:
        return sorted(set(self.folds)) if self.folds is not None else []

    def select(self, indices: Sequence[int], name: str | None = None) -> ClassificationSet:
        """A subset of the clips (same class list, so accuracies stay comparable)."""
        idx = list(indices)
        return replace(
            self,
            audio=[self.audio[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            folds=[self.folds[i] for i in idx] if self.folds is not None else None,
            audio_ids=[self.audio_ids[i] for i in idx] if self.audio_ids is not None else None,
            name=name or self.name,
        )

    def only_fold(self, fold: int) -> ClassificationSet:
        """The clips of one fold, evaluated against all classes (zero-shot has no training split)."""
        if self.folds is None:
            raise ValueError(f"{self.name}: --fold given but the data has no fold column")
        idx = [i for i, f in enumerate(self.folds) if f == int(fold)]
        if not idx:
            raise ValueError(f"{self.name}: fold {fold} has no clips; folds present: {self.fold_numbers}")
        return self.select(idx, name=f"{self.name} (fold {fold})")


def check_class_names(names: Sequence[str], what: str = "classes") -> None:
    """Class lists must be non-empty and unique: a duplicate would split one class's score in two."""
    if not names:
        raise ValueError(f"{what}: empty class list")
    empty = [i for i, n in enumerate(names) if not str(n).strip()]
    if empty:
        raise ValueError(f"{what}: empty class name at position {empty[0]}")
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise ValueError(f"{what}: duplicate class names in the label list: {dupes}")


def label_order(labels: Sequence[str], class_names: Sequence[str] | None, source: str) -> tuple[list[str], list[int]]:
    """Class list (given, or sorted unique labels) and each row's index into it."""
    if class_names is None:
        names = sorted(set(labels))
    else:
        names = list(class_names)
        check_class_names(names, f"{source}: class list")
    lookup = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(labels) - set(lookup))
    if unknown:
        raise ValueError(f"{source}: labels not in the class list: {unknown[:10]}")
    return names, [lookup[y] for y in labels]


__all__ = ["AudioItem", "ClassificationSet", "RetrievalSet", "check_class_names", "label_order"]
