"""OmniAudioEmbedder: a multimodal-LLM audio encoder + projection + decoder LLM, mean-pooled into one vector.

After Jina AI's "Bootstrapping Audio Embeddings from Multimodal LLMs" (module combination, M1-M4):

* audio: log-mel (B, n_mels, T) + `feature_attention_mask` -> audio encoder -> audio tokens (per clip) ->
  projection to the LLM width -> [`<|audio_bos|>`] tokens [`<|audio_eos|>`] as `inputs_embeds` -> LLM ->
  masked mean over real positions -> L2.
* text: token ids -> the same LLM -> masked mean -> L2. One shared tower for both modalities.

Batch invariance (a clip gives the same embedding alone or in a padded batch): the Qwen2.5-Omni encoder works
per clip and per 2 s chunk (block attention through `cu_seqlens`, convolution input masked), so it is invariant
as is; the Qwen3-Omni encoder zero-pads a clip's last chunk only to the longest chunk *in the batch* and runs
its unmasked 2-D convolutions over that padding, so we always pad chunks to the full chunk size (what it does
anyway in any batch holding a clip of at least one chunk); the Whisper encoder runs masked on the real frames
only. In the LLM, sequences are right-padded, position ids count real tokens only and the causal attention mask
hides padding, so real positions never see it, and pooling ignores it.

The model returns embeddings and its logit scale; the contrastive losses live in `losses.py`.
"""

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling

from .configuration_omni import (
    OmniAudioEmbedderConfig,
    qwen2_5_omni_token_counts,
    qwen3_omni_token_counts,
    three_stride2,
    whisper_stride2,
)
from .input_checks import check_audio_inputs
from .modeling_common import AudioTextEmbedderMixin, AudioTextEmbedderOutput, check_truncate_dim, window_spans


@dataclass
class OmniAudioEmbedderOutput(AudioTextEmbedderOutput):
    """Output of `OmniAudioEmbedder.forward` (deliberately without `last_hidden_state`: it is an embedder)."""


