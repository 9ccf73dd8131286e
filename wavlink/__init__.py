"""wavlink: Hugging Face Hub-native audio-text embedding models.

Two families share one layout: `wavlink.remote_code` (what every saved model folder carries),
`wavlink.builders` (presets, assembly from pretrained checkpoints, the family registry), and the tools on
top (`inference`, `training`, `evaluation`, `hub`, `commands`).

`import wavlink` is light: torch and transformers load when a name below is first used (so that
`wavlink --help` answers at once). Using any of them, or importing `wavlink.builders`, also registers both
families with transformers' Auto classes (`register_families`), so `AutoModel` / `AutoProcessor.from_pretrained(folder)` then work on a saved
folder without `trust_remote_code`; call `wavlink.register_families()` to do that explicitly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module (relative to this package) that defines it
_LAZY = {
    "FAMILIES": "families",
    "get_family": "families",
    "register_families": "families",
    "build_omni": "builders.omni",
    "create_omni": "builders.omni",
    "OMNI_PRESETS": "builders.omni_presets",
    "OmniAudioEmbedderConfig": "remote_code.configuration_omni",
    "WavLinkConfig": "remote_code.configuration_wavlink",
    "OmniAudioEmbedder": "remote_code.modeling_omni",
    "OmniAudioEmbedderOutput": "remote_code.modeling_omni",
    "WavLinkModel": "remote_code.modeling_wavlink",
    "WavLinkOutput": "remote_code.modeling_wavlink",
    "OmniAudioFeatureExtractor": "remote_code.processing_omni",
    "OmniAudioProcessor": "remote_code.processing_omni",
    "WavLinkFeatureExtractor": "remote_code.processing_wavlink",
    "WavLinkProcessor": "remote_code.processing_wavlink",
}

if TYPE_CHECKING:  # what the names are, for type checkers and readers (the imports happen in __getattr__)
    from .builders.omni import build_omni, create_omni
    from .builders.omni_presets import OMNI_PRESETS
    from .families import FAMILIES, get_family, register_families
    from .remote_code.configuration_omni import OmniAudioEmbedderConfig
    from .remote_code.configuration_wavlink import WavLinkConfig
    from .remote_code.modeling_omni import OmniAudioEmbedder, OmniAudioEmbedderOutput
    from .remote_code.modeling_wavlink import WavLinkModel, WavLinkOutput
    from .remote_code.processing_omni import OmniAudioFeatureExtractor, OmniAudioProcessor
    from .remote_code.processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562), registering the families with the Auto classes once."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    from .families import register_families  # importing the builders registers the families once

    register_families()
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "FAMILIES",
    "OMNI_PRESETS",
    "OmniAudioEmbedder",
    "OmniAudioEmbedderConfig",
    "OmniAudioEmbedderOutput",
    "OmniAudioFeatureExtractor",
    "OmniAudioProcessor",
    "WavLinkConfig",
    "WavLinkFeatureExtractor",
    "WavLinkModel",
    "WavLinkOutput",
    "WavLinkProcessor",
    "__version__",
    "build_omni",
    "create_omni",
    "get_family",
    "register_families",
]
