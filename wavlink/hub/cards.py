"""Model cards for published repos, rendered from the `wavlink/hub_cards/` templates (package data, so a wheel
install renders them too).

Everything a card states is read from something checkable: the saved config (every documented field,
including the choices the papers leave open), the safetensors headers (parameter counts), the installed
library versions and the package's declared requirements, and `wavlink eval` JSON files (the only source of
`model-index` metrics). Paper numbers are quoted as the paper's, never as the card's weights' results.

Templates are Jinja2 with `StrictUndefined`: a template that uses a field the code does not provide fails
with `CardError` instead of publishing a card with a hole in it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index
from safetensors import safe_open
from transformers import PretrainedConfig

from ..families import FAMILIES, Family

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "hub_cards"  # wavlink/hub_cards/
ADAPTER_TEMPLATE = "adapter.md.jinja"  # a model family's own template is its registry entry's `card_template`

RETRIEVAL_METRICS = ("R@1", "R@5", "R@10", "mAP@10", "cvR@5")
CLASSIFICATION_METRICS = ("top1", "top5")
DIRECTIONS = {"text_to_audio": ("T2A", "text-to-audio-retrieval", "Text-to-audio retrieval"),
              "audio_to_text": ("A2T", "audio-to-text-retrieval", "Audio-to-text retrieval")}
PER_DIM_KEYS = ("per_dim", "dims", "matryoshka")
# Keys every PretrainedConfig has; what remains after removing them are the model's own choices.
_GENERIC_CONFIG_KEYS = {"auto_map", "architectures", "model_type", "transformers_version", "dtype", "torch_dtype",
                        "_name_or_path", "audio_config", "text_config", "llm_config", "vision_config"}
VERSIONED_PACKAGES = ("transformers", "sentence-transformers", "peft", "torch", "huggingface-hub", "safetensors")


class CardError(ValueError):
    """A card cannot be rendered or does not validate (missing template field, bad results file, bad YAML)."""


# ----------------------------------------------------------------------------------------------- results
@dataclass
class EvalFile:
    """One `wavlink eval` result file, normalised (metrics in percent)."""

    dataset: str
    kind: str  # "retrieval" | "classification"
    metrics: dict[str, dict[str, float]]  # retrieval: {direction: {metric: %}}; classification: {"": {...}}
    per_dim: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    split: str | None = None
    source: str = ""
    full_dim: int | None = None  # the width of the top-level metrics (`dim` in `wavlink eval` output)

    @property
    def dataset_type(self) -> str:
        return self.dataset if "/" in self.dataset else re.sub(r"[^a-z0-9]+", "-", self.dataset.lower()).strip("-")


def _as_percent(values: dict[str, Any], known: Sequence[str], scale: float, where: str) -> dict[str, float]:
    out = {}
    for key in known:
        if key in values:
            value = values[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise CardError(f"{where}: metric {key!r} must be a finite number, got {value!r}")
            out[key] = round(float(value) * scale, 2)
    return out


def _metric_block(data: Mapping[str, Any], kind: str, scale: float, where: str) -> dict[str, dict[str, float]]:
    if kind == "retrieval":
        block = {d: _as_percent(data[d], RETRIEVAL_METRICS, scale, f"{where} {d}") for d in DIRECTIONS if d in data}
        return {d: m for d, m in block.items() if m}
    src = data.get("accuracy", data)
    block = _as_percent(src, CLASSIFICATION_METRICS, scale, where)
    return {"": block} if block else {}


def _rates(data: Any) -> Iterable[float]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in RETRIEVAL_METRICS or key in CLASSIFICATION_METRICS:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    yield float(value)
            elif isinstance(value, (Mapping, list)):
                yield from _rates(value)
    elif isinstance(data, list):
        for item in data:
            yield from _rates(item)


def load_eval_results(paths: Iterable[str | os.PathLike]) -> list[EvalFile]:
    """Read `wavlink eval` JSON files: retrieval `{"task", "text_to_audio": {...}, "audio_to_text": {...}}` or
    classification `{"top1", "top5"}`, with optional per-dimension results under `per_dim` / `dims` /
    `matryoshka` (`{"64": {...}}` or `[{"dim": 64, ...}]`). Fractions are converted to percent."""
    results = []
    for path in paths:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CardError(f"cannot read results file {path}: {err}") from err
        if not isinstance(data, dict):
            raise CardError(f"results file {path} must hold a JSON object")
        if any(d in data for d in DIRECTIONS):
            kind = "retrieval"
        elif "top1" in data or "accuracy" in data:
            kind = "classification"
        else:
            raise CardError(f"results file {path} has neither text_to_audio/audio_to_text (retrieval) "
                            "nor top1/top5 (classification) metrics")
        scale_hint = data.get("scale")
        if scale_hint not in (None, "fraction", "percent"):
            raise CardError(f"results file {path}: scale must be 'fraction' or 'percent', got {scale_hint!r}")
        is_fraction = all(v <= 1.0 for v in _rates(data)) if scale_hint is None else scale_hint == "fraction"
        scale = 100.0 if is_fraction else 1.0
        metrics = _metric_block(data, kind, scale, str(path))
        if not metrics:
            raise CardError(f"results file {path} holds no known metric ({RETRIEVAL_METRICS + CLASSIFICATION_METRICS})")
        per_dim: dict[int, dict[str, dict[str, float]]] = {}
        raw = next((data[k] for k in PER_DIM_KEYS if k in data), None)
        if raw is not None:
            items = raw.items() if isinstance(raw, Mapping) else [(r.get("dim"), r) for r in raw]
            for dim, sub in items:
                try:
                    dim = int(dim)
                except (TypeError, ValueError) as err:
                    raise CardError(f"results file {path}: per-dimension key {dim!r} is not an integer") from err
                per_dim[dim] = _metric_block(sub, kind, scale, f"{path} dim {dim}")
        name = str(data.get("dataset") or data.get("task") or path.stem)
        full_dim = data.get("dim") if isinstance(data.get("dim"), int) else None
        results.append(EvalFile(name, kind, metrics, per_dim, data.get("split"), str(path), full_dim))
    return results


def model_index(model_name: str, results: Sequence[EvalFile]) -> list[dict[str, Any]] | None:
    """`model-index` for the card's YAML, built with huggingface_hub so the Hub parses it."""
    entries = []
    for res in results:
        common = dict(dataset_type=res.dataset_type, dataset_name=res.dataset, dataset_split=res.split)
        blocks = [(None, res.metrics)] + sorted(((d, b) for d, b in res.per_dim.items() if d != res.full_dim),
                                                reverse=True)
        for dim, block in blocks:
            for direction, metrics in block.items():
                if res.kind == "retrieval":
                    short, task_type, task_name = DIRECTIONS[direction]
                else:
                    short, task_type, task_name = "", "zero-shot-audio-classification", "Zero-shot audio classification"
                for metric, value in metrics.items():
                    label = f"{short} {metric}".strip()
                    entries.append(EvalResult(
                        task_type=task_type, task_name=task_name, metric_type=metric, metric_value=value,
                        metric_name=label if dim is None else f"{label} (dim {dim})",
                        metric_config=None if dim is None else f"truncate_dim={dim}", **common))
    return eval_results_to_model_index(model_name, entries) if entries else None


