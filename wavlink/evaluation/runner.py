"""Run an evaluation end to end: load the data, embed (with the on-disk cache), score, print, write JSON.

:func:`evaluate` is what ``wavlink eval`` and ``scripts/run_eval.py`` call. Its JSON is meant for the
model-card generator: the top level carries the headline numbers for the largest evaluated width
(retrieval: ``text_to_audio`` / ``audio_to_text`` with exactly ``R@1 R@5 R@10 mAP@10 cvR@5``;
classification: ``top1`` / ``top5``), and ``dims[str(width)]`` holds that width's float32 metrics (read by
the card generator as per-dimension results) with ``bytes_per_clip``, and the quantised variants under
``"int8"`` / ``"binary"``. All scores are fractions in [0, 1]; the printed tables
show percentages. Metric definitions (several captions per clip, pessimistic ties) are those of
:mod:`wavlink.metrics` and ``docs/evaluation.md``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..inference import Embedder
from ..metrics import (
    DEFAULT_TEMPLATES,
    class_embeddings_from_templates,
    confusion_matrix,
    grouped_retrieval_metrics,
    prettify_label,
    retrieval_metrics,
    shared_captions,
    zero_shot_accuracy,
)
from .benchmarks import canonical_task, load_task_data, task_kind
from .cache import EmbeddingCache, embedding_cache_dir, model_cache_key
from .plots import MATPLOTLIB_MISSING, plot_confusion, plot_matryoshka
from .quantization import PRECISIONS, bytes_per_clip, quantize, truncate
from .sets import ClassificationSet, RetrievalSet

RETRIEVAL_KEYS: tuple[str, ...] = ("R@1", "R@5", "R@10", "mAP@10", "cvR@5")
CLASSIFICATION_KEYS: tuple[str, ...] = ("top1", "top5")


# --------------------------------------------------------------------------- embedding
def embed_audio(embedder: Any, items: Sequence[Any], progress: bool = True) -> np.ndarray:
    """Full-width audio embeddings, decoding lazily in chunks so a large in-memory dataset is never held
    decoded at once; one progress bar counted in clips."""
    chunk = max(64, 8 * int(getattr(embedder, "batch_size", 16)))
    parts = []
    with tqdm(total=len(items), unit="clip", desc="embedding audio", disable=not progress) as bar:
        for start in range(0, len(items), chunk):
            batch = list(items[start : start + chunk])  # `datasets` byte cells: decoded by the processor
            parts.append(np.asarray(embedder.encode_audio(batch, progress=False), dtype=np.float32))
            bar.update(len(batch))
    return np.concatenate(parts)


def embed_text(embedder: Any, texts: Sequence[str], progress: bool = True) -> np.ndarray:
    return np.asarray(embedder.encode_text(list(texts), progress=progress), dtype=np.float32)


# --------------------------------------------------------------------------- scoring
def _retrieval_cell(sim: np.ndarray, data: RetrievalSet) -> dict[str, dict[str, float]]:
    full = retrieval_metrics(sim, data.caption_to_audio, ks=(1, 5, 10))
    return {direction: {k: full[direction][k] for k in (*RETRIEVAL_KEYS, "medR", "meanR")}
            for direction in ("text_to_audio", "audio_to_text")}


def _fold_breakdown(scores: np.ndarray, data: ClassificationSet) -> dict[str, dict[str, float]]:
    folds = np.asarray(data.folds)
    labels = np.asarray(data.labels)
    out = {}
    for f in data.fold_numbers:
        mask = folds == f
        acc = zero_shot_accuracy(scores[mask], labels[mask], ks=(1, 5))
        out[str(f)] = {**acc, "n": int(mask.sum())}
    return out


def _store(cells: dict[str, dict[str, Any]], dim: int, precision: str, cell: dict[str, Any]) -> None:
    """``dims[d]`` holds the float32 metrics itself (what the model-card generator reads per width) and the
    quantised variants under ``"int8"`` / ``"binary"``."""
    entry = cells.setdefault(str(dim), {})
    if precision == "float32":
        entry.update(cell)
    else:
        entry[precision] = cell


def cell_of(result: dict[str, Any], dim: int | str, precision: str = "float32") -> dict[str, Any]:
    """The metrics of one (width, precision) cell of a result dictionary."""
    entry = result["dims"][str(dim)]
    return entry if precision == "float32" else entry[precision]


def precisions_of(result: dict[str, Any]) -> list[str]:
    first = next(iter(result["dims"].values()))
    return ["float32"] + [p for p in PRECISIONS[1:] if p in first]


def _check_templates(templates: Sequence[str]) -> list[str]:
    if isinstance(templates, str):
        templates = [templates]
    templates = [str(t) for t in templates]
    if not templates:
        raise ValueError("no prompt templates given")
    for t in templates:
        if t.count("{}") != 1:
            raise ValueError(f"template {t!r} must contain '{{}}' exactly once")
    return templates


def read_templates(spec: Sequence[str] | None) -> list[str]:
    """CLI ``--templates``: template strings, or one file with a template per line."""
    if not spec:
        return list(DEFAULT_TEMPLATES)
    if len(spec) == 1 and os.path.isfile(spec[0]):
        with open(spec[0], encoding="utf-8") as f:
            spec = [line.rstrip("\n") for line in f if line.strip()]
    return _check_templates(spec)


def read_class_names(spec: str | Sequence[str] | None) -> list[str] | None:
    """CLI ``--classes``: comma-separated names or a file with one name per line (duplicates rejected later)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if os.path.isfile(spec):
            with open(spec, encoding="utf-8") as f:
                return [line.strip() for line in f if line.strip()]
        return [x.strip() for x in spec.split(",") if x.strip()]
    return list(spec)


