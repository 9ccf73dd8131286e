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
