"""Configuration of OmniAudioEmbedder: a multimodal-LLM audio encoder feeding a (small) decoder LLM.

Module combination after Jina AI, "Bootstrapping Audio Embeddings from Multimodal LLMs" (2026-03-11): the
audio encoder of Qwen2.5-Omni / Qwen3-Omni (or a Whisper encoder) turns log-mel features into audio tokens,
a projection maps them to the LLM's width, the LLM runs over them (or over text tokens: one shared tower for
both modalities), and the last hidden state is mean-pooled into one L2-normalised embedding.

The post leaves many choices open; each one is an explicit, documented field here so a checkpoint states how
it was built instead of relying on code defaults.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import AutoConfig, PretrainedConfig

# audio_encoder_type -> model_type of its transformers config
AUDIO_ENCODER_MODEL_TYPES = {
    "qwen2_5_omni": "qwen2_5_omni_audio_encoder",
    "qwen3_omni": "qwen3_omni_moe_audio_encoder",
    "whisper": "whisper",
}
POOLING_CHOICES = ("mean", "last")
PROJECTION_CHOICES = ("auto", "linear", "none")
LONG_AUDIO_POLICIES = ("chunk", "truncate", "error")
LOSS_TYPES = ("clip", "siglip", "clip+siglip")
# Qwen2.5-Omni's <|audio_bos|> / <|audio_eos|> ids (thinker config audio_start_token_id / audio_end_token_id).
QWEN_OMNI_AUDIO_BOS_ID = 151647
QWEN_OMNI_AUDIO_EOS_ID = 151648


def _encoder_type_of(model_type: str) -> str:
    for kind, mt in AUDIO_ENCODER_MODEL_TYPES.items():
        if mt == model_type:
            return kind
    raise ValueError(
        f"audio_config.model_type={model_type!r} is not a supported audio encoder; "
        f"expected one of {sorted(AUDIO_ENCODER_MODEL_TYPES.values())}"
    )


def _as_config(value: Any, default_model_type: str) -> PretrainedConfig:
    """A config object from an object, a dict (its `model_type`, else the default) or None (defaults)."""
    if value is None:
        return AutoConfig.for_model(default_model_type)
    if isinstance(value, dict):
        value = dict(value)
        return AutoConfig.for_model(value.pop("model_type", default_model_type), **value)
    return value


def audio_output_dim(audio_config: PretrainedConfig) -> int:
    """Width of the audio tokens the encoder emits (Qwen encoders: `output_dim`; Whisper: `d_model`)."""
    if audio_config.model_type == "whisper":
        return int(audio_config.d_model)
    return int(audio_config.output_dim)


def whisper_stride2(frames: Any) -> Any:
    """Positions after one kernel-3, stride-2 convolution (padding 1): Whisper's conv2. Ints or tensors."""
    return (frames - 1) // 2 + 1


def qwen2_5_omni_token_counts(frames: Any) -> Any:
    """Audio tokens of the Qwen2.5-Omni encoder: conv stride 2, then average-pool pairs (25/s)."""
    return (whisper_stride2(frames) - 2) // 2 + 1


def three_stride2(frames: Any) -> Any:
    """Positions after the Qwen3-Omni encoder's three stride-2 convolutions."""
    for _ in range(3):
        frames = whisper_stride2(frames)
    return frames


