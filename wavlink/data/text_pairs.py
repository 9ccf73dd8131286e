"""Text-pair files for text-only modality transfer (``objective: text_pairs``): (anchor, positive) sentences,
read by the data layer's one table reader (CSV/TSV/JSONL/JSON), so NLI and retrieval pair sets are used as
downloaded.

Columns, the first pair present wins (``anchor_column`` / ``positive_column`` name them explicitly):

=============================  =================================================================
``anchor``, ``positive``       sentence-transformers' pair datasets (e.g. ``sentence-transformers/all-nli`` pair)
``query``, ``positive``        retrieval-style pairs (FEVER / SciFact claim-evidence pairs exported this way)
``sentence1``, ``sentence2``   SNLI / MultiNLI JSONL as released (``snli_1.0_train.jsonl``, ...)
``premise``, ``hypothesis``    the Hugging Face ``snli`` / ``multi_nli`` datasets saved as CSV/JSONL
``text1``, ``text2``           generic
=============================  =================================================================

NLI rows are premise/hypothesis pairs of three kinds; only entailments are positives. When the file has a label
column (``gold_label`` as in the SNLI/MultiNLI releases, else ``label``), rows are kept only if the label is
``entailment`` or ``0`` (the Hugging Face ``snli`` / ``multi_nli`` encoding: 0 entailment, 1 neutral,
2 contradiction); ``keep_labels`` changes that set and ``label_column: null`` in a source dict keeps every row.
Dropped and empty rows are counted in the returned report, not silently lost.

A source is a path or a dict ``{"pairs": PATH, "anchor_column": ..., "positive_column": ...,
"label_column": ..., "keep_labels": [...]}``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tables import read_table

PAIR_COLUMNS = (("anchor", "positive"), ("query", "positive"), ("sentence1", "sentence2"),
                ("premise", "hypothesis"), ("text1", "text2"))
LABEL_COLUMNS = ("gold_label", "label")
ENTAILMENT = ("entailment", "0")
_UNSET = object()


@dataclass(frozen=True)
class TextPair:
    anchor: str
    positive: str
    origin: str


@dataclass
class TextPairReport:
    name: str
    pairs: int = 0
    dropped_by_label: int = 0
    empty: int = 0
    labels_kept: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.name}: {self.pairs} text pairs"
        if self.dropped_by_label:
            text += f", {self.dropped_by_label} rows whose label is not in {self.labels_kept} left out"
        if self.empty:
            text += f", {self.empty} rows with an empty side left out"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pairs": self.pairs, "dropped_by_label": self.dropped_by_label,
                "empty": self.empty, "labels_kept": self.labels_kept}


def _pick_pair(columns: Sequence[str], anchor: str | None, positive: str | None, source: str) -> tuple[str, str]:
    if anchor or positive:
        missing = [c for c in (anchor, positive) if not c or c not in columns]
        if missing:
            raise ValueError(f"{source}: text-pair column(s) {missing} not found; columns: {list(columns)}")
        return anchor, positive  # type: ignore[return-value]
    for a, p in PAIR_COLUMNS:
        if a in columns and p in columns:
            return a, p
    raise ValueError(f"{source}: no text-pair columns (looked for {', '.join('/'.join(c) for c in PAIR_COLUMNS)}); "
                     f"columns: {list(columns)}")


def read_text_pairs(
    path: str | os.PathLike,
    anchor_column: str | None = None,
    positive_column: str | None = None,
    label_column: Any = _UNSET,
    keep_labels: Sequence[str] | None = None,
) -> tuple[list[TextPair], TextPairReport]:
    """The (anchor, positive) pairs of one file and what was left out; see the module docstring."""
    table = read_table(path)
    source = str(path)
    a_col, p_col = _pick_pair(table.columns, anchor_column, positive_column, source)
    if label_column is _UNSET:
        label_column = next((c for c in LABEL_COLUMNS if c in table.columns), None)
    elif label_column is not None and label_column not in table.columns:
        raise ValueError(f"{source}: label column {label_column!r} not found; columns: {table.columns}")
    keep = [str(k).strip().lower() for k in (keep_labels or ENTAILMENT)]
    report = TextPairReport(Path(path).name, labels_kept=keep if label_column else [])
    pairs = []
    for origin, row in table.items():
        if label_column is not None and str(row.get(label_column, "")).strip().lower() not in keep:
            report.dropped_by_label += 1
            continue
        anchor, positive = (str(row.get(a_col) or "").strip(), str(row.get(p_col) or "").strip())
        if not anchor or not positive:
            report.empty += 1
            continue
        pairs.append(TextPair(anchor, positive, origin))
    report.pairs = len(pairs)
    if not pairs:
        raise ValueError(f"{source}: no usable text pairs ({report})")
    return pairs, report


def read_text_pair_source(spec: Any) -> tuple[list[TextPair], TextPairReport]:
    """A path, or a dict ``{"pairs": PATH, ...}`` with the keyword arguments of `read_text_pairs`."""
    if isinstance(spec, (str, os.PathLike)):
        return read_text_pairs(spec)
    if isinstance(spec, dict) and "pairs" in spec:
        options = {k: v for k, v in spec.items() if k != "pairs"}
        unknown = sorted(set(options) - {"anchor_column", "positive_column", "label_column", "keep_labels"})
        if unknown:
            raise ValueError(f"text-pair source {spec!r}: unknown option(s) {unknown}")
        return read_text_pairs(spec["pairs"], **options)
    raise ValueError(f"a text-pair source is a file path or {{'pairs': PATH, ...}}, got {spec!r}")


__all__ = ["ENTAILMENT", "PAIR_COLUMNS", "TextPair", "TextPairReport", "read_text_pair_source", "read_text_pairs"]
