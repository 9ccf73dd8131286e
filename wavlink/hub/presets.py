"""Every publishable preset of every family, and how to build each one (random, pretrained or stand-in).

The families, their presets and builders come from the registry (`wavlink.families`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..families import FAMILIES, STANDIN, Preset, get_family
from .folders import PublishError


@dataclass(frozen=True)
class PresetEntry:
    """One repo of `--all-sizes`: the family, the preset and the repo name it is published under."""

    family: str
    name: str
    hub_name: str
    description: str = ""
    components: tuple[str, ...] = ()
    preset: Preset | None = field(default=None, compare=False, repr=False)

    def repo_id(self, org: str) -> str:
        return f"{org}/{self.hub_name}"


@dataclass
class Built:
    model: Any
    processor: Any
    weights: str  # "random" | "pretrained-components"
    components: list[str]
    standin_for: str | None


def family_presets(family: str) -> list[PresetEntry]:
    if family not in FAMILIES:
        raise PublishError(f"unknown family {family!r}; choose from {tuple(FAMILIES)}")
    spec = FAMILIES[family]
    return [PresetEntry(family, name, spec.hub_name(name), p.description, p.components, p)
            for name, p in spec.presets.items()]


def select_presets(families: list[str], names: list[str] | None) -> list[PresetEntry]:
    """Presets of the families, optionally restricted by preset or repo name (`base`, `omni-audio-embedder-m1`)."""
    entries = [e for family in families for e in family_presets(family)]
    if not names:
        return entries
    chosen = [e for e in entries if e.name in names or e.hub_name in names]
    unknown = sorted(set(names) - {e.name for e in chosen} - {e.hub_name for e in chosen})
    if unknown:
        known = ", ".join(sorted({e.name for e in entries} | {e.hub_name for e in entries}))
        raise PublishError(f"unknown preset(s) {unknown}; known: {known}")
    return chosen


def find_preset(family: str, name: str | None = None, repo_name: str | None = None,
                config: Any = None) -> PresetEntry | None:
    """The preset named `name`, else the one a repo name refers to (`wavlink-base` -> base), else the one the
    family recognises in `config` (Omni: its source checkpoints and decoder depth, so a `wavlink build
    --num-layers 10` of the 7B is omni-7b-l10); for cards."""
    try:
        entries = family_presets(family)
    except PublishError:
        return None
    if name is not None:
        return next((e for e in entries if e.name == name), None)
    entry = next((e for e in entries if e.hub_name == repo_name), None)
    if entry is None and config is not None:
        match = get_family(family).preset_of_config(config)
        entry = next((e for e in entries if e.name == match), None)
    return entry


def build(entry: PresetEntry, *, pretrained: bool = False, standin: bool = False, tokenizer: str | None = None,
          seed: int = 0) -> Built:
    """Build one preset: the tiny stand-in, its real pretrained components, or random weights."""
    if entry.name.startswith(STANDIN):  # already tiny and random by definition
        model, processor = _create(entry.family, entry.name, None, seed)
        return Built(model, processor, "random", [], None)
    if standin:
        model, processor = _create(entry.family, STANDIN, None, seed)
        return Built(model, processor, "random", [], entry.name)
    if pretrained:
        model, processor = _build_pretrained(entry, seed)
        return Built(model, processor, "pretrained-components", list(entry.components), None)
    model, processor = _create(entry.family, entry.name, tokenizer, seed)
    return Built(model, processor, "random", [], None)


def _create(family: str, name: str, tokenizer: str | None, seed: int) -> tuple[Any, Any]:
    return get_family(family).create(name, tokenizer=tokenizer, seed=seed)


def _build_pretrained(entry: PresetEntry, seed: int) -> tuple[Any, Any]:
    return get_family(entry.family).build_preset(entry.name, seed=seed)
