"""WavLinkModel: a Whisper encoder with a learnable global token, and a pretrained text encoder.

Audio path (WavLink, arXiv 2601.15118): log-mel -> Whisper conv stem -> + Whisper positions -> the
learnable global token is APPENDED after the last frame -> Whisper layers -> final LayerNorm -> the global
token's state -> linear projection -> L2 norm. Unlike Whisper we run the encoder on the real frames only:
padded frames are zeroed before each convolution and masked out of attention, so a clip gives the same
embedding alone or in a padded batch, and a 10 s clip costs a third of a 30 s one.

The model returns features and its logit scale/bias; the contrastive losses live in `losses.py`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.whisper.modeling_whisper import WhisperEncoder, sinusoids

from .configuration_wavlink import WavLinkConfig
from .input_checks import check_audio_inputs
from .modeling_common import AudioTextEmbedderMixin, AudioTextEmbedderOutput, check_truncate_dim, window_spans


@dataclass
class WavLinkOutput(AudioTextEmbedderOutput):
    """Output of `WavLinkModel.forward` (deliberately without `last_hidden_state`: it is an embedder)."""


def _build_text_model(config) -> nn.Module:
    """Any `AutoModel` text encoder; BERT-like pooler layers are dropped when unused."""
    if config.model_type == "clip_text_model":
        from transformers import CLIPTextModel

        return CLIPTextModel(config)
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def truncate_and_normalize(embeds: torch.Tensor, dim: int | None) -> torch.Tensor:
    if dim is not None:
        embeds = embeds[..., :dim]
    return F.normalize(embeds, dim=-1)


def _additive_mask(token_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) validity -> (B, 1, 1, T) additive attention mask (0 / most negative)."""
    mask = torch.zeros(token_mask.shape, dtype=dtype, device=token_mask.device)
    return mask.masked_fill(~token_mask, torch.finfo(dtype).min)[:, None, None, :]


def _fast_encoder_layer(
    layer: nn.Module, x: torch.Tensor, attn_mask: torch.Tensor | None, last_only: bool = False
) -> torch.Tensor:
    """`WhisperEncoderLayer.forward` at inference: the same modules (so quantised Linear layers work too),
    SDPA on strided q/k/v views with the attention scale inside the kernel, no dropout. With `last_only`, the
    output of the last position only (B, 1, D): its query attends to every key, and the other positions'
    queries, attention outputs and MLPs - which nothing reads after the last layer - are not computed."""
    attn = layer.self_attn
    batch, length, width = x.shape
    heads, head_dim = attn.num_heads, attn.head_dim
    h = layer.self_attn_layer_norm(x)
    k = attn.k_proj(h).view(batch, length, heads, head_dim).transpose(1, 2)
    v = attn.v_proj(h).view(batch, length, heads, head_dim).transpose(1, 2)
    if last_only:
        x, h = x[:, -1:].contiguous(), h[:, -1:].contiguous()
    queries = x.shape[1]
    q = attn.q_proj(h).view(batch, queries, heads, head_dim).transpose(1, 2)
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=attn.scaling)
    x = x + attn.out_proj(o.transpose(1, 2).reshape(batch, queries, width))
    x = x + layer.fc2(layer.activation_fn(layer.fc1(layer.final_layer_norm(x))))
    if x.dtype == torch.float16:
        clamp = torch.finfo(x.dtype).max - 1000
        x = torch.clamp(x, min=-clamp, max=clamp)
    return x


