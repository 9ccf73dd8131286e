"""Zero-shot audio classification: top-k accuracy and CLIP-style prompt-template ensembling.

Self-contained ``evaluate`` metric script: ``evaluate.load`` copies this file into its module cache and
imports it there, so it may only import the standard library, numpy, datasets and evaluate (never
``wavlink``). ``wavlink.metrics`` re-exports everything public from this file (one implementation).

Conventions
-----------
* ``scores``: ``(n_samples, n_classes)``, higher = more likely (e.g. cosine similarity between an audio
  embedding and each class embedding); ``labels[i]``: index of the true class of sample ``i``.
* **Pessimistic ties**: the rank of the true class is ``1 + #(classes scoring strictly higher)
  + #(other classes scoring equal)``, so a tie never earns credit (constant scores give rank
  ``n_classes``, i.e. top-1 accuracy 0 instead of a lucky ``1 / n_classes`` or 1.0 from ``argmax``).
* ``top{k}`` = fraction of samples whose true-class rank is ``<= k``. ``k`` is not clipped and never
  raises for being large: with ``k >= n_classes`` the top-k accuracy is 1.0 by definition (reported under
  the requested key, e.g. ``top5`` on a 3-class task is 1.0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import datasets
import evaluate
import numpy as np

#: Prompt templates for zero-shot class embeddings. The first one is the default of the transformers
#: ``zero-shot-audio-classification`` pipeline (and LAION-CLAP); the rest add CLIP-style variety.
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "This is a sound of {}.",
    "a sound of {}.",
    "the sound of {}.",
    "a recording of {}.",
    "an audio recording of {}.",
    "a sound clip of {}.",
    "this is the sound of {}.",
    "you can hear {}.",
)

_CITATION = """\
@inproceedings{radford2021clip,
  title={Learning Transferable Visual Models From Natural Language Supervision},
  author={Radford, Alec and others},
  booktitle={ICML},
  year={2021}
}
"""

_DESCRIPTION = """\
Top-k accuracy of zero-shot classification from per-class scores (e.g. audio x class-prompt cosine
similarities). Ties are ranked pessimistically: a true class tied with other classes is ranked after them.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): one row per sample: its score for every class (all rows the
        same length ``n_classes``).
    references (`list` of `int`): the true class index of each sample.
    ks (`Sequence[int]`, defaults to `(1, 5)`): cut-offs; ``k >= n_classes`` gives 1.0.
Returns:
    `dict` with ``top{k}`` (float in [0, 1]) for each k.
Examples:
    >>> metric = ZeroShotAccuracy()
    >>> metric.compute(predictions=[[0.1, 0.9], [0.5, 0.5]], references=[1, 0], ks=(1,))
    {'top1': 0.5}
"""

_CHUNK_ROWS = 1024


def prettify_label(label: str) -> str:
    """Turn a dataset label id into prompt text: ``"chirping_birds" -> "chirping birds"``.

    Underscores become spaces and runs of whitespace collapse; case is kept (class names are data).
    """
    text = " ".join(str(label).replace("_", " ").split())
    if not text:
        raise ValueError(f"label {label!r} is empty after prettifying")
    return text


def _as_scores(scores: Any) -> np.ndarray:
    """Validate and return a float64 ``(n_samples, n_classes)`` matrix without NaN."""
    if hasattr(scores, "detach"):  # torch tensor without importing torch
        scores = scores.detach().cpu().double().numpy()
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"score rows must all have the same length (a rectangular matrix): {err}") from err
    if (arr.ndim != 2 and arr.size == 0) or (arr.ndim == 2 and arr.shape[0] == 0):
        raise ValueError("empty label list: no samples to score")
    if arr.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_samples, n_classes), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError("scores have no columns (no classes)")
    nan = np.argwhere(np.isnan(arr))
    if len(nan):
        i, j = (int(x) for x in nan[0])
        raise ValueError(f"scores contain {len(nan)} NaN value(s), first at [sample {i}, class {j}]")
    return arr


def _as_labels(labels: Any, n_samples: int, n_classes: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a 1-D sequence of class indices, got shape {arr.shape}")
    if len(arr) != n_samples:
        raise ValueError(f"mismatched counts: {n_samples} score rows but {len(arr)} labels")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class indices, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= n_classes))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"labels[{i}] = {int(arr[i])} is out of range [0, {n_classes}) ({len(bad)} out-of-range label(s))"
        )
    return arr.astype(np.int64)


def _as_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)):
        ks = (int(ks),)
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks must contain at least one cut-off")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every k must be a positive integer, got {k!r}")
    return tuple(int(k) for k in ks)


def true_class_ranks(scores: Any, labels: Sequence[int]) -> np.ndarray:
    """Pessimistic 1-based rank of each sample's true class (see the module docstring)."""
    arr = _as_scores(scores)
    lab = _as_labels(labels, arr.shape[0], arr.shape[1])
    ranks = np.empty(len(lab), dtype=np.int64)
    for start in range(0, len(lab), _CHUNK_ROWS):
        block = arr[start : start + _CHUNK_ROWS]
        true = block[np.arange(len(block)), lab[start : start + _CHUNK_ROWS]][:, None]
        ranks[start : start + _CHUNK_ROWS] = 1 + (block > true).sum(axis=1) + (block == true).sum(axis=1) - 1
    return ranks