def qwen3_omni_token_counts(frames: Any, n_window: int) -> Any:
    """Audio tokens of the Qwen3-Omni encoder: three stride-2 convs per chunk of 2*n_window frames."""
    chunk = 2 * n_window
    return three_stride2(frames % chunk) + (frames // chunk) * three_stride2(chunk)


class OmniAudioEmbedderConfig(PretrainedConfig):
    r"""Configuration for [`OmniAudioEmbedder`].

    Args:
        audio_config: `Qwen2_5OmniAudioEncoderConfig`, `Qwen3OmniMoeAudioEncoderConfig` or `WhisperConfig` (only
            the encoder is used), as object or dict.
        text_config: the decoder LLM backbone, any config `AutoModel.from_config` turns into a decoder
            (`qwen2` for Qwen2/Qwen2.5, `qwen3`, ...). Layer pruning ("keep the first N decoder layers", the
            post's path 2) is simply `text_config.num_hidden_layers = N`.
        audio_encoder_type: `"qwen2_5_omni"`, `"qwen3_omni"` or `"whisper"`; inferred from `audio_config`.
        audio_projection: how audio tokens reach the LLM width. `"auto"` (default): identity when the encoder's
            output width already equals the LLM hidden size (Qwen2.5-Omni-3B encoder -> Qwen2.5-3B, the encoder's
            own pretrained `proj` is the "~4.5M-parameter bridge" of the post), otherwise a new `nn.Linear`,
            randomly initialised (the post does not say how it resized the bridge for e.g. Qwen3-Omni's 2048-wide
            encoder -> Qwen2.5-0.5B's 896; we keep the encoder intact, pretrained `proj` included, and add this
            layer rather than re-initialising the encoder's projection). `"linear"` always adds it; `"none"`
            requires equal widths.
        audio_projection_bias: bias of that linear layer.
        pooling: `"mean"` (the post: mean over the last hidden state, here masked to real positions only, so
            padding never enters an embedding) or `"last"` (last real position; what jina-embeddings-v5-omni
            uses, an option for experiments).
        normalize: L2-normalise embeddings (the post does, before the similarity); False returns raw pooled
            states (for analysis; logits are then dot products).
        text_instruction: optional prefix the processor puts before every text (text is always the query side
            in audio-text retrieval). The post shows no prefix, so the default is None (off).
        audio_special_tokens: wrap the audio tokens in the LLM's `<|audio_bos|>` / `<|audio_eos|>` embeddings
            (ids `audio_bos_token_id` / `audio_eos_token_id`), as the Qwen2.5-Omni thinker sees audio. The post
            does not say how audio is placed in the sequence. Default True: for M4 (the complete thinker) this is
            exactly the pretraining format; for plain Qwen2.5 LLMs these ids are other, rarely used special
            tokens that become learned audio delimiters in fine-tuning. No text prompt is added around audio.
        audio_bos_token_id / audio_eos_token_id: token ids used when `audio_special_tokens` is on (Qwen2.5-Omni:
            151647 / 151648).
        whisper_pool_stride: Whisper encoder states are average-pooled in non-overlapping groups of this size
            before the projection (2 = 25 tokens/s, what Qwen2-Audio / Qwen2.5-Omni do on top of the same
            Whisper architecture; 1 = keep 50 tokens/s). Ignored for the Qwen encoders (they pool internally).
        logit_scale_init: initial log inverse temperature of the InfoNCE loss (CLIP's log(1/0.07); the post
            gives no temperature).
        siglip_logit_scale_init / siglip_logit_bias_init: SigLIP's t' = log 10 and b = -10 (loss_type "siglip").
        max_audio_seconds: longest window embedded in one LLM pass (the post: "maximum input length is 30 s;
            longer audio needs to be chunked"; Whisper cannot position more than 30 s). One window's LLM sequence
            (`max_sequence_tokens`) must fit the LLM's `max_position_embeddings`.
        long_audio_policy: audio longer than `max_audio_seconds`: `"chunk"` cuts it into consecutive
            non-overlapping windows (the last one shorter; a last window under 40 ms, too short for one audio
            token, is dropped), embeds each and averages the window embeddings weighted by their duration, then
            re-normalises (WavLink's policy); `"truncate"` keeps the first window; `"error"` raises.
        sampling_rate: audio sampling rate (16 kHz for every supported encoder).
        matryoshka_dims: embedding widths trained with Matryoshka supervision; default just `[hidden_size]`
            (the post trains one width). `truncate_dim` must be one of these.
        loss_type / matryoshka_loss: loss used by `forward(return_loss=True)` and the trainer: `"clip"` is the
            post's symmetric InfoNCE.
        source_checkpoints: provenance, e.g. `{"audio_encoder": "Qwen/Qwen2.5-Omni-3B", "llm": "Qwen/Qwen2.5-3B"}`.
    """

    model_type = "omni_audio_embedder"
    sub_configs = {"audio_config": AutoConfig, "text_config": AutoConfig}

    def __init__(
        self,
        audio_config: PretrainedConfig | dict | None = None,
        text_config: PretrainedConfig | dict | None = None,
        audio_encoder_type: str | None = None,
        audio_projection: str = "auto",
        audio_projection_bias: bool = True,
        pooling: str = "mean",
        normalize: bool = True,
        text_instruction: str | None = None,
        audio_special_tokens: bool = True,
        audio_bos_token_id: int | None = QWEN_OMNI_AUDIO_BOS_ID,
        audio_eos_token_id: int | None = QWEN_OMNI_AUDIO_EOS_ID,
        whisper_pool_stride: int = 2,
        logit_scale_init: float = math.log(1 / 0.07),
        siglip_logit_scale_init: float = math.log(10.0),
        siglip_logit_bias_init: float = -10.0,
        max_audio_seconds: float = 30.0,
        long_audio_policy: str = "chunk",
        sampling_rate: int = 16000,
        matryoshka_dims: list[int] | None = None,
        loss_type: str = "clip",
        matryoshka_loss: bool = True,
        source_checkpoints: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("projection_dim", None)  # derived from text_config, stored for sentence-transformers
        default_audio = AUDIO_ENCODER_MODEL_TYPES.get(audio_encoder_type or "qwen2_5_omni", "qwen2_5_omni_audio_encoder")
        self.audio_config = _as_config(audio_config, default_audio)
        self.text_config = _as_config(text_config, "qwen2")
        inferred = _encoder_type_of(self.audio_config.model_type)
        if audio_encoder_type is not None and audio_encoder_type != inferred:
            raise ValueError(
                f"audio_encoder_type={audio_encoder_type!r} does not match audio_config.model_type="
                f"{self.audio_config.model_type!r} (that is {inferred!r})"
            )
        self.audio_encoder_type = inferred
        self.audio_projection = audio_projection
        self.audio_projection_bias = bool(audio_projection_bias)
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.text_instruction = text_instruction or None
        self.audio_special_tokens = bool(audio_special_tokens)
        self.audio_bos_token_id = audio_bos_token_id
        self.audio_eos_token_id = audio_eos_token_id
        self.whisper_pool_stride = int(whisper_pool_stride)
        self.logit_scale_init = float(logit_scale_init)
        self.siglip_logit_scale_init = float(siglip_logit_scale_init)
        self.siglip_logit_bias_init = float(siglip_logit_bias_init)
        self.max_audio_seconds = float(max_audio_seconds)
        self.long_audio_policy = long_audio_policy
        self.sampling_rate = int(sampling_rate)
        hidden = int(self.text_config.hidden_size)
        self.projection_dim = hidden  # the embedding width (sentence-transformers reads `projection_dim`)
        dims = [hidden] if matryoshka_dims is None else matryoshka_dims
        self.matryoshka_dims = sorted({int(d) for d in dims}, reverse=True)
        self.loss_type = loss_type
        self.matryoshka_loss = bool(matryoshka_loss)
        self.source_checkpoints = dict(source_checkpoints or {})
        kwargs.setdefault("initializer_range", getattr(self.text_config, "initializer_range", 0.02))
        super().__init__(**kwargs)
        self.validate_omni()

    def validate_omni(self) -> None:
        """Reject inconsistent settings early, naming the field."""
        choices = {
            "audio_projection": (self.audio_projection, PROJECTION_CHOICES),
            "pooling": (self.pooling, POOLING_CHOICES),
            "long_audio_policy": (self.long_audio_policy, LONG_AUDIO_POLICIES),
            "loss_type": (self.loss_type, LOSS_TYPES),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"OmniAudioEmbedderConfig.{name}={value!r} is not one of {allowed}")
        hidden = self.projection_dim
        if self.audio_projection == "none" and audio_output_dim(self.audio_config) != hidden:
            raise ValueError(
                f"audio_projection='none' needs the audio width ({audio_output_dim(self.audio_config)}) to equal "
                f"the LLM hidden size ({hidden})"
            )
        bad = [d for d in self.matryoshka_dims if d <= 0 or d > hidden]
        if bad or hidden not in self.matryoshka_dims:
            raise ValueError(
                f"matryoshka_dims must be positive, at most the LLM hidden size {hidden} and contain it; "
                f"got {self.matryoshka_dims}"
            )
        if self.audio_special_tokens:
            vocab = int(self.text_config.vocab_size)
            for name in ("audio_bos_token_id", "audio_eos_token_id"):
                value = getattr(self, name)
                if value is None or not 0 <= int(value) < vocab:
                    raise ValueError(
                        f"audio_special_tokens=True needs {name} in [0, {vocab}) (the LLM vocabulary); got {value}"
                    )
        if self.whisper_pool_stride < 1:
            raise ValueError(f"whisper_pool_stride must be >= 1, got {self.whisper_pool_stride}")
        if self.max_audio_seconds <= 0:
            raise ValueError(f"max_audio_seconds must be positive, got {self.max_audio_seconds}")
        if self.audio_encoder_type == "whisper":
            max_seconds = self.audio_config.max_source_positions * 2 * 160 / self.sampling_rate
            if self.max_audio_seconds > max_seconds + 1e-6:
                raise ValueError(
                    f"max_audio_seconds={self.max_audio_seconds:g} exceeds what the Whisper encoder can position "
                    f"({self.audio_config.max_source_positions} positions = {max_seconds:g} s)"
                )
        limit = getattr(self.text_config, "max_position_embeddings", None)
        needed = self.max_sequence_tokens
        if limit is not None and needed > int(limit):
            raise ValueError(
                f"max_audio_seconds={self.max_audio_seconds:g} gives {needed} LLM positions per window, more than "
                f"the LLM's max_position_embeddings={limit}; lower max_audio_seconds (longer audio is chunked)"
            )

    @property
    def audio_tokens_per_window(self) -> int:
        """Audio tokens the encoder emits for one full `max_audio_seconds` window."""
        frames = self.max_audio_frames
        if self.audio_encoder_type == "qwen2_5_omni":
            return qwen2_5_omni_token_counts(frames)
        if self.audio_encoder_type == "qwen3_omni":
            return qwen3_omni_token_counts(frames, int(self.audio_config.n_window))
        return whisper_stride2(frames) // self.whisper_pool_stride

    @property
    def max_sequence_tokens(self) -> int:
        """LLM sequence length of one full audio window (audio tokens plus the optional delimiters)."""
        return self.audio_tokens_per_window + (2 if self.audio_special_tokens else 0)

    @property
    def embedding_dim(self) -> int:
        """The embedding width: the LLM backbone's hidden size."""
        return int(self.text_config.hidden_size)

    @property
    def audio_output_dim(self) -> int:
        return audio_output_dim(self.audio_config)

    @property
    def uses_audio_projection(self) -> bool:
        if self.audio_projection == "auto":
            return self.audio_output_dim != self.embedding_dim
        return self.audio_projection == "linear"

    @property
    def max_audio_frames(self) -> int:
        """Mel frames per window (100 frames per second at hop 160 and 16 kHz)."""
        return int(round(self.max_audio_seconds * self.sampling_rate / 160))


__all__ = ["OmniAudioEmbedderConfig"]