class WavLinkPreTrainedModel(PreTrainedModel):
    config_class = WavLinkConfig
    base_model_prefix = "wavlink"
    main_input_name = "input_features"
    input_modalities = ("audio", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = False
    _no_split_modules = ["WhisperEncoderLayer", "CLIPEncoderLayer", "BertLayer"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, WhisperEncoder):
            init.copy_(module.embed_positions.weight, sinusoids(*module.embed_positions.weight.shape))
        if isinstance(module, WavLinkModel):
            cfg = self.config
            init.normal_(module.global_token, mean=0.0, std=cfg.global_token_init_std)
            if module.global_token_position is not None:
                init.zeros_(module.global_token_position)
            init.constant_(module.logit_scale, cfg.logit_scale_init)
            init.constant_(module.siglip_logit_scale, cfg.siglip_logit_scale_init)
            init.constant_(module.siglip_logit_bias, cfg.siglip_logit_bias_init)


class WavLinkModel(AudioTextEmbedderMixin, WavLinkPreTrainedModel):
    """Audio-text dual encoder with a shared, L2-normalised, Matryoshka-trained embedding space."""

    def __init__(self, config: WavLinkConfig) -> None:
        super().__init__(config)
        d_audio = config.audio_config.d_model
        self.audio_model = WhisperEncoder(config.audio_config)
        self.text_model = _build_text_model(config.text_config)
        self.global_token = nn.Parameter(torch.zeros(1, 1, d_audio))
        self.global_token_position = (
            nn.Parameter(torch.zeros(1, 1, d_audio)) if config.global_token_position == "learned" else None
        )
        self.audio_projection = nn.Linear(d_audio, config.projection_dim, bias=config.audio_projection_bias)
        self.text_projection = nn.Linear(
            config.text_config.hidden_size, config.projection_dim, bias=config.text_projection_bias
        )
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))
        self.siglip_logit_scale = nn.Parameter(torch.tensor(float(config.siglip_logit_scale_init)))
        self.siglip_logit_bias = nn.Parameter(torch.tensor(float(config.siglip_logit_bias_init)))
        self.post_init()

    def frozen_parameter_names(self) -> list[str]:
        """Parameters no training mode may unfreeze: Whisper's sinusoidal positions, fixed in transformers too
        (trained, only the first rows a crop reaches would drift, and the model's length behaviour with them)."""
        return ["audio_model.embed_positions.weight"]

    # ------------------------------------------------------------------ audio
    # The inference path (eval mode, no autograd) runs the Whisper layers through `_fast_encoder_layer`:
    # PyTorch SDPA on strided q/k/v views (no copies), the attention scale applied inside SDPA, and no mask
    # at all - neither before the convolutions nor in attention - when no clip of the batch is padded.
    # Set to False to run transformers' `WhisperEncoderLayer.forward` instead (the reference path).
    fused_inference: bool = True
    # long audio: how many 30 s windows go through the encoder at once (one hour of audio is 120 windows)
    max_windows_per_pass: int = 8

    def _encode_windows(
        self, features: torch.Tensor, frame_mask: torch.Tensor, *, padded: bool | None = None,
        pooled_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the Whisper encoder on (B, n_mels, T<=window) with a frame mask; returns (pooled, hidden).

        Inference path only: `padded` says whether any clip is shorter than T (`None` reads it from the mask,
        `True` always applies the masks: graph export, where the choice cannot depend on the data);
        `pooled_only` with global-token pooling computes the last layer for the global token alone (the
        other positions' outputs are never read for the embedding) and returns `hidden=None`.
        """
        if self.fused_inference and not self.training and not torch.is_grad_enabled():
            if padded is None:
                padded = not bool(frame_mask.bool().all())
            return self._encode_windows_inference(features, frame_mask, padded, pooled_only)
        x, token_mask = self._stem(features, frame_mask)
        return self._run_layers(x, token_mask, start=0, pooled_only=pooled_only)

    def _stem(self, features: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training path: conv front-end (padded frames zeroed before each convolution) + Whisper positions;
        returns the frame states (B, T', D) and their validity mask (B, T')."""
        enc = self.audio_model
        mask = frame_mask.to(features.dtype)
        x = features * mask[:, None, :]
        x = F.gelu(enc.conv1(x)) * mask[:, None, :]
        x = F.gelu(enc.conv2(x)).transpose(1, 2)  # (B, T', D)
        lengths = (frame_mask.sum(-1) - 1) // 2 + 1
        x = self._add_positions(x)
        token_mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        return x, token_mask

    def _run_layers(
        self, x: torch.Tensor, token_mask: torch.Tensor, start: int, pooled_only: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Training path: Whisper layers `start..` on frame states (the global token joins before layer
        `config.global_token_layer`), final LayerNorm, pooling; returns (pooled, hidden). With `pooled_only`
        and global-token pooling the last layer runs for the token alone (same value and gradients: nothing
        reads the other positions' outputs) and hidden is None."""
        enc = self.audio_model
        join = self.config.global_token_layer
        if start > join:
            raise ValueError(f"cannot start at layer {start}: the global token joins before layer {join}")
        if start == join == 0:
            x, token_mask = self._append_global_token(x, token_mask)
            x = F.dropout(x, p=enc.dropout, training=self.training)
        elif start == 0:
            x = F.dropout(x, p=enc.dropout, training=self.training)
        attn_mask = _additive_mask(token_mask, x.dtype)
        last = enc.layers[-1] if len(enc.layers) else None
        last_only = (pooled_only and self.config.audio_pooling == "global_token" and last is not None
                     and (not self.training or not (last.dropout or last.activation_dropout or last.self_attn.dropout)))
        for i in range(start, len(enc.layers)):
            if i == join and not (start == join == 0):
                x, token_mask = self._append_global_token(x, token_mask)
                attn_mask = _additive_mask(token_mask, x.dtype)
            if self.training and enc.layerdrop > 0 and torch.rand([]) < enc.layerdrop:
                continue
            if last_only and i == len(enc.layers) - 1:  # no dropout to apply (checked above)
                x = _fast_encoder_layer(enc.layers[i], x, attn_mask, last_only=True)
            else:
                x = enc.layers[i](x, attn_mask)
        x = enc.layer_norm(x)
        if last_only:
            return x[:, -1], None
        return self._pool(x, token_mask), x

    def audio_prefix_states(
        self, input_features: torch.Tensor, feature_attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The frame states entering layer `config.global_token_layer` (B, T', D) and their mask (B, T').

        They do not depend on the global token, so with layers below it frozen they can be computed once and
        cached; `get_audio_features_from_prefix` finishes the embedding from them (same result as
        `get_audio_features` on a clip within one window). Not for audio longer than `max_audio_seconds`."""
        frame_mask = check_audio_inputs(input_features, feature_attention_mask, self.config.audio_config.num_mel_bins)
        lengths = frame_mask.sum(-1).long()
        if int(lengths.max()) > self.config.max_audio_frames:
            raise ValueError("audio_prefix_states takes clips of at most max_audio_seconds; cut longer ones first")
        valid = int(lengths.max())
        features = input_features[:, :, :valid].to(self.audio_model.conv1.weight.dtype)
        x, token_mask = self._stem(features, frame_mask[:, :valid])
        join = self.config.global_token_layer
        if join == 0:  # `_run_layers` appends the token and applies the input dropout
            return x, token_mask
        x = F.dropout(x, p=self.audio_model.dropout, training=self.training)
        attn_mask = _additive_mask(token_mask, x.dtype)
        for layer in self.audio_model.layers[:join]:
            x = layer(x, attn_mask)
        return x, token_mask

    def get_audio_features_from_prefix(
        self, states: torch.Tensor, token_mask: torch.Tensor, truncate_dim: int | None = None,
        pooled_only: bool = False,
    ) -> BaseModelOutputWithPooling:
        """L2-normalised audio embeddings from `audio_prefix_states` (the layers from the global token's on);
        `pooled_only` computes the last layer for the global token alone (training a head: ~T times less)."""
        check_truncate_dim(truncate_dim, self.config.matryoshka_dims)
        pooled, hidden = self._run_layers(states, token_mask.bool(), start=self.config.global_token_layer,
                                          pooled_only=pooled_only)
        embeds = truncate_and_normalize(self.audio_projection(pooled), truncate_dim)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=embeds)

    def _add_positions(self, x: torch.Tensor) -> torch.Tensor:
        """Whisper's sinusoidal positions on the conv-stem frames (refusing more frames than it has)."""
        table = self.audio_model.embed_positions.weight
        if x.shape[1] > table.shape[0]:
            raise ValueError(f"{x.shape[1]} encoder positions exceed Whisper's {table.shape[0]}")
        return x + table[: x.shape[1]].to(x.dtype)

    def _append_global_token(
        self, x: torch.Tensor, token_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The learnable global token after the last frame (with global-token pooling), marked valid in the mask."""
        if self.config.audio_pooling != "global_token":
            return x, token_mask
        token = self.global_token.to(x.dtype).expand(x.shape[0], 1, -1)
        if self.global_token_position is not None:
            token = token + self.global_token_position.to(x.dtype)
        x = torch.cat([x, token], dim=1)
        if token_mask is not None:
            token_mask = torch.cat([token_mask, token_mask.new_ones(x.shape[0], 1)], dim=1)
        return x, token_mask

    def _pool(self, x: torch.Tensor, token_mask: torch.Tensor | None) -> torch.Tensor:
        """The global token's final state, else the mean over valid positions (all of them without a mask)."""
        if self.config.audio_pooling == "global_token":
            return x[:, -1]
        if token_mask is None:
            return x.mean(1)
        w = token_mask.to(x.dtype)[..., None]
        return (x * w).sum(1) / w.sum(1)

    def _encode_windows_inference(
        self, features: torch.Tensor, frame_mask: torch.Tensor, padded: bool, pooled_only: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`_encode_windows` without autograd or dropout; the masks only when a clip is padded (a mask of
        all ones changes nothing, so an unpadded batch gives the same numbers without them)."""
        enc = self.audio_model
        if padded:
            mask = frame_mask.to(features.dtype)[:, None, :]
            x = F.gelu(enc.conv1(features * mask)) * mask
        else:
            x = F.gelu(enc.conv1(features))
        x = F.gelu(enc.conv2(x)).transpose(1, 2)  # (B, T', D)
        x = self._add_positions(x)
        n_pos = x.shape[1]
        token_mask = None
        if padded:
            lengths = (frame_mask.sum(-1) - 1) // 2 + 1
            token_mask = torch.arange(n_pos, device=x.device)[None, :] < lengths[:, None]
        join = self.config.global_token_layer if self.config.audio_pooling == "global_token" else 0
        if join == 0:
            x, token_mask = self._append_global_token(x, token_mask)
        attn_mask = None if token_mask is None else _additive_mask(token_mask, x.dtype)
        last_only = pooled_only and self.config.audio_pooling == "global_token" and len(enc.layers) > 0
        for i, layer in enumerate(enc.layers):
            if i == join and i > 0:
                x, token_mask = self._append_global_token(x, token_mask)
                attn_mask = None if token_mask is None else _additive_mask(token_mask, x.dtype)
            x = _fast_encoder_layer(layer, x, attn_mask, last_only=last_only and i == len(enc.layers) - 1)
        x = enc.layer_norm(x)
        if last_only:
            return x[:, -1], None
        return self._pool(x, token_mask), x

    @staticmethod
    def _cut_windows(
        features: torch.Tensor, lengths: torch.Tensor, window: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pieces, frame masks, owner clip, size) of each clip's `window_spans`, zero-padded to the longest."""
        owners, starts, sizes = window_spans(lengths, window)
        pieces = features.new_zeros(len(owners), features.shape[1], window)
        masks = lengths.new_zeros(len(owners), window)
        for j, (i, start, size) in enumerate(zip(owners.tolist(), starts.tolist(), sizes.tolist())):
            pieces[j, :, :size] = features[i, :, start : start + size]
            masks[j, :size] = 1
        longest = int(sizes.max())
        return pieces[:, :, :longest], masks[:, :longest], owners, sizes

    def get_audio_features(
        self,
        input_features: torch.Tensor,
        feature_attention_mask: torch.Tensor | None = None,
        truncate_dim: int | None = None,
        pooled_only: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """L2-normalised audio embeddings in `pooler_output` (B, projection_dim or truncate_dim).

        Clips longer than `max_audio_seconds` follow `config.long_audio_policy` (see the config).

        Only the embedding is computed by default at inference (eval mode, no autograd): `last_hidden_state`
        is None and, with global-token pooling, the last layer runs for the global token alone (the same
        embedding, ~1/7 less work for Whisper base). `output_hidden_states=True` or `pooled_only=False` asks
        for the encoder's final states (global token last) in `last_hidden_state`, given when no clip needed
        chunking (the per-layer `hidden_states` tuple is not filled). In training or under autograd the
        default keeps them, as before; `pooled_only=True` drops them there too.
        """
        if pooled_only and output_hidden_states:
            raise ValueError("pooled_only=True returns no encoder states; drop output_hidden_states=True")
        if pooled_only is None:  # the fast path when nothing but the embedding is asked for, at inference
            pooled_only = not output_hidden_states and not self.training and not torch.is_grad_enabled()
        check_truncate_dim(truncate_dim, self.config.matryoshka_dims)
        frame_mask = check_audio_inputs(input_features, feature_attention_mask, self.config.audio_config.num_mel_bins)
        features = input_features.to(self.audio_model.conv1.weight.dtype)
        lengths = frame_mask.sum(-1).long()
        window = self.config.max_audio_frames
        if int(lengths.max()) <= window:
            valid = int(lengths.max())
            pooled, hidden = self._encode_windows(features[:, :, :valid], frame_mask[:, :valid],
                                                  pooled_only=pooled_only)
            embeds = truncate_and_normalize(self.audio_projection(pooled), truncate_dim)
            hidden = None if pooled_only else hidden
            return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=embeds)
        policy = self.config.long_audio_policy
        if policy == "error":
            raise ValueError(
                f"audio of {int(lengths.max())} frames exceeds max_audio_seconds={self.config.max_audio_seconds:g} "
                "and long_audio_policy='error'"
            )
        if policy == "truncate":
            lengths = lengths.clamp(max=window)
            pooled, _ = self._encode_windows(features[:, :, :window], frame_mask[:, :window], pooled_only=True)
            embeds = truncate_and_normalize(self.audio_projection(pooled), truncate_dim)
            return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=embeds)
        pieces, masks, owners, sizes = self._cut_windows(features, lengths, window)
        masks = masks.to(frame_mask.dtype)
        step = max(1, int(self.max_windows_per_pass))  # bounds the activations of a long file (batch-invariant)
        pooled = torch.cat([
            self._encode_windows(pieces[i : i + step], masks[i : i + step], pooled_only=True)[0]
            for i in range(0, pieces.shape[0], step)
        ])
        window_embeds = truncate_and_normalize(self.audio_projection(pooled), truncate_dim)
        weights = sizes.to(window_embeds)[:, None]
        summed = window_embeds.new_zeros(features.shape[0], window_embeds.shape[1])
        summed.index_add_(0, owners.to(window_embeds.device), window_embeds * weights)
        return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=F.normalize(summed, dim=-1))

    # ------------------------------------------------------------------ text
    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        truncate_dim: int | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """L2-normalised text embeddings in `pooler_output`; pooling per `config.text_pooling`."""
        check_truncate_dim(truncate_dim, self.config.matryoshka_dims)
        if input_ids is None:
            raise ValueError("input_ids is required for text embeddings")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if (attention_mask.sum(-1) == 0).any():
            raise ValueError("a text has no tokens (empty text)")
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        if position_ids is not None:
            inputs["position_ids"] = position_ids
        out = self.text_model(**inputs)
        hidden = out.last_hidden_state
        pooling = self.config.resolved_text_pooling
        if pooling in ("eos", "pooler"):
            if getattr(out, "pooler_output", None) is None:
                raise ValueError(f"text_pooling={pooling!r} but {type(self.text_model).__name__} has no pooler")
            pooled = out.pooler_output
        elif pooling == "cls":
            pooled = hidden[:, 0]
        else:
            w = attention_mask.to(hidden.dtype)[..., None]
            pooled = (hidden * w).sum(1) / w.sum(1)
        embeds = truncate_and_normalize(self.text_projection(pooled), truncate_dim)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=embeds)

    # ------------------------------------------------------------------ both
    output_class = WavLinkOutput

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        feature_attention_mask: torch.Tensor | None = None,
        return_loss: bool | None = None,
        truncate_dim: int | None = None,
        **kwargs,
    ) -> WavLinkOutput:
        """Embed whichever modalities are given; with both, similarity logits and the loss (`embed_and_score`)."""
        return self.embed_and_score(input_ids, attention_mask, input_features, feature_attention_mask, return_loss,
                                    truncate_dim, token_type_ids=token_type_ids, position_ids=position_ids)

__all__ = ["WavLinkModel", "WavLinkOutput", "WavLinkPreTrainedModel"]
