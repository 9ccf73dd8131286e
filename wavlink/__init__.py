"""wavlink: Hugging Face Hub-native audio-text embedding models."""

from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoProcessor

from .configuration_wavlink import WavLinkConfig
from .modeling_wavlink import WavLinkModel, WavLinkOutput
from .processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor

__version__ = "0.1.0"


def _register() -> None:
    """Register with the Auto classes in-process, and mark the classes for remote-code saving."""
    AutoConfig.register(WavLinkConfig.model_type, WavLinkConfig, exist_ok=True)
    AutoModel.register(WavLinkConfig, WavLinkModel, exist_ok=True)
    AutoFeatureExtractor.register(WavLinkConfig, WavLinkFeatureExtractor, exist_ok=True)
    AutoProcessor.register(WavLinkConfig, WavLinkProcessor, exist_ok=True)
    WavLinkConfig.register_for_auto_class()
    WavLinkModel.register_for_auto_class("AutoModel")
    WavLinkFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
    WavLinkProcessor.register_for_auto_class("AutoProcessor")


_register()

__all__ = [
    "WavLinkConfig",
    "WavLinkFeatureExtractor",
    "WavLinkModel",
    "WavLinkOutput",
    "WavLinkProcessor",
    "__version__",
]

# OmniAudioEmbedder family (issue 4): module combination of a multimodal-LLM audio encoder and a decoder LLM.
from .configuration_omni import OmniAudioEmbedderConfig  # noqa: E402
from .modeling_omni import OmniAudioEmbedder, OmniAudioEmbedderOutput  # noqa: E402
from .omni_builder import OMNI_PRESETS, build_omni, create_omni, register_omni  # noqa: E402
from .processing_omni import OmniAudioFeatureExtractor, OmniAudioProcessor  # noqa: E402

register_omni()

__all__ += [
    "OMNI_PRESETS",
    "OmniAudioEmbedder",
    "OmniAudioEmbedderConfig",
    "OmniAudioEmbedderOutput",
    "OmniAudioFeatureExtractor",
    "OmniAudioProcessor",
    "build_omni",
    "create_omni",
    "register_omni",
]