# --------------------------------------------------------------------------- main entry point
def evaluate(
    model: Any,
    task: str,
    data: Any,
    output: str | os.PathLike | None = None,
    *,
    matryoshka: bool = False,
    quantize_embeddings: bool = False,
    dim: int | None = None,
    fold: int | None = None,
    per_fold: bool = False,
    templates: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    split: str | None = None,
    skip_missing: bool = False,
    audio_root: str | os.PathLike | None = None,
    audio_column: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    batch_size: int = 16,
    device: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    plot: str | os.PathLike | None = None,
    progress: bool = True,
    verbose: bool = True,
    revision: str | None = None,
    dtype: str | None = None,
    int8: bool = False,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """Evaluate ``model`` (folder, Hub id, or a loaded :class:`wavlink.inference.Embedder`) on ``task``.

    Args:
        task: ``retrieval``, ``zero-shot`` or a benchmark (``clotho``, ``audiocaps``, ``esc50``, ``us8k``,
            ``vggsound``); ``data`` is the path of its local copy (see :mod:`wavlink.evaluation.benchmarks`) or,
            for the generic tasks, a loaded `datasets` dataset.
        matryoshka: sweep every trained width (d, d/2, d/4, d/8) and draw the quality-vs-dimension plot.
        quantize_embeddings: also score int8 and binary audio embeddings (see
            :mod:`wavlink.evaluation.quantization`).
        dim: evaluate this trained width only (default: the full width; ignored with ``matryoshka``).
        fold / per_fold: zero-shot only: keep the clips of one fold / also report each fold's accuracy.
            Every clip is always scored against all classes (zero-shot has no training split).
        templates: prompt templates for zero-shot class embeddings (default: the package's ensemble).
        cache_dir / use_cache: where embeddings are cached (default :func:`embedding_cache_dir`).
        plot: PNG path of the plots (default: next to ``output``): the quality-vs-dimension curve with
            ``matryoshka`` (int8 / binary too with ``quantize_embeddings``), and for zero-shot tasks the confusion
            matrix at the full width (``<stem>_confusion.png``; its counts are in the JSON as ``confusion``).
        revision / dtype / int8 / trust_remote_code: how to load ``model`` when it is a folder or Hub id (see
            :meth:`Embedder.load`).

    Returns:
        The result dictionary that is also written to ``output`` as JSON.
    """
    name = canonical_task(task)
    kind = task_kind(name)
    if kind == "retrieval" and (fold is not None or per_fold):
        raise ValueError("--fold / --per-fold apply to zero-shot classification tasks only")
    templates = _check_templates(templates) if templates is not None else list(DEFAULT_TEMPLATES)
    dataset = load_task_data(name, data, split=split, skip_missing=skip_missing, class_names=class_names,
                             audio_root=audio_root, audio_column=audio_column, text_column=text_column,
                             label_column=label_column)
    if fold is not None:
        dataset = dataset.only_fold(fold)
    if per_fold and (not isinstance(dataset, ClassificationSet) or dataset.folds is None):
        raise ValueError("--per-fold needs data with a fold column")

    if isinstance(model, Embedder):
        if revision is not None or dtype is not None or int8:
            raise ValueError("revision / dtype / int8 apply when evaluate() loads the model; this one is already "
                             "loaded")
        embedder = model
    else:
        embedder = Embedder.load(model, device=device, batch_size=batch_size, dtype=dtype, revision=revision,
                                 int8=int8, trust_remote_code=trust_remote_code)
    trained = sorted(embedder.dims, reverse=True)
    if matryoshka:
        dims = trained
    elif dim is not None:
        if int(dim) not in trained:
            raise ValueError(f"--dim {dim} was not trained; choose one of {trained}")
        dims = [int(dim)]
    else:
        dims = [trained[0]]
    precisions = list(PRECISIONS) if quantize_embeddings else ["float32"]

    source = getattr(embedder.model, "name_or_path", None) or (None if isinstance(model, Embedder) else model)
    cache_root = Path(cache_dir) if cache_dir is not None else embedding_cache_dir()
    options = getattr(embedder, "load_options", {})
    variant = options.get("dtype")
    if options.get("int8"):  # quantised weights give other embeddings: their own cache entries
        variant = f"{variant or 'as-saved'}+int8-{options['int8']}"
    fingerprint = model_cache_key(source or None, embedder.model, cache_root if use_cache else None,
                                    revision=options.get("revision"), dtype=variant)
    cache = EmbeddingCache(cache_root if use_cache else None, fingerprint)

    audio = cache.get_or_compute("audio", dataset.audio, lambda items: embed_audio(embedder, items, progress))
    if audio.shape[1] < dims[0]:
        raise ValueError(f"the model returned {audio.shape[1]}-d embeddings but dim {dims[0]} was requested")

    result: dict[str, Any] = {
        "task": name,
        "kind": kind,
        "dataset": dataset.name,
        "split": dataset.split,
        "model": os.fspath(source) if source else "in-memory model",
        "model_fingerprint": fingerprint,
        **{f"model_{key}": value for key, value in options.items()},  # model_revision / model_dtype, if given
        "data": os.fspath(data) if isinstance(data, (str, os.PathLike)) else type(data).__name__,
        "dim": dims[0],
        "trained_dims": trained,
        "n_audio": len(dataset.audio),
        "n_missing": dataset.n_missing,
    }
    cells: dict[str, dict[str, Any]] = {}
    if isinstance(dataset, RetrievalSet):
        text = cache.get_or_compute("text", dataset.captions, lambda items: embed_text(embedder, items, progress))
        result["n_captions"] = len(dataset.captions)
        for d in dims:
            t = truncate(text, d)
            a = truncate(audio, d)
            for p in precisions:
                _, a_hat = quantize(a, p)
                _store(cells, d, p, {"bytes_per_clip": bytes_per_clip(d, p), **_retrieval_cell(t @ a_hat.T, dataset)})
        top = cells[str(dims[0])]
        result["text_to_audio"] = {k: top["text_to_audio"][k] for k in RETRIEVAL_KEYS}
        result["audio_to_text"] = {k: top["audio_to_text"][k] for k in RETRIEVAL_KEYS}
        shared = shared_captions(dataset.captions, dataset.caption_to_audio)
        if shared:  # the pessimistic figures alone would read as a broken model: give the grouped ones beside
            grouped = grouped_retrieval_metrics(truncate(text, dims[0]) @ truncate(audio, dims[0]).T,
                                                dataset.caption_to_audio, dataset.captions, ks=(1, 5, 10))
            result["repeated_captions"] = {
                "n_texts": len(shared), "n_captions": sum(1 for c in dataset.captions if c in shared),
                "example": next(iter(shared)),
                "grouped": {direction: {k: grouped[direction][k] for k in RETRIEVAL_KEYS}
                            for direction in ("text_to_audio", "audio_to_text")}}
    else:
        pretty = [prettify_label(c) for c in dataset.class_names]
        prompt_cache: dict[str, np.ndarray] = {}

        def encode_prompts(prompts: list[str], d: int) -> np.ndarray:
            if "full" not in prompt_cache:
                prompt_cache["full"] = cache.get_or_compute(
                    "text", prompts, lambda items: embed_text(embedder, items, progress=False))
            return truncate(prompt_cache["full"], d)

        labels = np.asarray(dataset.labels)
        result.update(n_classes=len(dataset.class_names), class_names=dataset.class_names, templates=templates)
        if dataset.folds is not None:
            result["folds"] = dataset.fold_numbers
        for d in dims:
            classes = class_embeddings_from_templates(lambda prompts, d=d: encode_prompts(prompts, d), pretty,
                                                      templates)
            a = truncate(audio, d)
            for p in precisions:
                _, a_hat = quantize(a, p)
                scores = a_hat @ classes.T
                cell: dict[str, Any] = {"bytes_per_clip": bytes_per_clip(d, p),
                                        **zero_shot_accuracy(scores, labels, ks=(1, 5))}
                if per_fold:
                    cell["per_fold"] = _fold_breakdown(scores, dataset)
                _store(cells, d, p, cell)
                if d == dims[0] and p == "float32":
                    result["confusion"] = confusion_matrix(scores, labels).tolist()
        top = cells[str(dims[0])]
        result.update({k: top[k] for k in CLASSIFICATION_KEYS})
        if per_fold:
            result["per_fold"] = top["per_fold"]
            # unweighted mean over folds (what 10-fold US8K tables often report; equals the overall
            # accuracy when the folds have equal sizes, as in ESC-50)
            result["per_fold_mean"] = {k: float(np.mean([v[k] for v in top["per_fold"].values()]))
                                       for k in CLASSIFICATION_KEYS}
    result["dims"] = cells
    if quantize_embeddings:
        result["quantization"] = {
            "quantised_side": "audio (the index); texts stay float32",
            "int8_calibration": "per-dimension min/max of the evaluated clips' embeddings",
            "scoring": "float32 text x reconstructed audio (int8: bucket centres; binary: +-1)",
        }
    result["cache"] = {m: ("hit" if s["hit"] and not s["miss"] else "miss") for m, s in cache.stats.items()}
    result["cache_dir"] = str(cache.dir) if cache.dir is not None else None
    result["wavlink_version"] = __version__
    result["scale"] = "fraction"  # every score is in [0, 1]; definitions in docs/evaluation.md

    result["plot"] = None
    classification = isinstance(dataset, ClassificationSet)
    if matryoshka or plot is not None:
        png = Path(plot) if plot is not None else (Path(output).with_suffix(".png") if output else None)
        if png is None:
            result["plot_note"] = "no --output or --plot given, so no plot was drawn"
        elif not (matryoshka or classification):
            result["plot_note"] = "a retrieval task has a plot only with --matryoshka (quality vs dimension)"
        else:
            if matryoshka:
                result["plot"] = plot_matryoshka(result, png, title=f"{dataset.name}: quality vs dimension")
            if classification:
                result["confusion_plot"] = plot_confusion(
                    result["confusion"], [prettify_label(c) for c in dataset.class_names],
                    png.with_name(f"{png.stem}_confusion.png"),
                    title=f"{dataset.name}: zero-shot confusion ({dims[0]}-d)")
            if (matryoshka and result["plot"] is None) or (classification and result["confusion_plot"] is None):
                result["plot_note"] = MATPLOTLIB_MISSING
    if output is not None:
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if verbose:
        print(format_table(result))
        if result.get("plot_note"):
            print(result["plot_note"], file=sys.stderr)
        if output is not None:
            drawn = [result[k] for k in ("plot", "confusion_plot") if result.get(k)]
            print(f"wrote {output}" + "".join(f" and {path}" for path in drawn))
    return result


# --------------------------------------------------------------------------- table
def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _repeated_captions_note(info: dict[str, Any], dim: int) -> list[str]:
    """Why the table's figures look broken when captions repeat across clips, and the grouped figures."""
    t2a, a2t = info["grouped"]["text_to_audio"], info["grouped"]["audio_to_text"]
    return [
        f"note: {info['n_captions']} captions repeat across clips ({info['n_texts']} text(s) shared by several "
        f"clips, e.g. {info['example']!r}). Identical captions embed identically, and the pessimistic tie rule "
        "(docs/evaluation.md) ranks a clip's own caption after the identical captions of other clips, so the "
        "figures above count those ties as misses.",
        f"  identical captions grouped (dim {dim}, float32; a caption is relevant to every clip it describes): "
        f"T2A R@1 {_pct(t2a['R@1'])} R@5 {_pct(t2a['R@5'])} R@10 {_pct(t2a['R@10'])}  "
        f"A2T R@1 {_pct(a2t['R@1'])} R@5 {_pct(a2t['R@5'])} R@10 {_pct(a2t['R@10'])}",
    ]


def format_table(result: dict[str, Any]) -> str:
    """A paper-style table of every (width, precision) cell (percentages)."""
    lines = []
    if result["kind"] == "retrieval":
        lines.append(f"{result['dataset']}: {result['n_audio']} clips, {result['n_captions']} captions"
                     + (f" ({result['n_missing']} missing clips skipped)" if result.get("n_missing") else ""))
        header = ["dim", "precision", "bytes/clip", "T2A R@1", "R@5", "R@10", "mAP@10",
                  "A2T R@1", "R@5", "R@10", "mAP@10"]
        rows = []
        for d in result["dims"]:
            for p in precisions_of(result):
                c = cell_of(result, d, p)
                t2a, a2t = c["text_to_audio"], c["audio_to_text"]
                rows.append([d, p, str(c["bytes_per_clip"])]
                            + [_pct(t2a[k]) for k in ("R@1", "R@5", "R@10", "mAP@10")]
                            + [_pct(a2t[k]) for k in ("R@1", "R@5", "R@10", "mAP@10")])
    else:
        lines.append(f"{result['dataset']}: {result['n_audio']} clips, {result['n_classes']} classes, "
                     f"{len(result['templates'])} prompt template(s)"
                     + (f" ({result['n_missing']} missing clips skipped)" if result.get("n_missing") else ""))
        header = ["dim", "precision", "bytes/clip", "top1", "top5"]
        rows = [[d, p, str(c["bytes_per_clip"]), _pct(c["top1"]), _pct(c["top5"])]
                for d in result["dims"] for p in precisions_of(result) for c in [cell_of(result, d, p)]]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(str(x).rjust(w) for x, w in zip(row, widths)) for row in rows)
    if result.get("repeated_captions"):
        lines.extend(_repeated_captions_note(result["repeated_captions"], result["dim"]))
    if result.get("per_fold"):
        lines.append(f"per fold (dim {result['dim']}, float32): "
                     + ", ".join(f"fold {f}: top1 {_pct(v['top1'])} (n={v['n']})"
                                 for f, v in result["per_fold"].items())
                     + f"; mean over folds: top1 {_pct(result['per_fold_mean']['top1'])}")
    return "\n".join(lines)


__all__ = ["CLASSIFICATION_KEYS", "RETRIEVAL_KEYS", "cell_of", "embed_audio", "embed_text", "evaluate",
           "format_table", "precisions_of", "read_class_names", "read_templates"]
