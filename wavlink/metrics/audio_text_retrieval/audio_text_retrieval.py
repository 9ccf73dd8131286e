"""Audio-text retrieval metrics (R@k, cvR@k, mAP@10, median/mean rank) in both directions.

Self-contained ``evaluate`` metric script: ``evaluate.load`` copies this file into its module cache and
imports it there, so it may only import the standard library, numpy, datasets and evaluate (never
``wavlink``). ``wavlink.metrics`` re-exports the class and the pure function from this file, so there is
exactly one implementation.

Conventions (shared by both directions)
---------------------------------------
* Input is a similarity matrix ``S`` of shape ``(n_texts, n_audios)`` (higher = more similar) and
  ``text_to_audio[i]``: the index of the clip that caption ``i`` describes. Several captions may share a
  clip (Clotho and AudioCaps test: 5 per clip).
* **Ranks and ties (pessimistic, deterministic).** For one query, items are ordered by score (descending);
  among items with equal scores every irrelevant item comes before every relevant one. The rank of a
  relevant item ``r`` is therefore::

      rank(r) = 1 + #{items with score > s_r} + #{irrelevant items with score == s_r}
                  + #{relevant items with score == s_r listed before r}

  The last term only separates relevant items tied with each other (they take consecutive positions; no
  metric depends on their order among themselves). Ties never earn credit, so degenerate constant
  embeddings get the worst possible ranks instead of a lucky top-1. (MTEB and most toolkits break ties by
  a stable sort, i.e. optimistically for low indices; on tie-free scores the numbers are identical.)
* **text_to_audio** (T2A): every caption is a query with exactly one relevant clip.
* **audio_to_text** (A2T): every clip is a query whose relevant items are all of its captions. Every clip
  must have at least one caption (otherwise a ``ValueError`` names the clip; pass
  ``audio_to_text=False`` to score T2A only, where uncaptioned clips are plain distractors).
* ``R@k``: fraction of queries whose best-ranked relevant item has rank <= k (for A2T this is the DCASE /
  WavCaps / LAION-CLAP convention "at least one of the clip's captions in the top k").
* ``cvR@k``: MTEB's audio-retrieval "cv_recall" (the metric the Jina kick-starter reports as cvR@5): a
  binary hit if any relevant item is in the top k, averaged over queries. By definition it equals ``R@k``
  under the convention above; it is reported under its own name so tables can cite it unambiguously.
* ``mAP@10`` (DCASE-style): per query ``AP@10 = (1/m) * sum_{i: r_i <= 10} i / r_i`` where
  ``r_1 < ... < r_m`` are the ranks of the query's ``m`` relevant items, i.e. precision at the rank of each
  relevant item found in the top 10, divided by the number of relevant items; averaged over queries. With
  one relevant item (T2A) this is ``1/rank`` if ``rank <= 10`` else 0.
* ``medR`` / ``meanR``: median / mean rank of the best-ranked relevant item (1 is best).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import datasets
import evaluate
import numpy as np

_CITATION = """\
@inproceedings{drossos2020clotho,
  title={Clotho: an Audio Captioning Dataset},
  author={Drossos, Konstantinos and Lipping, Samuel and Virtanen, Tuomas},
  booktitle={ICASSP},
  year={2020}
}
"""

_DESCRIPTION = """\
Text-to-audio and audio-to-text retrieval metrics from a caption x clip similarity matrix: R@k, cvR@k
(MTEB cv_recall), DCASE-style mAP@10, median and mean rank. Several captions per clip are supported; ties
are ranked pessimistically (a relevant item tied with irrelevant ones is ranked after them).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): one row per caption (text query): its similarity to every
        audio clip, all rows the same length ``n_audios``.
    references (`list` of `int`): for each caption, the index (column) of the clip it describes.
    ks (`Sequence[int]`, defaults to `(1, 5, 10)`): cut-offs for R@k and cvR@k.
    audio_to_text (`bool`, defaults to `True`): also score clips as queries over captions (requires every
        clip to have at least one caption).
    map_at (`int`, defaults to 10): cut-off of the mAP key (``mAP@10``).