class OmniAudioEmbedderPreTrainedModel(PreTrainedModel):
    config_class = OmniAudioEmbedderConfig
    base_model_prefix = "omni_audio_embedder"
    main_input_name = "input_features"
    input_modalities = ("audio", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = False
    _no_split_modules = [
        "Qwen2_5OmniAudioEncoderLayer",
        "Qwen3OmniMoeAudioEncoderLayer",
        "WhisperEncoderLayer",
        "Qwen2DecoderLayer",
        "Qwen3DecoderLayer",
    ]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # Sub-models (audio encoder, LLM) are initialised by their own `_init_weights` (transformers dispatches
        # per PreTrainedModel), which also rebuilds their non-persistent buffers (sinusoids, rotary frequencies).
        super()._init_weights(module)
        if isinstance(module, OmniAudioEmbedder):
            cfg = self.config
            init.constant_(module.logit_scale, cfg.logit_scale_init)
            init.constant_(module.siglip_logit_scale, cfg.siglip_logit_scale_init)
            init.constant_(module.siglip_logit_bias, cfg.siglip_logit_bias_init)


def _build_audio_encoder(config: OmniAudioEmbedderConfig) -> nn.Module:
    """The transformers audio encoder class of `config.audio_encoder_type`, in the current default dtype."""
    kind = config.audio_encoder_type
    if kind == "qwen2_5_omni":
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

        return Qwen2_5OmniAudioEncoder._from_config(config.audio_config, dtype=torch.get_default_dtype())
    if kind == "qwen3_omni":
        from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import Qwen3OmniMoeAudioEncoder

        return Qwen3OmniMoeAudioEncoder._from_config(config.audio_config, dtype=torch.get_default_dtype())
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    return WhisperEncoder(config.audio_config)


class OmniAudioEmbedder(AudioTextEmbedderMixin, OmniAudioEmbedderPreTrainedModel):
    """Audio-text embedder with one shared LLM tower; L2-normalised embeddings of the LLM's hidden size."""

    def __init__(self, config: OmniAudioEmbedderConfig) -> None:
        super().__init__(config)
        self.audio_encoder = _build_audio_encoder(config)
        if config.uses_audio_projection:
            self.audio_projection: nn.Module = nn.Linear(
                config.audio_output_dim, config.embedding_dim, bias=config.audio_projection_bias
            )
        else:
            self.audio_projection = nn.Identity()
        # dtype: the composite's (sub-configs copied from bf16 checkpoints would otherwise build bf16 towers)
        self.language_model = AutoModel.from_config(config.text_config, dtype=torch.get_default_dtype())
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))
        self.siglip_logit_scale = nn.Parameter(torch.tensor(float(config.siglip_logit_scale_init)))
        self.siglip_logit_bias = nn.Parameter(torch.tensor(float(config.siglip_logit_bias_init)))
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def frozen_parameter_names(self) -> list[str]:
        """Parameters no training mode may unfreeze: fixed sinusoidal positions (the Whisper variant's, frozen in
        transformers too) and encoder weights this model never uses (Qwen2.5-Omni's `audio_bos_eos_token`
        belongs to the thinker's prompt format; trainable but unused, it would stall DDP at the second step)."""
        return [
            f"audio_encoder.{name}"
            for name, _ in self.audio_encoder.named_parameters()
            if name == "embed_positions.weight" or name.startswith("audio_bos_eos_token.")
        ]

    # ------------------------------------------------------------------ shared tower
    def _run_language_model(
        self,
        attention_mask: torch.Tensor,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Last hidden state of the LLM; position ids count real tokens only, so padding side does not matter."""
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.language_model(
            input_ids=input_ids,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        )
        return out.last_hidden_state

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean (or last real position) in float32, for stable sums over hundreds of tokens."""
        if self.config.pooling == "last":
            last = mask.shape[1] - 1 - mask.flip(-1).long().argmax(-1)
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        w = mask.to(torch.float32)[..., None]
        return ((hidden.float() * w).sum(1) / w.sum(1)).to(hidden.dtype)

    def _finish(self, pooled: torch.Tensor, truncate_dim: int | None) -> torch.Tensor:
        if truncate_dim is not None:
            pooled = pooled[..., :truncate_dim]
        return F.normalize(pooled, dim=-1) if self.config.normalize else pooled

    # ------------------------------------------------------------------ audio
    def _encode_qwen2_5_omni(self, features: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """The thinker's `get_audio_features` conversion: padded batch -> flat (n_mels, sum frames) + lengths."""
        mask = torch.arange(features.shape[-1], device=features.device)[None, :] < lengths[:, None]
        flat = features.permute(0, 2, 1)[mask].permute(1, 0)
        tokens = self.audio_encoder(flat, feature_lens=lengths).last_hidden_state
        return list(tokens.split(qwen2_5_omni_token_counts(lengths).tolist()))

    def _encode_qwen3_omni(self, features: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Qwen3-Omni encoder with every chunk zero-padded to the full 2*n_window frames (batch-invariant).

        The chunking, valid-token indices and attention windows are computed here exactly as the upstream
        encoder computes them when its batch holds a full chunk, and handed to it precomputed.
        """
        enc = self.audio_encoder
        chunk = 2 * enc.n_window
        batch, n_mels, frames = features.shape
        n_chunks_max = -(-frames // chunk)
        mask = torch.arange(frames, device=features.device)[None, :] < lengths[:, None]
        x = F.pad(features * mask[:, None, :].to(features.dtype), (0, n_chunks_max * chunk - frames))
        x = x.reshape(batch, n_mels, n_chunks_max, chunk).permute(0, 2, 1, 3)
        starts = torch.arange(n_chunks_max, device=features.device) * chunk
        chunk_lengths = (lengths[:, None] - starts[None, :]).clamp(min=0, max=chunk)
        keep = chunk_lengths > 0
        padded_feature, chunk_lengths = x[keep], chunk_lengths[keep]
        per_chunk = three_stride2(chunk_lengths)
        full = three_stride2(chunk)
        valid = (torch.arange(full, device=features.device)[None, :] < per_chunk[:, None]).flatten()
        valid_indices = valid.nonzero().squeeze(-1)
        counts = qwen3_omni_token_counts(lengths, enc.n_window)
        window = full * (enc.n_window_infer // chunk)
        bounds = [0]
        for n in counts.tolist():
            bounds += [window] * (n // window) + ([n % window] if n % window else [])
        cu_seqlens = torch.tensor(bounds, device=features.device).cumsum(-1, dtype=torch.int32)
        tokens = enc(
            input_features=None,
            feature_lens=lengths,
            padded_feature=padded_feature,
            chunk_lengths=chunk_lengths,
            valid_indices=valid_indices,
            cu_seqlens=cu_seqlens,
        ).last_hidden_state
        return list(tokens.split(counts.tolist()))

    def _encode_whisper(self, features: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Whisper encoder on the real frames only (masked convs and attention), pair-averaged, then normed."""
        enc = self.audio_encoder
        frames = features.shape[-1]
        mask = (torch.arange(frames, device=features.device)[None, :] < lengths[:, None]).to(features.dtype)
        x = features * mask[:, None, :]
        x = F.gelu(enc.conv1(x)) * mask[:, None, :]
        x = F.gelu(enc.conv2(x)).transpose(1, 2)
        n_pos = x.shape[1]
        if n_pos > enc.embed_positions.weight.shape[0]:
            raise ValueError(f"{n_pos} encoder positions exceed Whisper's {enc.embed_positions.weight.shape[0]}")
        x = x + enc.embed_positions.weight[:n_pos].to(x.dtype)
        token_lengths = whisper_stride2(lengths)
        token_mask = torch.arange(n_pos, device=x.device)[None, :] < token_lengths[:, None]
        x = F.dropout(x, p=enc.dropout, training=self.training)
        attn = torch.zeros(token_mask.shape, dtype=x.dtype, device=x.device)
        attn = attn.masked_fill(~token_mask, torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in enc.layers:
            if self.training and enc.layerdrop > 0 and torch.rand([]) < enc.layerdrop:
                continue
            x = layer(x, attn)
        # pool, then the final LayerNorm: Qwen2-Audio's and Qwen2.5-Omni's order (avg_pooler before layer_norm)
        stride = self.config.whisper_pool_stride
        counts = token_lengths // stride
        if stride > 1:
            usable = (n_pos // stride) * stride
            x = x[:, :usable].reshape(x.shape[0], usable // stride, stride, x.shape[-1]).mean(2)
        x = enc.layer_norm(x)
        return [x[i, :n] for i, n in enumerate(counts.tolist())]

    def _audio_tokens(self, features: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        kind = self.config.audio_encoder_type
        if kind == "qwen2_5_omni":
            return self._encode_qwen2_5_omni(features, lengths)
        if kind == "qwen3_omni":
            return self._encode_qwen3_omni(features, lengths)
        return self._encode_whisper(features, lengths)

    def _embed_audio_windows(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled LLM states (B, H) of clips that fit one window, and the LLM hidden states (B, N, H)."""
        tokens = self._audio_tokens(features, lengths)
        empty = [i for i, t in enumerate(tokens) if t.shape[0] == 0]
        if empty:
            raise ValueError(
                f"audio clip(s) {empty} too short for the {self.config.audio_encoder_type} encoder: "
                f"{lengths[empty].tolist()} mel frames give no audio token (need at least 4 frames, 40 ms)"
            )
        projected = self.audio_projection(torch.cat(tokens)).split([t.shape[0] for t in tokens])
        if self.config.audio_special_tokens:
            ids = torch.tensor(
                [self.config.audio_bos_token_id, self.config.audio_eos_token_id], device=features.device
            )
            bos, eos = self.get_input_embeddings()(ids).to(projected[0].dtype).unbind(0)
            projected = [torch.cat([bos[None], t, eos[None]]) for t in projected]
        seq_lengths = torch.tensor([t.shape[0] for t in projected], device=features.device)
        embeds = nn.utils.rnn.pad_sequence(list(projected), batch_first=True)
        mask = (torch.arange(embeds.shape[1], device=features.device)[None, :] < seq_lengths[:, None]).long()
        hidden = self._run_language_model(mask, inputs_embeds=embeds)
        return self._pool(hidden, mask), hidden

    def _embed_long_audio(
        self, features: torch.Tensor, lengths: torch.Tensor, truncate_dim: int | None
    ) -> torch.Tensor:
        """WavLink's chunk policy: duration-weighted mean of the window embeddings, re-normalised."""
        window = self.config.max_audio_frames
        owners, starts, sizes = window_spans(lengths, window)
        # A last window too short to yield one audio token (< 4 frames = 40 ms) is dropped unless it is
        # the whole clip; its weight would be below 0.2% of a full window anyway.
        keep = (sizes >= 4) | (sizes == lengths.cpu()[owners])
        owners, starts, sizes = owners[keep], starts[keep], sizes[keep]
        pieces = features.new_zeros(len(sizes), features.shape[1], int(sizes.max()))
        for j, (i, start, size) in enumerate(zip(owners.tolist(), starts.tolist(), sizes.tolist())):
            pieces[j, :, :size] = features[i, :, start : start + size]
        pooled, _ = self._embed_audio_windows(pieces, sizes.to(features.device))
        window_embeds = self._finish(pooled, truncate_dim)
        weights = sizes.to(window_embeds)[:, None]
        summed = window_embeds.new_zeros(features.shape[0], window_embeds.shape[1])
        summed.index_add_(0, owners.to(window_embeds.device), window_embeds * weights)
        if self.config.normalize:
            return F.normalize(summed, dim=-1)
        totals = torch.zeros(features.shape[0], device=summed.device, dtype=summed.dtype)
        totals.index_add_(0, owners.to(summed.device), sizes.to(summed))
        return summed / totals[:, None]

    def get_audio_features(
        self,
        input_features: torch.Tensor,
        feature_attention_mask: torch.Tensor | None = None,
        truncate_dim: int | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPooling:
        """Audio embeddings (B, hidden or truncate_dim) in `pooler_output`, L2-normalised.

        `last_hidden_state` holds the LLM states (audio tokens, with the special tokens when enabled) when no
        clip needed chunking. Clips longer than `max_audio_seconds` follow `config.long_audio_policy`.
        """
        check_truncate_dim(truncate_dim, self.config.matryoshka_dims)
        frame_mask = check_audio_inputs(input_features, feature_attention_mask, self.config.audio_config.num_mel_bins)
        dtype = next(self.audio_encoder.parameters()).dtype
        features = input_features.to(dtype)
        lengths = frame_mask.long().sum(-1)
        window = self.config.max_audio_frames
        longest = int(lengths.max())
        if longest > window:
            policy = self.config.long_audio_policy
            if policy == "error":
                raise ValueError(
                    f"audio of {longest} frames exceeds max_audio_seconds={self.config.max_audio_seconds:g} and "
                    "long_audio_policy='error'"
                )
            if policy == "truncate":
                lengths = lengths.clamp(max=window)
                longest = window
            else:
                embeds = self._embed_long_audio(features, lengths, truncate_dim)
                return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=embeds)
        pooled, hidden = self._embed_audio_windows(features[:, :, :longest], lengths)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=self._finish(pooled, truncate_dim))

    # ------------------------------------------------------------------ text
    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        truncate_dim: int | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPooling:
        """Text embeddings (B, hidden or truncate_dim) in `pooler_output`, L2-normalised; masked mean pooling."""
        check_truncate_dim(truncate_dim, self.config.matryoshka_dims)
        if input_ids is None:
            raise ValueError("input_ids is required for text embeddings")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if (attention_mask.sum(-1) == 0).any():
            raise ValueError("a text has no tokens (empty text)")
        vocab = self.config.text_config.vocab_size
        if int(input_ids.max()) >= vocab or int(input_ids.min()) < 0:
            raise ValueError(
                f"input_ids contain ids outside the LLM vocabulary [0, {vocab}): wrong tokenizer for this model?"
            )
        hidden = self._run_language_model(attention_mask, input_ids=input_ids)
        pooled = self._pool(hidden, attention_mask)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=self._finish(pooled, truncate_dim))

    # ------------------------------------------------------------------ both
    output_class = OmniAudioEmbedderOutput

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        feature_attention_mask: torch.Tensor | None = None,
        return_loss: bool | None = None,
        truncate_dim: int | None = None,
        **kwargs: Any,
    ) -> OmniAudioEmbedderOutput:
        """Embed whichever modalities are given; with both, similarity logits and the loss (`embed_and_score`)."""
        return self.embed_and_score(input_ids, attention_mask, input_features, feature_attention_mask, return_loss,
                                    truncate_dim)

__all__ = ["OmniAudioEmbedder", "OmniAudioEmbedderOutput", "OmniAudioEmbedderPreTrainedModel"]