def results_tables(results: Sequence[EvalFile]) -> dict[str, Any]:
    """Rows for the card's results tables (full width) and the per-dimension columns."""
    retrieval, classification = [], []
    per_dim_columns: list[tuple[str, EvalFile, str, str]] = []
    for res in results:
        if res.kind == "retrieval":
            for direction, metrics in res.metrics.items():
                retrieval.append({"dataset": res.dataset, "direction": DIRECTIONS[direction][0],
                                  "cells": [_fmt(metrics.get(m)) for m in RETRIEVAL_METRICS]})
                per_dim_columns.append((f"{res.dataset} {DIRECTIONS[direction][0]} R@1", res, direction, "R@1"))
        else:
            metrics = res.metrics[""]
            classification.append({"dataset": res.dataset, "cells": [_fmt(metrics.get(m)) for m in CLASSIFICATION_METRICS]})
            per_dim_columns.append((f"{res.dataset} top-1", res, "", "top1"))
    return {"retrieval": retrieval, "classification": classification, "metric_names": list(RETRIEVAL_METRICS),
            "per_dim_columns": per_dim_columns}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


# ----------------------------------------------------------------------------------------------- config
def _config_docs(config: Any) -> dict[str, str]:
    """Field descriptions parsed from the config class docstring's `Args:` section."""
    doc = type(config).__doc__ or ""
    docs: dict[str, str] = {}
    current: list[str] = []
    for line in doc.splitlines():
        match = re.match(r"^\s{8}([a-z_][a-z0-9_ /]*):\s*(.*)$", line)
        if match:
            current = [n.strip() for n in match.group(1).split("/")]
            for name in current:
                docs[name] = match.group(2).strip()
        elif current and re.match(r"^\s{12,}\S", line):
            for name in current:
                docs[name] += " " + line.strip()
        elif line.strip() == "":
            continue
        else:
            current = []
    return docs


