"""Soft labels from a sound-event teacher: the score file, its lookup by clip, and the distillation settings.

A teacher (e.g. YAMNet, 521 AudioSet classes) is run once over the training audio, in the data-building step,
never inside the package. Its scores are stored in one ``.npz`` file:

* ``audio``: (N,) clip paths, absolute or relative to the file's folder, spelled as the manifest spells them;
* ``scores``: (N, C) per-class scores (any non-negative numbers; sigmoid probabilities for YAMNet);
* ``labels``: (C,) class names, which become the label texts the loss compares audio embeddings with.

`DistillConfig` is the ``distill`` block of a training config; `LabelDistillationLoss` (losses.py) is the loss.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_LABEL_TEMPLATES = ("the sound of {}.",)


def _key(path: str | os.PathLike) -> str:
    """The lookup key of a clip: its real path (symlinks resolved, so a data folder reached through a link
    still matches the score file's paths)."""
    return os.path.realpath(os.fspath(path))


class TeacherScores:
    """Per-clip teacher scores, looked up by the clip's resolved path."""

    def __init__(self, audio: list[str], scores: np.ndarray, labels: list[str], origin: str = "teacher") -> None:
        scores = np.asarray(scores)
        if scores.ndim != 2 or scores.shape != (len(audio), len(labels)):
            raise ValueError(f"{origin}: scores must be (clips, labels) = ({len(audio)}, {len(labels)}), "
                             f"got {scores.shape}")
        if not len(labels) or any(not str(label).strip() for label in labels):
            raise ValueError(f"{origin}: label names must be non-empty")
        if not np.isfinite(scores.astype(np.float32)).all() or (scores < 0).any():
            raise ValueError(f"{origin}: scores must be finite and non-negative")
        self.audio, self.scores, self.labels, self.origin = list(audio), scores, [str(x) for x in labels], origin
        self.index = {_key(a): i for i, a in enumerate(self.audio)}
        if len(self.index) != len(self.audio):
            raise ValueError(f"{origin}: duplicate clip paths")

    @classmethod
    def load(cls, path: str | os.PathLike) -> TeacherScores:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"teacher score file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                audio, scores, labels = z["audio"], z["scores"], z["labels"]
        except (KeyError, ValueError, OSError) as err:
            raise ValueError(f"{path}: not a teacher score file with 'audio', 'scores', 'labels' ({err})") from err
        base = path.resolve().parent
        resolved = [a if os.path.isabs(a) else str(base / a) for a in map(str, audio)]
        return cls(resolved, scores, list(map(str, labels)), origin=str(path))

    def save(self, path: str | os.PathLike) -> None:
        np.savez_compressed(path, audio=np.array(self.audio), scores=self.scores, labels=np.array(self.labels))

    def row(self, clip_path: str | None) -> int:
        """Row of a clip, -1 when the teacher has no scores for it."""
        return -1 if clip_path is None else self.index.get(_key(clip_path), -1)

    def __len__(self) -> int:
        return len(self.audio)


@dataclass
class DistillConfig:
    """The ``distill`` block of a training config (paper silent: this is the package's addition).

    Total loss = contrastive loss + ``weight`` x `LabelDistillationLoss` + ``composed_weight`` x
    `ComposedDistillationLoss` (cosine to the teacher-composed embedding: the clip's scores times the class
    names' text embeddings; 0 turns it off, as ``weight: 0`` turns the KL term off). Label text embeddings are
    computed from ``templates`` (averaged, re-normalised) without gradient, every ``refresh_every`` optimizer
    steps (the gradient flows through the audio side; with a frozen text tower they never change).
    """

    teacher: str = ""
    weight: float = 1.0
    temperature: float = 0.1
    top_k: int | None = 10
    power: float = 1.0
    templates: list[str] = field(default_factory=lambda: list(DEFAULT_LABEL_TEMPLATES))
    refresh_every: int = 1
    matryoshka: bool = True  # average the loss over the Matryoshka dims too
    composed_weight: float = 0.0

    def __post_init__(self) -> None:
        if not str(self.teacher).strip():
            raise ValueError("distill.teacher: the teacher score file (.npz) is required")
        for name in ("weight", "composed_weight"):
            value = float(getattr(self, name))
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"distill.{name} must be a non-negative number, got {getattr(self, name)}")
        if float(self.weight) == 0 and float(self.composed_weight) == 0:
            raise ValueError("distill: weight and composed_weight are both 0 (no distillation term is left)")
        if int(self.refresh_every) < 1:
            raise ValueError(f"distill.refresh_every must be >= 1, got {self.refresh_every}")
        if isinstance(self.templates, str):
            self.templates = [self.templates]
        if not self.templates or any(str(t).count("{}") != 1 for t in self.templates):
            raise ValueError(f"distill.templates must be strings with '{{}}' exactly once, got {self.templates!r}")
        self.weight, self.temperature, self.power = float(self.weight), float(self.temperature), float(self.power)
        self.composed_weight = float(self.composed_weight)
        self.refresh_every = int(self.refresh_every)
        self.templates = [str(t) for t in self.templates]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | DistillConfig | None) -> DistillConfig | None:
        if data is None or isinstance(data, DistillConfig):
            return data
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown distill option(s) {unknown}; valid: "
                             + ", ".join(f.name for f in dataclasses.fields(cls)))
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


__all__ = ["DEFAULT_LABEL_TEMPLATES", "DistillConfig", "TeacherScores"]
