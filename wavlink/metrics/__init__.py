"""Evaluation metrics: audio-text retrieval and zero-shot classification.

Each metric lives in a self-contained ``evaluate`` script (``<name>/<name>.py``); this package re-exports
its classes and pure functions so there is a single implementation. Three equivalent ways to use them::

    from wavlink.metrics import AudioTextRetrieval, retrieval_metrics, metric_path
    AudioTextRetrieval().compute(predictions=sim_rows, references=clip_index)   # no loader
    evaluate.load(metric_path("audio_text_retrieval")).compute(...)              # by script path
    retrieval_metrics(sim, clip_index)                                            # plain numpy

Hub metric names cannot be used (the scripts are not on the Hub); load by path.
"""

from __future__ import annotations

from pathlib import Path

from .audio_text_retrieval.audio_text_retrieval import (
    AudioTextRetrieval,
    grouped_retrieval_metrics,
    multi_relevant_ranks,
    retrieval_metrics,
    shared_captions,
    single_relevant_ranks,
)
from .zero_shot_accuracy.zero_shot_accuracy import (
    DEFAULT_TEMPLATES,
    ZeroShotAccuracy,
    class_embeddings_from_templates,
    confusion_matrix,
    prettify_label,
    true_class_ranks,
    zero_shot_accuracy,
)

_METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES: tuple[str, ...] = ("audio_text_retrieval", "zero_shot_accuracy")


def metric_path(name: str) -> str:
    """Absolute path of a metric script, for ``evaluate.load(metric_path(name))``.

    Raises:
        ValueError: unknown metric name (the known names are listed).
    """
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; available: {list(METRIC_NAMES)}")
    return str(_METRICS_DIR / name / f"{name}.py")


__all__ = [
    "DEFAULT_TEMPLATES",
    "METRIC_NAMES",
    "AudioTextRetrieval",
    "ZeroShotAccuracy",
    "class_embeddings_from_templates",
    "confusion_matrix",
    "grouped_retrieval_metrics",
    "metric_path",
    "multi_relevant_ranks",
    "prettify_label",
    "retrieval_metrics",
    "shared_captions",
    "single_relevant_ranks",
    "true_class_ranks",
    "zero_shot_accuracy",
]