def config_fields(config: Any) -> list[dict[str, Any]]:
    """The model's own config fields (not generic PretrainedConfig ones) with value and documentation."""
    generic = set(PretrainedConfig().to_dict()) | _GENERIC_CONFIG_KEYS
    docs = _config_docs(config)
    rows = []
    for name, value in config.to_dict().items():
        if name in generic or name.startswith("_") or isinstance(value, dict):
            continue
        if isinstance(value, float):
            value = round(value, 6)
        rows.append({"name": name, "value": json.dumps(value), "doc": docs.get(name, "")})
    return rows


def matryoshka_rows(config: Any, results: Sequence[EvalFile], columns: Sequence[tuple]) -> list[dict[str, Any]]:
    """Dims, bytes per vector at common precisions, and per-dim results where present."""
    full = getattr(config, "projection_dim", None) or config.get_text_config().hidden_size
    dims = sorted({int(d) for d in (getattr(config, "matryoshka_dims", None) or [full])}, reverse=True)
    extra = sorted({d for r in results for d in r.per_dim} - set(dims), reverse=True)
    rows = []
    for dim in sorted(set(dims) | set(extra), reverse=True):
        cells = []
        for _, res, direction, metric in columns:
            block = res.metrics if dim == full and dim not in res.per_dim else res.per_dim.get(dim, {})
            cells.append(_fmt(block.get(direction, {}).get(metric)))
        rows.append({"dim": dim, "trained": dim in dims, "float32": 4 * dim, "float16": 2 * dim, "int8": dim,
                     "binary": math.ceil(dim / 8), "results": cells})
    return rows


def parameter_counts(folder: str | os.PathLike | None = None, model: Any = None) -> list[dict[str, Any]]:
    """Parameters per top-level module, from the model or from the safetensors headers (no weights loaded)."""
    counts: dict[str, int] = {}
    if model is not None:
        for name, param in model.state_dict().items():
            counts[name.split(".")[0]] = counts.get(name.split(".")[0], 0) + param.numel()
    elif folder is not None:
        for file in sorted(Path(folder).glob("*.safetensors")):
            with safe_open(str(file), "pt") as handle:
                for key in handle.keys():
                    numel = math.prod(handle.get_slice(key).get_shape())
                    counts[key.split(".")[0]] = counts.get(key.split(".")[0], 0) + numel
    total = sum(counts.values())
    if not total:
        return []
    major = {k: v for k, v in counts.items() if v >= 0.01 * total}
    rows = [{"component": k, "params": _human(v)} for k, v in sorted(major.items(), key=lambda kv: -kv[1])]
    rest = total - sum(major.values())
    if rest:
        rows.append({"component": "other (each < 1%)", "params": _human(rest)})
    return rows + [{"component": "total", "params": _human(total)}]


def _human(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f}B"
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    return f"{n / 1e3:.1f}K" if n >= 1e3 else str(n)


def _requirements() -> list[str]:
    """The package's dependency specs: pyproject.toml of a source checkout (current even when the editable
    install's metadata is stale), else the installed metadata."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"  # absent in a wheel install
    try:
        import tomllib

        return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])
    except (ImportError, OSError, KeyError, ValueError):
        pass
    try:
        return importlib.metadata.requires("wavlink") or []
    except importlib.metadata.PackageNotFoundError:
        return []


def library_versions() -> dict[str, Any]:
    """Installed versions (what the card was generated and verified with) and the declared ranges."""
    installed = {}
    for name in VERSIONED_PACKAGES + ("wavlink",):
        try:
            installed[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed[name] = "not installed"
    ranges = {name: "any" for name in VERSIONED_PACKAGES}
    for req in _requirements():
        if ";" in req:
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req)
        if match:
            name = match.group(1).lower().replace("_", "-")
            if name in ranges and match.group(2):
                ranges[name] = ",".join(sorted(match.group(2).replace(" ", "").split(","), reverse=True))
    return {"installed": installed, "ranges": ranges}


# ----------------------------------------------------------------------------------------------- render
@functools.lru_cache(maxsize=4)
def _references(path: Path = TEMPLATE_DIR / "references.yaml") -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader)


def _yaml_value(value: Any) -> str:
    """A scalar or flow list as YAML; JSON is valid YAML and quotes everything that needs it."""
    return json.dumps(value, ensure_ascii=False)


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n")


@functools.lru_cache(maxsize=8)
def _environment(directory: Path) -> Any:
    """One Jinja environment per template folder (it caches compiled templates, re-checking file times)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(directory)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["yaml_value"] = _yaml_value
    env.filters["to_yaml"] = _to_yaml
    return env


