"""Training modes of the WavLink paper and the LoRA targets of each model family.

Modes (paper section on the 24-configuration sweep):

* ``projector`` — both towers frozen; the global token, the projections and the logit scale train.
* ``lora`` — LoRA adapters (rank 8 in the paper) in the towers' Linear layers + the same head parameters.
* ``full`` — everything trains (the paper's winner, used for the two-stage scaled runs), except what the model
  lists in ``frozen_parameter_names()``: Whisper's sinusoidal positions (fixed in transformers as well) and
  encoder weights its forward never uses.

Scope: ``both`` towers, ``audio`` only, or ``text`` only. In ``audio`` scope the whole text side is frozen, the
text projection included, so text embeddings (and any text index built from them) do not change: only the audio
side moves into the text space. ``text`` scope is the mirror image (the audio tower, the global token and the
audio projection frozen), what text-only modality transfer (``objective: text_pairs``) trains: for WavLink the
audio embeddings, and any audio index, stay exactly as they were; for OmniAudioEmbedder the audio encoder and
its projection stay, while the shared LLM, which also reads the audio tokens, trains.

Everything here is family-agnostic: a "tower" is the sub-module the model's family names (`Family.towers` in
`wavlink.families`: ``audio_model`` / ``text_model`` for WavLink, the audio encoder and the LLM backbone for
OmniAudioEmbedder), LoRA targets default to the family's `lora_targets`, "head" parameters are everything
outside the towers, and the loss's learnable scales come from ``model.loss_scales(loss)`` when the model has
it (else ``logit_scale``). Scales the chosen loss does not use stay frozen, so DDP never waits for a gradient
that cannot come.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from torch import nn

from ..families import FAMILIES, QWEN_LINEARS, TEXT_ATTENTION_LINEARS, WHISPER_LINEARS, family_of
from ..model_identity import unwrap

MODES = ("projector", "lora", "full")
SCOPES = ("both", "audio", "text")
TOWERS = ("audio", "text")

# A model of no registered family: its towers are looked for under every family's names, and LoRA targets all
# the leaf names the families use.
FALLBACK_LORA_TARGETS = {"audio": WHISPER_LINEARS, "text": TEXT_ATTENTION_LINEARS + QWEN_LINEARS}
SCALE_PARAMETERS = ("logit_scale", "siglip_logit_scale", "siglip_logit_bias")


def find_towers(model: nn.Module) -> dict[str, str]:
    """{"audio": attribute, "text": attribute} of the towers; raises if a tower cannot be found."""
    base = unwrap(model)
    family = family_of(getattr(base, "config", None))
    families = [family] if family is not None else list(FAMILIES.values())
    found = {}
    for tower in TOWERS:
        names = tuple(dict.fromkeys(f.towers[tower] for f in families))
        for name in names:
            if isinstance(getattr(base, name, None), nn.Module):
                found[tower] = name
                break
        else:
            raise ValueError(
                f"{type(base).__name__} has no {tower} tower (looked for attributes {', '.join(names)})"
            )
    return found


def parse_towers(value: str | Sequence[str] | None, scope: str = "both") -> list[str]:
    """'audio,text' / ['audio'] / None (= the scope's towers) -> validated tower list."""
    if value is None:
        return ["audio", "text"] if scope == "both" else [scope]
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    bad = [v for v in items if v not in TOWERS]
    if bad or not items:
        raise ValueError(f"LoRA targets must be a non-empty subset of {TOWERS}, got {value!r}")
    return sorted(set(items), key=TOWERS.index)


def lora_target_regex(model: nn.Module, towers: Sequence[str], leaves: dict[str, Sequence[str]] | None = None) -> str:
    """A peft ``target_modules`` regex (full match) for the Linear layers of the chosen towers.

    Leaf names default to the model family's `lora_targets`; only leaves that exist as `nn.Linear` in the tower
    are kept, so the regex documents exactly what is adapted.
    """
    base = unwrap(model)
    attrs = find_towers(base)
    family = family_of(getattr(base, "config", None))
    defaults = family.lora_targets if family is not None else FALLBACK_LORA_TARGETS
    leaves = {**defaults, **(leaves or {})}
    parts = []
    for tower in towers:
        prefix = attrs[tower]
        present = sorted({
            name.rsplit(".", 1)[-1]
            for name, module in getattr(base, prefix).named_modules()
            if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in leaves[tower]
        })
        if not present:
            raise ValueError(f"no Linear layer named {list(leaves[tower])} in the {tower} tower ({prefix})")
        parts.append(rf"{re.escape(prefix)}\..*\.({'|'.join(present)})")
    return parts[0] if len(parts) == 1 else "(" + "|".join(parts) + ")"


def head_members(model: nn.Module, scope: str = "both") -> tuple[list[str], list[str]]:
    """(head sub-module names, bare head parameter names) outside the towers that train in every mode.

    In ``audio`` scope members whose name starts with ``text`` stay frozen, in ``text`` scope every member
    whose name does not (global token, audio projection). Loss scales are excluded here (see
    `loss_scale_names`).
    """
    base = unwrap(model)
    towers = set(find_towers(base).values())
    modules = [
        name for name, child in base.named_children()
        if name not in towers and any(True for _ in child.parameters())
    ]
    params = [name for name, _ in base.named_parameters(recurse=False) if name not in SCALE_PARAMETERS]
    if scope == "audio":
        modules = [m for m in modules if not m.startswith("text")]
        params = [p for p in params if not p.startswith("text")]
    elif scope == "text":
        modules = [m for m in modules if m.startswith("text")]
        params = [p for p in params if p.startswith("text")]
    return modules, params


def loss_scale_names(model: nn.Module, loss_type: str) -> list[str]:
    """Names of the top-level parameters the loss uses as scale/bias (from `model.loss_scales` if present)."""
    base = unwrap(model)
    fn = getattr(base, "loss_scales", None)
    used = list(fn(loss_type).values()) if callable(fn) else [getattr(base, "logit_scale", None)]
    ids = {id(t) for t in used if t is not None}
    return [name for name, p in base.named_parameters(recurse=False) if id(p) in ids]


def loss_scale_kwargs(model: nn.Module, loss_type: str) -> dict[str, Any]:
    """The keyword arguments (logit_scale, logit_bias, ...) the package losses expect for this model."""
    base = unwrap(model)
    fn = getattr(base, "loss_scales", None)
    if callable(fn):
        return dict(fn(loss_type))
    if not hasattr(base, "logit_scale"):
        raise ValueError(f"{type(base).__name__} has neither loss_scales() nor a logit_scale parameter")
    return {"logit_scale": base.logit_scale}


def apply_training_mode(
    model: nn.Module,
    mode: str = "full",
    scope: str = "both",
    *,
    loss_type: str = "clip",
    lora_r: int = 8,
    lora_alpha: float | None = None,
    lora_dropout: float = 0.0,
    lora_towers: str | Sequence[str] | None = None,
    lora_leaves: dict[str, Sequence[str]] | None = None,
) -> nn.Module:
    """Freeze/unfreeze for a mode and scope; ``lora`` returns a `peft.PeftModel` wrapping `model`.

    LoRA details (paper silent except r=8): ``lora_alpha`` defaults to ``2 * r``, dropout 0, targets from
    `lora_target_regex`; head sub-modules (projections) go to ``modules_to_save`` and bare head parameters
    (global token, loss scales) are marked trainable and saved into the adapter by `save_adapter`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    base = unwrap(model)
    towers = find_towers(base)
    head_modules, head_params = head_members(base, scope)
    scales = loss_scale_names(base, loss_type)
    base.requires_grad_(False)
    if mode == "lora":
        from peft import LoraConfig, get_peft_model  # lazy: 2.5 s; only LoRA needs it

        chosen = parse_towers(lora_towers, scope)
        if scope != "both" and chosen != [scope]:
            frozen = "text" if scope == "audio" else "audio"
            raise ValueError(f"scope {scope!r} freezes the {frozen} tower; do not target it with LoRA")
        config = LoraConfig(
            r=int(lora_r),
            lora_alpha=float(lora_alpha) if lora_alpha is not None else 2 * int(lora_r),
            lora_dropout=float(lora_dropout),
            target_modules=lora_target_regex(base, chosen, lora_leaves),
            modules_to_save=head_modules or None,
        )
        model = get_peft_model(base, config)
        inner = model.get_base_model()
        for name in head_params + scales:
            getattr(inner, name).requires_grad_(True)
        model.wavlink_extra_trainable = head_params + scales  # saved into the adapter by save_adapter
        return model
    if mode == "full":
        for tower, attr in towers.items():
            if scope in ("both", tower):
                getattr(base, attr).requires_grad_(True)
    for name in head_modules:
        getattr(base, name).requires_grad_(True)
    for name in head_params + scales:
        getattr(base, name).requires_grad_(True)
    freeze_fixed_parameters(base)
    return base


def freeze_fixed_parameters(model: nn.Module) -> list[str]:
    """Re-freeze what the model lists in `frozen_parameter_names()` (fixed positions, weights it never uses);
    returns the names. Unused trainable weights make DDP without `find_unused_parameters` fail."""
    base = unwrap(model)
    fn = getattr(base, "frozen_parameter_names", None)
    names = list(fn()) if callable(fn) else []
    params = dict(base.named_parameters())
    for name in names:
        params[name].requires_grad_(False)
    return names


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def describe_trainable(model: nn.Module) -> str:
    """One line: trainable / total parameters, for logs and the CLI."""
    trainable, total = count_parameters(model)
    return f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)"


__all__ = [
    "FALLBACK_LORA_TARGETS",
    "MODES",
    "SCOPES",
    "apply_training_mode",
    "count_parameters",
    "describe_trainable",
    "find_towers",
    "freeze_fixed_parameters",
    "head_members",
    "lora_target_regex",
    "loss_scale_kwargs",
    "loss_scale_names",
    "parse_towers",
]
