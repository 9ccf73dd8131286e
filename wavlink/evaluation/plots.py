"""Evaluation plots (PNG, need matplotlib): quality vs dimension of a Matryoshka / quantisation sweep, and the
confusion matrix of a zero-shot task.

matplotlib is optional (it is not a dependency of the package): without it :func:`plot_matryoshka`
returns ``None`` and :data:`MATPLOTLIB_MISSING` explains how to get the PNG.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

MATPLOTLIB_MISSING = (
    "matplotlib is not installed, so no quality-vs-dimension PNG was written (the JSON has every number). "
    "Install it with `pip install matplotlib` (or `pip install \"wavlink[eval]\"`) to get the plot."
)

_COLORS = {"R@1": "tab:blue", "R@5": "tab:orange", "R@10": "tab:green", "top1": "tab:blue", "top5": "tab:orange"}
_STYLES = {"float32": "-", "int8": "--", "binary": ":"}


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_matryoshka(results: dict[str, Any], path: str | os.PathLike, title: str | None = None) -> str | None:
    """Draw every metric of ``results["dims"]`` against the embedding width; returns the PNG path, or
    ``None`` when matplotlib is missing."""
    if not have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted((int(d) for d in results["dims"]), reverse=True)
    first = results["dims"][str(dims[0])]
    precisions = ["float32"] + [p for p in ("int8", "binary") if p in first]
    if results.get("kind") == "retrieval":
        panels = [("text_to_audio", "text -> audio"), ("audio_to_text", "audio -> text")]
        metrics = ["R@1", "R@5", "R@10"]
    else:
        panels = [(None, "zero-shot accuracy")]
        metrics = ["top1", "top5"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    for ax, (direction, label) in zip(axes[0], panels):
        for metric in metrics:
            for precision in precisions:
                ys = []
                for d in dims:
                    entry = results["dims"][str(d)]
                    entry = entry if precision == "float32" else entry[precision]
                    block = entry[direction] if direction else entry
                    ys.append(100 * block[metric])
                ax.plot(dims, ys, _STYLES[precision], marker="o", color=_COLORS[metric],
                        label=f"{metric} {precision}" if len(precisions) > 1 else metric)
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims)
        ax.set_xticklabels([str(d) for d in dims])
        ax.set_xlabel("embedding dimension")
        ax.set_ylabel("%")
        ax.set_title(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{results.get('task')}: quality vs Matryoshka dimension")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return os.fspath(path)


def plot_confusion(matrix: Any, class_names: list[str], path: str | os.PathLike, title: str | None = None) -> str | None:
    """Row-normalised confusion matrix (true class down, predicted across), counts written in the cells when
    there are at most 20 classes; returns the PNG path, or ``None`` when matplotlib is missing."""
    if not have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=np.int64)
    n = len(class_names)
    if counts.shape != (n, n):
        raise ValueError(f"confusion matrix shape {counts.shape} does not match {n} class names")
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    side = min(24.0, 2.5 + 0.32 * n)
    fig, ax = plt.subplots(figsize=(side, side))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    font = max(4, 9 - n // 12)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(class_names, rotation=90, fontsize=font)
    ax.set_yticklabels(class_names, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=font,
                            color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_title(title or "zero-shot confusion matrix")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return os.fspath(path)


__all__ = ["MATPLOTLIB_MISSING", "have_matplotlib", "plot_confusion", "plot_matryoshka"]