def render_template(name: str, context: Mapping[str, Any], template_dir: str | os.PathLike | None = None) -> str:
    """Render one template; a field the template uses but the context lacks raises `CardError`."""
    directory = Path(template_dir) if template_dir is not None else TEMPLATE_DIR
    env = _environment(directory.resolve())
    try:
        text = env.get_template(name).render(**context)
    except jinja2.UndefinedError as err:
        raise CardError(f"model card template {directory / name} uses a field that was not provided ({err}); "
                        f"provided fields: {', '.join(sorted(context))}") from err
    except jinja2.TemplateNotFound as err:
        raise CardError(f"model card template {err.name!r} not found in {directory}") from err
    except jinja2.TemplateSyntaxError as err:
        raise CardError(f"model card template {err.filename or name}:{err.lineno}: {err.message}") from err
    return re.sub(r"\n{3,}", "\n\n", text)


def validate_card(card_or_path: str | Path, required: Sequence[str] = ("license", "library_name",
                                                                      "pipeline_tag", "tags")) -> Any:
    """Parse a card (its text, or a `Path` to README.md) with huggingface_hub, as the Hub will: YAML front
    matter and `model-index`; then check the keys the Hub needs to list the model."""
    try:
        card = ModelCard.load(card_or_path) if isinstance(card_or_path, Path) else ModelCard(card_or_path)
        data = card.data.to_dict()
        ModelCardData(**data)  # re-validates model-index (raises on a malformed one)
    except Exception as err:  # yaml errors, model-index errors, missing front matter
        raise CardError(f"model card does not parse: {err.__class__.__name__}: {err}") from err
    missing = [k for k in required if not data.get(k)]
    if missing:
        raise CardError(f"model card lacks {missing} in its YAML front matter")
    if "model-index" in data and not card.data.eval_results:
        raise CardError("model card has a model-index without any parsable result")
    return card


@dataclass
class CardInfo:
    """What the caller knows beyond the config: where the weights come from and what to credit."""

    repo_id: str
    family: str  # "wavlink" | "omni"
    preset: str | None = None
    preset_description: str = ""
    weights: str = "unspecified"  # "random" | "pretrained-components" | "trained" | "unspecified"
    components: list[str] = field(default_factory=list)
    standin_for: str | None = None
    license: str | None = None  # None: DEFAULT_LICENSE, or the licence of a restrictively licensed component
    datasets: list[str] = field(default_factory=list)
    extra_tags: list[str] = field(default_factory=list)
    results: list[EvalFile] = field(default_factory=list)
    verified_reload: bool = True  # the publisher reloads the repo in a clean process before uploading


DEFAULT_LICENSE = "apache-2.0"


def resolve_license(info: CardInfo, refs: Mapping[str, Any]) -> dict[str, str | None]:
    """The card's licence: the explicit one, else that of a component the weights came from, else the default.

    Random weights inherit nothing from the components they are named after; weights initialised from a
    checkpoint under a research licence stay under it (a derived work).
    """
    if info.license is not None:
        return {"license": info.license, "license_name": None, "license_link": None}
    if info.weights in ("pretrained-components", "trained"):
        restricted = refs.get("component_licenses") or {}
        for component in info.components:
            if component in restricted:
                spec = restricted[component]
                return {"license": spec["license"], "license_name": spec.get("license_name"),
                        "license_link": spec.get("license_link")}
    return {"license": DEFAULT_LICENSE, "license_name": None, "license_link": None}


def _family(info: CardInfo) -> Family:
    family = FAMILIES.get(info.family)
    if family is None:
        raise CardError(f"unknown model family {info.family!r}; expected one of {sorted(FAMILIES)}")
    return family