def zero_shot_accuracy(scores: Any, labels: Sequence[int], ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracy ``{"top1": ..., "top5": ...}`` with pessimistic ties.

    Raises:
        ValueError: empty label list, non-2-D or ragged scores, NaN, mismatched counts, non-integer or
            out-of-range labels, invalid k.
    """
    ks = _as_ks(ks)
    ranks = true_class_ranks(scores, labels)
    return {f"top{k}": float(np.mean(ranks <= k)) for k in ks}


def confusion_matrix(scores: Any, labels: Sequence[int]) -> np.ndarray:
    """Counts ``[true class, predicted class]`` of the top-1 predictions, with the same pessimistic tie rule as
    :func:`zero_shot_accuracy`: a clip whose true class ties with another for the best score is counted as
    that other class (the first in class order), so the diagonal sums to ``top1 * n_samples`` exactly."""
    arr = _as_scores(scores)
    lab = _as_labels(labels, arr.shape[0], arr.shape[1])
    best = arr.max(axis=1, keepdims=True)
    at_best = arr == best
    rows = np.arange(len(lab))
    others = at_best.copy()
    others[rows, lab] = False
    predicted = np.where(others.any(axis=1), others.argmax(axis=1), lab)
    matrix = np.zeros((arr.shape[1], arr.shape[1]), dtype=np.int64)
    np.add.at(matrix, (lab, predicted), 1)
    return matrix


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float64)


def class_embeddings_from_templates(
    encode_text: Callable[[list[str]], Any],
    class_names: Sequence[str],
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> np.ndarray:
    """Prompt-ensembled class embeddings (CLIP style), one unit-norm row per class.

    For each class, every template's ``{}`` is replaced by the class name, the prompts are embedded with
    ``encode_text`` (called once with all ``n_classes * n_templates`` prompts, class-major order), each
    prompt embedding is L2-normalised, the template embeddings are averaged, and the mean is
    re-normalised. Averaging unit vectors makes each template count equally and smooths over wording
    sensitivity. Class names are used verbatim (apply :func:`prettify_label` first for ids such as
    ``"chirping_birds"``).

    Args:
        encode_text: maps a list of strings to a ``(len(texts), dim)`` array (numpy or torch).
        class_names: the class names, in class-index order; must be unique.
        templates: prompt templates, each containing ``{}`` once (default :data:`DEFAULT_TEMPLATES`).

    Returns:
        ``float32`` array of shape ``(n_classes, dim)``; scores are ``audio_emb @ result.T``.

    Raises:
        ValueError: no classes, duplicate or empty class names (duplicates are named), no templates, a
            template without exactly one ``{}``, an encoder output of the wrong shape, a zero or
            non-finite embedding.
    """
    if isinstance(class_names, str) or isinstance(templates, str):
        raise ValueError("class_names and templates must be sequences of strings, not a single string")
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError("class_names is empty")
    empty = [i for i, n in enumerate(names) if not n.strip()]
    if empty:
        raise ValueError(f"empty class name at index/indices {empty}")
    duplicates = sorted(n for n, c in Counter(names).items() if c > 1)
    if duplicates:
        raise ValueError(f"duplicate class names: {duplicates}")
    templates = list(templates)
    if not templates:
        raise ValueError("templates is empty")
    for t in templates:
        if t.count("{}") != 1:
            raise ValueError(f"template {t!r} must contain '{{}}' exactly once")

    prompts = [t.replace("{}", name) for name in names for t in templates]
    emb = _to_numpy(encode_text(prompts))
    if emb.ndim != 2 or emb.shape[0] != len(prompts):
        raise ValueError(
            f"encode_text returned shape {emb.shape} for {len(prompts)} prompts; expected (n, dim)"
        )
    if not np.isfinite(emb).all():
        raise ValueError("encode_text returned non-finite values")
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if len(zero):
        raise ValueError(f"encode_text returned a zero vector for prompt {prompts[int(zero[0])]!r}")
    emb = (emb / norms).reshape(len(names), len(templates), -1).mean(axis=1)
    mean_norms = np.linalg.norm(emb, axis=1, keepdims=True)
    zero = np.flatnonzero(mean_norms[:, 0] == 0)
    if len(zero):
        raise ValueError(f"template embeddings of class {names[int(zero[0])]!r} cancel out (zero mean)")
    return (emb / mean_norms).astype(np.float32)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ZeroShotAccuracy(evaluate.Metric):
    """``evaluate`` wrapper around :func:`zero_shot_accuracy` (rows streamed via ``add``/``add_batch``)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(
        self, predictions: list[list[float]], references: list[int], ks: Sequence[int] = (1, 5)
    ) -> dict[str, float]:
        return zero_shot_accuracy(predictions, references, ks=ks)
