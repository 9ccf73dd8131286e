"""Feature extractor and processor of WavLinkModel.

`WavLinkFeatureExtractor` computes Whisper's log-mel features, but for each clip on its own and padded
only to the longest clip of the batch, so a clip gives the same features alone or in any batch; it returns
a frame mask named `feature_attention_mask` (not `attention_mask`, which belongs to the text tower: the
zero-shot pipeline passes both towers' inputs in one call).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from transformers import BatchFeature, ProcessorMixin, WhisperFeatureExtractor

from .audio_utils import coerce_audio, is_batch

MIN_SAMPLES = 400  # one STFT window (25 ms at 16 kHz); shorter clips are zero-padded to it


class WavLinkFeatureExtractor(WhisperFeatureExtractor):
    """Whisper log-mel features with variable-length padding, resampling and input validation.

    Args (beyond Whisper's):
        max_audio_seconds: encoder window; longer clips follow `long_audio_policy`.
        long_audio_policy: `"chunk"` keeps the whole clip (the model embeds it window by window),
            `"truncate"` keeps the first window, `"error"` raises.
        audio_padding: `"longest"` (default: pad to the longest clip in the batch, with a frame mask) or
            `"max_length"` (Whisper/paper style: every clip padded with silence to `max_audio_seconds`).
        resample: resample other sampling rates with soxr; when False a different rate raises.
    """

    model_input_names = ["input_features", "feature_attention_mask"]

    def __init__(
        self,
        feature_size: int = 80,
        sampling_rate: int = 16000,
        hop_length: int = 160,
        chunk_length: int = 30,
        n_fft: int = 400,
        padding_value: float = 0.0,
        max_audio_seconds: float = 30.0,
        long_audio_policy: str = "chunk",
        audio_padding: str = "longest",
        resample: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("return_attention_mask", None)
        super().__init__(
            feature_size=feature_size,
            sampling_rate=sampling_rate,
            hop_length=hop_length,
            chunk_length=chunk_length,
            n_fft=n_fft,
            padding_value=padding_value,
            return_attention_mask=True,
            **kwargs,
        )
        self.max_audio_seconds = float(max_audio_seconds)
        self.long_audio_policy = long_audio_policy
        self.audio_padding = audio_padding
        self.resample = resample

    @property
    def max_samples(self) -> int:
        return int(round(self.max_audio_seconds * self.sampling_rate))

    def _log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """(n_mels, n_samples // hop) log-mel of one clip, normalised over that clip only."""
        try:
            import torch  # noqa: F401

            return self._torch_extract_fbank_features(waveform[None], "cpu")[0]
        except ImportError:
            return self._np_extract_fbank_features(waveform[None], "cpu")[0]

    def _fit_length(self, wave: np.ndarray, name: str, padding: str) -> np.ndarray:
        if len(wave) > self.max_samples:
            if self.long_audio_policy == "error":
                raise ValueError(
                    f"{name}: {len(wave) / self.sampling_rate:.1f} s is longer than max_audio_seconds="
                    f"{self.max_audio_seconds:g} and long_audio_policy='error'"
                )
            if self.long_audio_policy == "truncate":
                wave = wave[: self.max_samples]
        if padding == "max_length" and len(wave) < self.max_samples:
            wave = np.pad(wave, (0, self.max_samples - len(wave)))
        if len(wave) < MIN_SAMPLES:
            wave = np.pad(wave, (0, MIN_SAMPLES - len(wave)))
        return wave

    def __call__(
        self,
        raw_speech: Any,
        sampling_rate: int | None = None,
        padding: bool | str | None = None,
        return_tensors: str | None = None,
        resample: bool | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Featurise one clip or a list of clips (arrays, tensors, lists, file paths or audio dicts)."""
        for ignored in ("truncation", "max_length", "return_attention_mask", "do_normalize", "device"):
            kwargs.pop(ignored, None)
        if kwargs:
            raise TypeError(f"WavLinkFeatureExtractor got unexpected arguments: {sorted(kwargs)}")
        if padding is None or padding is True:
            padding = self.audio_padding  # unspecified: the extractor's setting
        elif padding is False or padding == "do_not_pad":
            padding = "longest"  # a batch still needs one frame count; the mask keeps each clip unpadded
        if padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {padding!r}")
        resample = self.resample if resample is None else resample
        clips = raw_speech if is_batch(raw_speech) else [raw_speech]
        if len(clips) == 0:
            raise ValueError("no audio given (empty list)")
        features = []
        for i, clip in enumerate(clips):
            name = f"audio[{i}]"
            wave = coerce_audio(clip, sampling_rate, self.sampling_rate, resample=resample, name=name)
            features.append(self._log_mel(self._fit_length(wave, name, padding)))
        longest = max(f.shape[1] for f in features)
        batch = np.full((len(features), self.feature_size, longest), self.padding_value, dtype=np.float32)
        mask = np.zeros((len(features), longest), dtype=np.int64)
        for i, feats in enumerate(features):
            batch[i, :, : feats.shape[1]] = feats
            mask[i, : feats.shape[1]] = 1
        return BatchFeature({"input_features": batch, "feature_attention_mask": mask}, tensor_type=return_tensors)


class WavLinkProcessor(ProcessorMixin):
    """Bundles the feature extractor and the text tokenizer; text and audio may be given in one call."""

    def __init__(self, feature_extractor: WavLinkFeatureExtractor, tokenizer: Any) -> None:
        super().__init__(feature_extractor, tokenizer)

    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        audio: Any = None,
        sampling_rate: int | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        text_kwargs = dict(kwargs.pop("text_kwargs", None) or {})
        audio_kwargs = dict(kwargs.pop("audio_kwargs", None) or {})
        common = dict(kwargs.pop("common_kwargs", None) or {})
        kwargs.pop("images", None), kwargs.pop("videos", None)
        return_tensors = kwargs.pop("return_tensors", common.pop("return_tensors", None))
        common.update(kwargs)
        if text is None and audio is None:
            raise ValueError("give `text`, `audio` or both")
        out: dict[str, Any] = {}
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            if not texts:
                raise ValueError("no text given (empty list)")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise ValueError(f"text[{i}] must be a string, got {type(t).__name__}")
                if not t.strip():
                    raise ValueError(f"text[{i}] is empty")
            tk = {"padding": True, "truncation": True, **common, **text_kwargs}
            tk = {k: v for k, v in tk.items() if k not in ("sampling_rate", "resample")}
            out.update(self.tokenizer(texts, return_tensors=return_tensors, **tk))
        if audio is not None:
            ak = {**{k: v for k, v in common.items() if k in ("padding", "resample")}, **audio_kwargs}
            ak.pop("truncation", None)
            rate = ak.pop("sampling_rate", sampling_rate)
            out.update(self.feature_extractor(audio, sampling_rate=rate, return_tensors=return_tensors, **ak))
        return BatchFeature(out, tensor_type=return_tensors)

    @property
    def model_input_names(self) -> list[str]:
        return list(self.tokenizer.model_input_names) + list(self.feature_extractor.model_input_names)


__all__ = ["WavLinkFeatureExtractor", "WavLinkProcessor"]