def _common_context(info: CardInfo, kind: str, citations: Sequence[str]) -> dict[str, Any]:
    refs = _references()
    name = info.repo_id.split("/")[-1]
    index = model_index(name, info.results)
    return {
        "repo_id": info.repo_id, "model_name": name, "family": info.family, "kind": kind,
        **resolve_license(info, refs), "datasets": list(info.datasets), "extra_tags": list(info.extra_tags),
        "model_index": {"model-index": index} if index else None,
        "results": results_tables(info.results), "has_results": bool(info.results),
        "versions": library_versions(),
        "citations": [refs["citations"][k].rstrip() for k in citations],
        "pipeline_tag": _family(info).pipeline_tag, "verified_reload": info.verified_reload,
    }


def model_card_context(config: Any, info: CardInfo, param_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the WavLink / Omni templates may use; every key is always present."""
    ctx = _common_context(info, info.family, _family(info).citations)
    tables = ctx["results"]
    dims_rows = matryoshka_rows(config, info.results, tables["per_dim_columns"])
    paper = _references()["paper_results"].get(info.family, {})
    preset_paper = paper.get("presets", {}).get(info.standin_for or info.preset or "", None)
    audio = getattr(config, "audio_config", None)
    text = config.get_text_config() if hasattr(config, "get_text_config") else None
    ctx.update({
        "preset": info.preset, "preset_description": info.preset_description, "weights": info.weights,
        "components": list(info.components), "standin_for": info.standin_for,
        "base_models": list(info.components) if info.weights in ("pretrained-components", "trained") else [],
        "projection_dim": dims_rows[0]["dim"] if dims_rows else None,
        "matryoshka": dims_rows, "example_dim": dims_rows[-1]["dim"] if dims_rows else None,
        "per_dim_headers": [c[0] for c in tables["per_dim_columns"]],
        "config_fields": config_fields(config),
        "long_audio_policy": getattr(config, "long_audio_policy", None),
        "max_audio_seconds": getattr(config, "max_audio_seconds", None),
        "audio_padding": getattr(config, "audio_padding", None),
        "text_instruction": getattr(config, "text_instruction", None),
        "sampling_rate": getattr(config, "sampling_rate", 16000),
        "audio_model_type": getattr(audio, "model_type", None),
        "audio_layers": getattr(audio, "encoder_layers", None) or getattr(audio, "num_hidden_layers", None),
        "audio_width": getattr(audio, "d_model", None) or getattr(audio, "hidden_size", None),
        "n_mels": getattr(audio, "num_mel_bins", None),
        "text_model_type": getattr(text, "model_type", None),
        "text_layers": getattr(text, "num_hidden_layers", None),
        "text_width": getattr(text, "hidden_size", None),
        "params": param_rows, "paper": preset_paper, "paper_source": paper.get("source", ""),
        "paper_baseline": paper.get("baseline", ""),
    })
    return ctx


def render_model_card(config: Any, info: CardInfo, param_rows: list[dict[str, Any]],
                      template_dir: str | os.PathLike | None = None) -> str:
    """The README.md of a WavLink or Omni repo; validated before it is returned."""
    text = render_template(_family(info).card_template, model_card_context(config, info, param_rows), template_dir)
    validate_card(text)
    return text


def render_adapter_card(adapter_config: Mapping[str, Any], info: CardInfo, base_repo: str,
                        template_dir: str | os.PathLike | None = None, st_direct: bool = False) -> str:
    """The README.md of a LoRA adapter repo: `base_model` is the base repo, library `peft`."""
    ctx = _common_context(info, "adapter", _family(info).adapter_citations)
    target = adapter_config.get("target_modules") or []
    ctx.update({
        "base_repo": base_repo, "base_models": [base_repo],
        "lora_r": adapter_config.get("r"), "lora_alpha": adapter_config.get("lora_alpha"),
        "lora_dropout": adapter_config.get("lora_dropout"),
        "target_modules": sorted(target) if isinstance(target, list) else [str(target)],
        "modules_to_save": sorted(adapter_config.get("modules_to_save") or []),
        "peft_type": adapter_config.get("peft_type", "LORA"), "st_direct": st_direct,
    })
    text = render_template(ADAPTER_TEMPLATE, ctx, template_dir)
    validate_card(text)
    return text


__all__ = [
    "CardError", "CardInfo", "EvalFile", "load_eval_results", "model_index", "render_adapter_card",
    "render_model_card", "render_template", "validate_card",
]
