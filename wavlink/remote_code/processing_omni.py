"""Feature extractor and processor of OmniAudioEmbedder.

Audio: WavLink's feature extractor (per-clip Whisper log-mel, 128 bins for the Qwen-Omni encoders, resampling,
validation, padding to the longest clip, a `feature_attention_mask`), with one change: clips are padded to at
least 40 ms, the shortest audio that yields one token from the Qwen2.5-Omni / pooled Whisper encoder.

Text: the LLM's tokenizer, forced to RIGHT padding. The backbone is a causal decoder: with right padding every
real token keeps its unbatched position and never attends to padding, so a text embeds identically alone or in
a batch (the model also derives positions from the mask, which makes left padding safe too, but right padding
is what the embedder is tested with). The optional `text_instruction` prefix is added here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers import BatchFeature

from .processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor

MIN_OMNI_SAMPLES = 640  # 4 mel frames at hop 160: one token after conv stride 2 + pair pooling


class OmniAudioFeatureExtractor(WavLinkFeatureExtractor):
    """`WavLinkFeatureExtractor` with 128 mel bins by default and a 40 ms minimum clip length.

    Args (beyond WavLink's):
        min_audio_samples: shorter clips are zero-padded to this many samples (default 640 = 40 ms).
    """

    def __init__(self, feature_size: int = 128, min_audio_samples: int = MIN_OMNI_SAMPLES, **kwargs: Any) -> None:
        super().__init__(feature_size=feature_size, **kwargs)
        self.min_audio_samples = int(min_audio_samples)

    def _fit_length(self, wave: np.ndarray, name: str, padding: str) -> np.ndarray:
        wave = super()._fit_length(wave, name, padding)
        if len(wave) < self.min_audio_samples:
            wave = np.pad(wave, (0, self.min_audio_samples - len(wave)))
        return wave


class OmniAudioProcessor(WavLinkProcessor):
    """Feature extractor + LLM tokenizer (right padding) + optional instruction prefix for texts.

    Args:
        feature_extractor: an `OmniAudioFeatureExtractor` (or WavLink's).
        tokenizer: the LLM's tokenizer (Qwen2.5's for real models, the byte-level one for random test models).
        text_instruction: prefix put before every text; None (default) adds nothing. Keep it equal to the
            model config's `text_instruction` (`create_omni` / `build_omni` do).
    """

    def __init__(self, feature_extractor: Any, tokenizer: Any, text_instruction: str | None = None) -> None:
        tokenizer.padding_side = "right"
        super().__init__(feature_extractor, tokenizer)
        self.text_instruction = text_instruction or None

    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        audio: Any = None,
        sampling_rate: int | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise ValueError(f"text[{i}] must be a string, got {type(t).__name__}")
                if not t.strip():
                    raise ValueError(f"text[{i}] is empty")
            if self.text_instruction:
                texts = [self.text_instruction + t for t in texts]
            text = texts
        return super().__call__(text=text, audio=audio, sampling_rate=sampling_rate, **kwargs)


__all__ = ["OmniAudioFeatureExtractor", "OmniAudioProcessor"]
