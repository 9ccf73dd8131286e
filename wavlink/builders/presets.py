"""The model sizes. WavLink's three follow the paper's Table 1; the others follow Whisper's ladder.

Each preset names the real checkpoints it is initialised from (for `wavlink build`) and its architecture
(for `wavlink create`, random weights), so both paths produce the same shapes.
"""

from __future__ import annotations

from transformers import CLIPTextConfig, WhisperConfig

from ..families import Preset
from ..remote_code.configuration_wavlink import WavLinkConfig
from .tokenization import BYTE_LEVEL_IDS

# Whisper encoder shapes: (d_model, layers, heads, ffn, n_mels)
_WHISPER = {
    "openai/whisper-tiny.en": (384, 4, 6, 1536, 80),
    "openai/whisper-base.en": (512, 6, 8, 2048, 80),
    "openai/whisper-small.en": (768, 12, 12, 3072, 80),
    "openai/whisper-medium.en": (1024, 24, 16, 4096, 80),
    "openai/whisper-large-v3": (1280, 32, 20, 5120, 128),
    "openai/whisper-large-v3-turbo": (1280, 32, 20, 5120, 128),
}
# CLIP text towers: (hidden, layers, heads, ffn, projection_dim)
_CLIP_TEXT = {
    "openai/clip-vit-base-patch32": (512, 12, 8, 2048, 512),
    "openai/clip-vit-large-patch14": (768, 12, 12, 3072, 768),
}


# reported_params_m: Table 1 of the paper (audio + text tower), millions
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(name="tiny", audio="openai/whisper-tiny.en", text="openai/clip-vit-base-patch32", projection_dim=512,
               description="Whisper tiny.en + CLIP ViT-B/32 text (not in the paper)"),
        Preset(name="base", audio="openai/whisper-base.en", text="openai/clip-vit-base-patch32", projection_dim=512, reported_params_m=84,
               description="WavLink-Base: Whisper base.en + CLIP ViT-B/32 text, 512-d"),
        Preset(name="small", audio="openai/whisper-small.en", text="openai/clip-vit-base-patch32", projection_dim=512, reported_params_m=152,
               description="WavLink-Small: Whisper small.en + CLIP ViT-B/32 text, 512-d"),
        Preset(name="medium", audio="openai/whisper-medium.en", text="openai/clip-vit-large-patch14", projection_dim=768,
               description="Whisper medium.en + CLIP ViT-L/14 text (not in the paper)"),
        Preset(name="large", audio="openai/whisper-large-v3", text="openai/clip-vit-large-patch14", projection_dim=768, reported_params_m=761,
               description="WavLink-Large: Whisper large-v3 + CLIP ViT-L/14 text, 768-d"),
        Preset(name="large-v3-turbo", audio="openai/whisper-large-v3-turbo", text="openai/clip-vit-large-patch14", projection_dim=768,
               description="Whisper large-v3-turbo encoder + CLIP ViT-L/14 text (encoder identical in shape to large-v3)"),
        Preset(name="tiny-random", audio="tiny-random", text="tiny-random", projection_dim=32,
               description="A few-kilobyte random model for tests (2-layer Whisper, 2-layer CLIP text, byte tokenizer)"),
    ]
}


def whisper_config(name: str, **overrides) -> WhisperConfig:
    if name == "tiny-random":
        d, layers, heads, ffn, mels = 32, 2, 2, 64, 80
    else:
        d, layers, heads, ffn, mels = _WHISPER[name]
    cfg = dict(d_model=d, encoder_layers=layers, encoder_attention_heads=heads, encoder_ffn_dim=ffn,
               decoder_layers=layers, decoder_attention_heads=heads, decoder_ffn_dim=ffn, num_mel_bins=mels)
    cfg.update(overrides)
    return WhisperConfig(**cfg)


def clip_text_config(name: str, byte_level_vocab: bool = False) -> CLIPTextConfig:
    if name == "tiny-random":
        hidden, layers, heads, ffn, proj = 32, 2, 2, 64, 32
        byte_level_vocab = True
    else:
        hidden, layers, heads, ffn, proj = _CLIP_TEXT[name]
    cfg = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn,
               projection_dim=proj, max_position_embeddings=77)
    if byte_level_vocab:
        cfg.update(BYTE_LEVEL_IDS)
    else:
        cfg.update(vocab_size=49408, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
    return CLIPTextConfig(**cfg)


def preset_config(name: str, byte_level_vocab: bool = False, **overrides) -> WavLinkConfig:
    """The WavLinkConfig of a preset (architecture only; weights come from `create` or `build`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[name]
    kwargs = dict(
        audio_config=whisper_config(p.audio),
        text_config=clip_text_config(p.text, byte_level_vocab=byte_level_vocab),
        projection_dim=p.projection_dim,
    )
    kwargs.update(p.config_overrides)
    kwargs.update(overrides)
    return WavLinkConfig(**kwargs)