Returns:
    `dict` with ``"text_to_audio"`` (and ``"audio_to_text"``) sub-dicts holding ``R@k``, ``cvR@k``,
    ``mAP@10``, ``medR``, ``meanR`` (floats; recalls and mAP in [0, 1]).
Examples:
    >>> metric = AudioTextRetrieval()
    >>> out = metric.compute(predictions=[[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], references=[0, 1, 1], ks=(1,))
    >>> out["text_to_audio"]["R@1"], out["audio_to_text"]["R@1"]
    (0.6666666666666666, 1.0)
"""

_CHUNK_ROWS = 1024  # bounds the temporary boolean matrices to chunk x n_items


def _as_similarity(similarity: Any) -> np.ndarray:
    """Validate and return a float64 2-D similarity matrix (no NaN, no empty axis)."""
    if hasattr(similarity, "detach"):  # torch tensor without importing torch
        similarity = similarity.detach().cpu().double().numpy()
    try:
        sim = np.asarray(similarity, dtype=np.float64)
    except ValueError as err:  # ragged rows
        raise ValueError(
            f"similarity rows must all have the same length (a rectangular matrix): {err}"
        ) from err
    if sim.ndim != 2 and sim.size == 0:
        raise ValueError("empty query set: similarity has no rows (no text queries)")
    if sim.ndim != 2:
        raise ValueError(f"similarity must be 2-D (n_texts, n_audios), got shape {sim.shape}")
    if sim.shape[0] == 0:
        raise ValueError("empty query set: similarity has no rows (no text queries)")
    if sim.shape[1] == 0:
        raise ValueError("similarity has no columns (no audio clips to retrieve)")
    nan = np.argwhere(np.isnan(sim))
    if len(nan):
        i, j = (int(x) for x in nan[0])
        raise ValueError(f"similarity contains {len(nan)} NaN value(s), first at [text {i}, audio {j}]")
    return sim


def _as_indices(indices: Any, n_expected: int, n_items: int, what: str) -> np.ndarray:
    """Validate integer targets: one per query, each in ``[0, n_items)``."""
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of integers, got shape {arr.shape}")
    if len(arr) != n_expected:
        raise ValueError(f"mismatched counts: {n_expected} query rows in the scores but {len(arr)} {what}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= n_items))
    if len(bad):
        q = int(bad[0])
        raise ValueError(
            f"{what}[{q}] = {int(arr[q])} is out of range [0, {n_items}) ({len(bad)} out-of-range value(s))"
        )
    return arr.astype(np.int64)


def _as_ks(ks: Sequence[int]) -> tuple[int, ...]:
    """Validate the cut-offs: a non-empty sequence of positive integers."""
    if isinstance(ks, (int, np.integer)):
        ks = (int(ks),)
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks must contain at least one cut-off")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every k must be a positive integer, got {k!r}")
    return tuple(int(k) for k in ks)


def single_relevant_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Pessimistic 1-based rank of ``targets[q]`` in row ``q`` of ``scores`` (one relevant item per row).

    ``rank = 1 + #(score > s_target) + #(other items with score == s_target)``: with one relevant item
    every tied item is irrelevant, so all ties are counted against the query.
    """
    n = scores.shape[0]
    ranks = np.empty(n, dtype=np.int64)
    for start in range(0, n, _CHUNK_ROWS):
        block = scores[start : start + _CHUNK_ROWS]
        target = block[np.arange(len(block)), targets[start : start + _CHUNK_ROWS]][:, None]
        greater = (block > target).sum(axis=1)
        tied_others = (block == target).sum(axis=1) - 1
        ranks[start : start + _CHUNK_ROWS] = 1 + greater + tied_others
    return ranks


def multi_relevant_ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Sorted pessimistic 1-based ranks of the ``relevant`` indices within one score vector.

    Order: score descending; among equal scores, irrelevant items first, then relevant items by index.
    """
    rel = np.sort(np.asarray(relevant, dtype=np.int64))
    s_rel = scores[rel]
    greater = (scores[None, :] > s_rel[:, None]).sum(axis=1)
    tied_all = (scores[None, :] == s_rel[:, None]).sum(axis=1)
    tied_rel = s_rel[None, :] == s_rel[:, None]  # (m, m), includes the item itself
    tied_irrelevant = tied_all - tied_rel.sum(axis=1)
    tied_rel_before = np.tril(tied_rel, k=-1).sum(axis=1)
    return np.sort(1 + greater + tied_irrelevant + tied_rel_before)


def _summarise(rank_lists: list[np.ndarray], ks: tuple[int, ...], map_at: int) -> dict[str, float]:
    """R@k / cvR@k / mAP@map_at / medR / meanR from each query's sorted relevant ranks."""
    best = np.array([r[0] for r in rank_lists], dtype=np.float64)
    ap = np.empty(len(rank_lists), dtype=np.float64)
    for q, r in enumerate(rank_lists):
        hit = r <= map_at
        precision_at_hits = np.arange(1, len(r) + 1)[hit] / r[hit]  # i / r_i for relevant items in top K
        ap[q] = precision_at_hits.sum() / len(r)
    out: dict[str, float] = {}
    for k in ks:
        out[f"R@{k}"] = float(np.mean(best <= k))
    for k in ks:
        out[f"cvR@{k}"] = float(np.mean(best <= k))  # MTEB cv_recall: any relevant item in top k
    out[f"mAP@{map_at}"] = float(ap.mean())
    out["medR"] = float(np.median(best))
    out["meanR"] = float(best.mean())
    return out


def retrieval_metrics(
    similarity: Any,
    text_to_audio: Sequence[int],
    ks: Sequence[int] = (1, 5, 10),
    audio_to_text: bool = True,
    map_at: int = 10,
) -> dict[str, dict[str, float]]:
    """Retrieval metrics in both directions from a caption x clip similarity matrix.

    Args:
        similarity: ``(n_texts, n_audios)`` scores, higher = more similar (numpy, nested lists or a torch
            tensor). NaN raises; +-inf are ordinary (extreme) scores.
        text_to_audio: for each caption (row), the index of its clip (column).
        ks: cut-offs for ``R@k`` / ``cvR@k``. ``k >= n_items`` trivially gives 1.0.
        audio_to_text: also compute the A2T direction (every clip must have a caption).
        map_at: cut-off of the mAP (DCASE uses 10).

    Returns:
        ``{"text_to_audio": {...}, "audio_to_text": {...}}`` with keys ``R@k``, ``cvR@k`` for each k,
        ``mAP@{map_at}``, ``medR``, ``meanR``. See the module docstring for the exact definitions and
        the pessimistic tie rule.

    Raises:
        ValueError: empty query set, non-2-D or ragged matrix, NaN, count mismatch, non-integer or
            out-of-range reference, invalid k, or (A2T) a clip without any caption.
    """
    sim = _as_similarity(similarity)
    n_texts, n_audios = sim.shape
    targets = _as_indices(text_to_audio, n_texts, n_audios, "text_to_audio references")
    ks = _as_ks(ks)
    map_at = _as_ks((map_at,))[0]

    t2a_ranks = single_relevant_ranks(sim, targets)
    results = {"text_to_audio": _summarise([r[None] for r in t2a_ranks], ks, map_at)}

    if audio_to_text:
        order = np.argsort(targets, kind="stable")
        bounds = np.searchsorted(targets[order], np.arange(n_audios + 1))
        counts = np.diff(bounds)
        missing = np.flatnonzero(counts == 0)
        if len(missing):
            raise ValueError(
                f"audio clip {int(missing[0])} has no caption ({len(missing)} clip(s) without captions, "
                f"e.g. {missing[:10].tolist()}); every clip needs a caption for audio_to_text "
                "(pass audio_to_text=False to score text_to_audio only)"
            )
        sim_t = np.ascontiguousarray(sim.T)  # (n_audios, n_texts): one row per clip query
        a2t_ranks = [
            multi_relevant_ranks(sim_t[a], order[bounds[a] : bounds[a + 1]]) for a in range(n_audios)
        ]
        results["audio_to_text"] = _summarise(a2t_ranks, ks, map_at)
    return results


def shared_captions(captions: Sequence[str], text_to_audio: Sequence[int]) -> dict[str, list[int]]:
    """Caption texts that describe more than one clip, each with its clips (sorted): captions made from class
    names ("the sound of airplane") repeat so, and their identical embeddings tie under the pessimistic rule."""
    clips: dict[str, set[int]] = {}
    for text, clip in zip(captions, text_to_audio):
        clips.setdefault(str(text), set()).add(int(clip))
    return {text: sorted(c) for text, c in clips.items() if len(c) > 1}


def grouped_retrieval_metrics(
    similarity: Any,
    text_to_audio: Sequence[int],
    captions: Sequence[str],
    ks: Sequence[int] = (1, 5, 10),
    map_at: int = 10,
) -> dict[str, dict[str, float]]:
    """The tie-aware counterpart of `retrieval_metrics` for repeated captions: identical caption texts are grouped
    into one caption, relevant to every clip any of them describes.

    T2A: each distinct caption is one query whose relevant clips are all the clips it describes. A2T: each clip is a
    query over the distinct captions, its own ones relevant. A clip's caption that is word for word another clip's
    caption then counts as a hit for both instead of tying with itself and losing (the pessimistic rule).
    The row of a group is its first caption's row (identical texts embed identically). Without repeated captions
    the figures equal `retrieval_metrics`' (up to duplicate captions of one clip counting once).
    """
    sim = _as_similarity(similarity)
    n_texts, n_audios = sim.shape
    targets = _as_indices(text_to_audio, n_texts, n_audios, "text_to_audio references")
    if len(captions) != n_texts:
        raise ValueError(f"{len(captions)} captions for {n_texts} similarity rows")
    ks = _as_ks(ks)
    map_at = _as_ks((map_at,))[0]
    group_of: dict[str, int] = {}
    first_rows: list[int] = []
    clips_of: list[set[int]] = []
    for row, (text, clip) in enumerate(zip(captions, targets)):
        g = group_of.setdefault(str(text), len(group_of))
        if g == len(first_rows):
            first_rows.append(row)
            clips_of.append(set())
        clips_of[g].add(int(clip))
    groups_sim = sim[first_rows]  # (n_groups, n_audios)
    t2a = [multi_relevant_ranks(groups_sim[g], np.array(sorted(c))) for g, c in enumerate(clips_of)]
    groups_of_clip: list[list[int]] = [[] for _ in range(n_audios)]
    for g, c in enumerate(clips_of):
        for clip in c:
            groups_of_clip[clip].append(g)
    missing = [a for a, g in enumerate(groups_of_clip) if not g]
    if missing:
        raise ValueError(f"audio clip {missing[0]} has no caption ({len(missing)} clip(s) without captions)")
    sim_t = np.ascontiguousarray(groups_sim.T)
    a2t = [multi_relevant_ranks(sim_t[a], np.array(g)) for a, g in enumerate(groups_of_clip)]
    return {"text_to_audio": _summarise(t2a, ks, map_at), "audio_to_text": _summarise(a2t, ks, map_at)}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AudioTextRetrieval(evaluate.Metric):
    """``evaluate`` wrapper around :func:`retrieval_metrics` (rows streamed via ``add``/``add_batch``)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    # float64 so that float64 scores are not rounded into artificial (penalised) ties
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Value("int64"),
                }
            ),
            reference_urls=["https://dcase.community/challenge2024/task-language-based-audio-retrieval"],
        )

    def _compute(
        self,
        predictions: list[list[float]],
        references: list[int],
        ks: Sequence[int] = (1, 5, 10),
        audio_to_text: bool = True,
        map_at: int = 10,
    ) -> dict[str, dict[str, float]]:
        return retrieval_metrics(predictions, references, ks=ks, audio_to_text=audio_to_text, map_at=map_at)
