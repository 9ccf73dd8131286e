"""The adapter folder format: save, read, check, load and merge LoRA adapters, and the base fingerprint.

An adapter folder written by `save_adapter` serves both loaders:

* peft: ``PeftModel.from_pretrained(AutoModel.from_pretrained(base, trust_remote_code=True), adapter)``
  (``AutoPeftModel`` cannot load remote-code bases);
* sentence-transformers: ``SentenceTransformer(adapter, trust_remote_code=True)`` — the folder also holds the
  processor files and the ST module files, and ``adapter_config.json`` points at the base
  (``base_model_name_or_path``: an absolute folder or a Hub id), which transformers loads before the adapter.

What trains besides LoRA: the projections (peft ``modules_to_save``) and the bare head parameters (global
token, logit scale). peft has no notion of a bare `nn.Parameter`, so those are written into
``adapter_model.safetensors`` under their full model keys; both loaders above restore them (they load the
adapter state dict non-strictly into the model), which the tests check in a fresh process.

``wavlink_adapter.json`` records the base's architecture fingerprint, so `load_adapter` / `merge_adapter`
refuse a wrong base with a clear message instead of a shape error deep inside peft.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoProcessor

from ..builders.folder import ADAPTER_META, ST_FILES, save_model_folder, write_sentence_transformers_files
from ..model_identity import architecture_fingerprint
from ..trust import read_config_dict, resolve_trust


def _write_st_files(base_ref: str | None, out: Path) -> None:
    """Sentence-transformers module files: copied from a local base folder, else the package defaults."""
    base = Path(base_ref) if base_ref and os.path.isdir(base_ref) else None
    if base is not None and (base / "modules.json").is_file():
        for name in ST_FILES:
            if (base / name).is_file():
                shutil.copy2(base / name, out / name)
        for entry in json.loads((base / "modules.json").read_text()):
            sub = entry.get("path")
            if sub and (base / sub).is_dir():
                shutil.copytree(base / sub, out / sub, dirs_exist_ok=True)
        return
    write_sentence_transformers_files(out)


def save_adapter(
    peft_model: nn.Module,
    processor: Any,
    out_dir: str | os.PathLike,
    base_ref: str | None,
    *,
    base_fingerprint: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write an adapter folder loadable by peft and sentence-transformers (see the module docstring)."""
    if not base_ref:
        raise ValueError("an adapter needs its base: a model folder or Hub id (base_ref)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for config in peft_model.peft_config.values():
        config.base_model_name_or_path = base_ref
    peft_model.save_pretrained(out)
    extra = list(getattr(peft_model, "wavlink_extra_trainable", []))
    if extra:
        weights_path = out / "adapter_model.safetensors"
        weights = load_file(str(weights_path))
        inner = peft_model.get_base_model()
        for name in extra:
            weights[f"base_model.model.{name}"] = getattr(inner, name).detach().cpu().contiguous().clone()
        save_file(weights, str(weights_path), metadata={"format": "pt"})
    processor.save_pretrained(out)
    _write_st_files(base_ref, out)
    meta = {
        "base_model": base_ref,
        "base_fingerprint": base_fingerprint or architecture_fingerprint(peft_model),
        "extra_trainable": extra,
        **(metadata or {}),
    }
    (out / ADAPTER_META).write_text(json.dumps(meta, indent=2) + "\n")
    (out / "README.md").write_text(_adapter_card(base_ref, meta))
    return out


def _adapter_card(base_ref: str, meta: dict[str, Any]) -> str:
    # the Hub validates `base_model` as a repo id: leave local folders out of the metadata
    base_line = "" if os.path.isabs(base_ref) or os.path.exists(base_ref) else f"base_model: {base_ref}\n"
    return f"""---
library_name: peft
{base_line}tags: [wavlink, audio-text, lora, sentence-transformers]
---
# LoRA adapter for `{base_ref}`

Trained with `wavlink finetune` ({meta.get('mode', 'lora')}, r={meta.get('lora_r', '?')}, {meta.get('steps', '?')} steps).

```python
from transformers import AutoModel
from peft import PeftModel
model = PeftModel.from_pretrained(AutoModel.from_pretrained("{base_ref}", trust_remote_code=True), "<this folder>")

from sentence_transformers import SentenceTransformer
st = SentenceTransformer("<this folder>", trust_remote_code=True)
```
`wavlink finetune ... --merge` (or `wavlink.training.merge_adapter`) writes a standalone model folder instead.
"""


def read_adapter_meta(adapter_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(adapter_dir)
    if not (path / "adapter_config.json").is_file():
        raise ValueError(f"not an adapter folder (no adapter_config.json): {path}")
    meta_path = path / ADAPTER_META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if "base_model" not in meta:
        meta["base_model"] = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    return meta


def check_adapter_base(adapter_dir: str | os.PathLike, base_model: nn.Module, base_name: str | None = None) -> None:
    """Raise a clear ValueError when `base_model` is not the architecture the adapter was trained on."""
    meta = read_adapter_meta(adapter_dir)
    expected = meta.get("base_fingerprint")
    actual = architecture_fingerprint(base_model)
    label = base_name or type(base_model).__name__
    if expected and expected.get("shapes_sha256") != actual["shapes_sha256"]:
        raise ValueError(
            f"adapter {adapter_dir} was trained on base {meta.get('base_model')!r} "
            f"({expected.get('model_type')}, {expected.get('num_parameters'):,} parameters) but {label} is a "
            f"different architecture ({actual['model_type']}, {actual['num_parameters']:,} parameters); load "
            "it on its own base"
        )
    # adapters without metadata: every LoRA / saved tensor must land on a module of the right shape
    modules = dict(base_model.named_modules())
    params = dict(base_model.named_parameters())
    weights = Path(adapter_dir) / "adapter_model.safetensors"
    if not weights.is_file():
        return
    with safe_open(str(weights), "pt") as f:
        for key in f.keys():
            name = key.removeprefix("base_model.model.")
            shape = tuple(f.get_slice(key).get_shape())
            if ".lora_A." in f".{name}" or ".lora_B." in f".{name}":
                owner = name.split(".lora_")[0]
                target = modules.get(owner)
                if not isinstance(target, nn.Linear):
                    raise ValueError(f"adapter {adapter_dir} adapts {owner!r}, which {label} does not have")
                dim = target.in_features if ".lora_A." in f".{name}" else target.out_features
                if dim not in shape:
                    raise ValueError(f"adapter {adapter_dir}: {owner!r} has shape {tuple(target.weight.shape)} in "
                                     f"{label}, incompatible with the adapter's {shape}")
                continue
            plain = name.replace(".modules_to_save", "")
            if plain in params and tuple(params[plain].shape) != shape:
                raise ValueError(f"adapter {adapter_dir}: {plain!r} is {shape} in the adapter but "
                                 f"{tuple(params[plain].shape)} in {label}")


def load_adapter(adapter_dir: str | os.PathLike, base: str | os.PathLike | None = None,
                 trust_remote_code: bool = False, **model_kwargs: Any):
    """(PeftModel, processor): the base (default: the one recorded in the adapter) with the adapter applied.

    A wavlink / omni base loads with the package's classes (no folder code runs); another model type with
    code of its own needs `trust_remote_code`. Raises ValueError when the base does not match the adapter's
    architecture.
    """
    from peft import PeftModel  # lazy: 2.5 s; only loading an adapter needs it

    meta = read_adapter_meta(adapter_dir)
    base = os.fspath(base) if base is not None else meta.get("base_model")
    if not base:
        raise ValueError(f"adapter {adapter_dir} does not record its base; pass base=")
    trust = resolve_trust(base, read_config_dict(base), trust_remote_code)
    try:
        model = AutoModel.from_pretrained(base, trust_remote_code=trust, **model_kwargs)
    except OSError as err:
        raise ValueError(f"cannot load the adapter's base {base!r}: {err}") from err
    check_adapter_base(adapter_dir, model, base)
    processor = AutoProcessor.from_pretrained(os.fspath(adapter_dir), trust_remote_code=trust)
    return PeftModel.from_pretrained(model, os.fspath(adapter_dir)), processor


def merge_adapter(adapter_dir: str | os.PathLike, out_dir: str | os.PathLike,
                  base: str | os.PathLike | None = None) -> Path:
    """Write base + adapter merged into a standalone model folder (AutoModel / sentence-transformers)."""
    model, processor = load_adapter(adapter_dir, base)
    return save_model_folder(model.merge_and_unload(), processor, out_dir)


__all__ = [
    "ADAPTER_META",
    "check_adapter_base",
    "load_adapter",
    "merge_adapter",
    "read_adapter_meta",
    "save_adapter",
]
