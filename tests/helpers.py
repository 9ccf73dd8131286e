"""Shared test utilities: tiny configs and models, deterministic audio, feature helpers, child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import BertConfig, CLIPTextConfig, WhisperConfig

from wavlink import WavLinkConfig, WavLinkModel
from wavlink.builders.tokenization import BYTE_LEVEL_IDS, byte_level_tokenizer
from wavlink.builders.wavlink import feature_extractor_for, processor_for

REPO_ROOT = Path(__file__).resolve().parents[1]
SR = 16000
PROJ = 32


def tiny_whisper_config(**overrides: Any) -> WhisperConfig:
    """A 2-layer, 32-wide Whisper with the real 1500 positions (30 s) and 80 mel bins."""
    cfg = dict(
        d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80,
        vocab_size=64, max_target_positions=16, pad_token_id=None, bos_token_id=None, eos_token_id=None,
        decoder_start_token_id=1,
    )
    cfg.update(overrides)
    return WhisperConfig(**cfg)


def tiny_clip_text_config(**overrides: Any) -> CLIPTextConfig:
    """A 2-layer CLIP text tower over the byte-level vocabulary (EOS = 257, PAD = 258)."""
    cfg = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
               projection_dim=PROJ, max_position_embeddings=77, **BYTE_LEVEL_IDS)
    cfg.update(overrides)
    return CLIPTextConfig(**cfg)


def tiny_bert_config(**overrides: Any) -> BertConfig:
    cfg = dict(vocab_size=300, hidden_size=24, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=48, max_position_embeddings=64, pad_token_id=0)
    cfg.update(overrides)
    return BertConfig(**cfg)


def tiny_config(**overrides: Any) -> WavLinkConfig:
    kwargs: dict[str, Any] = dict(
        audio_config=tiny_whisper_config(), text_config=tiny_clip_text_config(), projection_dim=PROJ
    )
    kwargs.update(overrides)
    return WavLinkConfig(**kwargs)


def tiny_model(seed: int = 0, **overrides: Any) -> WavLinkModel:
    """A seeded, eval-mode tiny WavLinkModel (global token and logit scale non-trivially initialised)."""
    torch.manual_seed(seed)
    return WavLinkModel(tiny_config(**overrides)).eval()


def tiny_processor(config: WavLinkConfig):
    return processor_for(config, byte_level_tokenizer())


def make_clip(seconds: float, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Deterministic, band-limited test audio: a few harmonics with a slow envelope plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    freqs = rng.uniform(150, 3000, size=4)
    wave = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) / 4
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
    wave = wave + 0.01 * rng.standard_normal(t.shape)
    return (0.5 * wave).astype(np.float32)


def make_tone(seconds: float, sr: int, freqs: tuple[float, ...] = (440.0, 1250.0, 2600.0)) -> np.ndarray:
    """The same analytic signal at any sampling rate (for resampling comparisons)."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)).astype(np.float32)


def audio_inputs(config: WavLinkConfig, clips: list[np.ndarray], **kwargs: Any) -> dict[str, torch.Tensor]:
    """`input_features` + `feature_attention_mask` for `clips` from the config's feature extractor."""
    fe = feature_extractor_for(config)
    out = fe(clips, sampling_rate=SR, return_tensors="pt", **kwargs)
    return {"input_features": out["input_features"], "feature_attention_mask": out["feature_attention_mask"]}


def text_ids(texts: list[str]) -> dict[str, torch.Tensor]:
    tok = byte_level_tokenizer()
    out = tok(texts, padding=True, return_tensors="pt")
    return {"input_ids": out["input_ids"], "attention_mask": out["attention_mask"]}


# A prelude for child interpreters that must not see the `wavlink` package at all (as on a user's machine):
# the repository root leaves sys.path and a meta-path finder refuses `wavlink` / `wavlink.*`, which also
# defeats editable-install finders and .pth entries.
BLOCK_WAVLINK_PRELUDE = textwrap.dedent(
    """
    import os, sys

    class _BlockWavlink:
        def find_spec(self, name, path=None, target=None):
            if name == "wavlink" or name.startswith("wavlink."):
                raise ImportError(f"{name} is blocked in this process")
            return None

    sys.meta_path.insert(0, _BlockWavlink())
    _repo = os.path.realpath(os.environ["WAVLINK_REPO_ROOT"])
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.getcwd()) != _repo]
    try:
        import wavlink  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("wavlink is importable in the child")
    """
)


def run_child(script: str, cwd: str | os.PathLike, timeout: float = 240) -> Any:
    """Run `script` (after the blocking prelude) in a fresh interpreter; it must print one JSON line last."""
    env = {**os.environ, "WAVLINK_REPO_ROOT": str(REPO_ROOT), "PYTHONPATH": ""}
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_WAVLINK_PRELUDE + textwrap.dedent(script)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
