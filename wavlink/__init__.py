"""wavlink: Hugging Face Hub-native audio-text embedding models.

Two families share one layout: `wavlink.remote_code` (what every saved model folder carries),
`wavlink.builders` (presets, assembly from pretrained checkpoints, the family registry), and the tools on
top (`inference`, `training`, `evaluation`, `hub`, `commands`).
"""

from .builders.families import FAMILIES, get_family, register_families
from .builders.omni import build_omni, create_omni
from .builders.omni_presets import OMNI_PRESETS
from .remote_code.configuration_omni import OmniAudioEmbedderConfig
from .remote_code.configuration_wavlink import WavLinkConfig
from .remote_code.modeling_omni import OmniAudioEmbedder, OmniAudioEmbedderOutput
from .remote_code.modeling_wavlink import WavLinkModel, WavLinkOutput
from .remote_code.processing_omni import OmniAudioFeatureExtractor, OmniAudioProcessor
from .remote_code.processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor

__version__ = "0.1.0"

register_families()

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
