"""HEAR 2021 API (https://hearbenchmark.com/hear-api.html) for any model of this package.

``hear-eval-kit`` imports a module and calls three functions::

    from wavlink.evaluation import hear
    model = hear.load_model("path/or/org/wavlink-base")       # "" = the package's default model
    scene = hear.get_scene_embeddings(audio, model)            # (n_sounds, scene_embedding_size)
    emb, ts = hear.get_timestamp_embeddings(audio, model)      # (n_sounds, n_times, size), (n_sounds, n_times) ms

``audio`` is a float tensor ``(n_sounds, n_samples)`` at ``model.sample_rate`` (16 kHz), on any device.

**Scene embeddings** are the model's audio embedding (``get_audio_features().pooler_output``: the global
token projected and L2-normalised for WavLink; clips over 30 s follow the model's long-audio policy).

**Timestamp embeddings** (deterministic, no randomness anywhere):

* ``timestamp_mode="frames"`` (default for WavLink): the Whisper encoder's final-layer-norm state of every
  encoder position, *not projected* (width ``d_model``: more information for HEAR's downstream probe than
  the projection trained only on the global token). One position per 20 ms (two 10 ms mel hops, conv stride
  2); position ``i`` is centred on mel frame ``2i``, so its timestamp is ``20 * i`` ms. Sounds longer than
  the encoder window (30 s) are cut into consecutive non-overlapping 30 s windows, each encoded separately,
  and the windows' frames are concatenated with their time offsets.
* ``timestamp_mode="windows"`` (default for models without per-frame states, e.g. OmniAudioEmbedder):
  the model's scene embedding of a ``window_ms`` window centred on each timestamp ``k * hop_ms``
  (``k = 0, 1, ...`` while ``k * hop_ms`` is inside the sound), clipped at the sound's edges (no padding).
  Costs about ``window_ms / hop_ms`` times a scene embedding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..families import family_of
from ..inference import Embedder

FRAME_MS = 20.0  # one Whisper encoder position: 2 mel frames of 10 ms


class HearModel(nn.Module):
    """The object `load_model` returns: the HF model + processor and the HEAR attributes.

    It is an ``nn.Module`` so that ``hear-eval-kit``'s ``model.to(device)`` moves the weights.
    """

    def __init__(self, model: Any, processor: Any, timestamp_mode: str | None = None, hop_ms: float = 50.0,
                 window_ms: float = 1000.0, batch_size: int = 16) -> None:
        super().__init__()
        self.model = model.eval()
        self.processor = processor
        config = model.config
        self.sample_rate = int(getattr(processor.feature_extractor, "sampling_rate", 16000))
        self.scene_embedding_size = int(getattr(config, "projection_dim", None) or config.get_text_config().hidden_size)
        family = family_of(config)
        has_frames = family is not None and family.frame_embeddings
        if timestamp_mode is None:
            timestamp_mode = "frames" if has_frames else "windows"
        if timestamp_mode not in ("frames", "windows"):
            raise ValueError(f"timestamp_mode must be 'frames' or 'windows', got {timestamp_mode!r}")
        if timestamp_mode == "frames" and not has_frames:
            raise ValueError("timestamp_mode='frames' needs a WavLink model (a family with frame embeddings: "
                             "Whisper encoder states)")
        if hop_ms <= 0 or window_ms <= 0:
            raise ValueError("hop_ms and window_ms must be positive")
        self.timestamp_mode = timestamp_mode
        self.hop_ms = float(hop_ms)
        self.window_ms = float(window_ms)
        self.batch_size = int(batch_size)
        self.timestamp_embedding_size = (
            int(config.audio_config.d_model) if timestamp_mode == "frames" else self.scene_embedding_size
        )
        self.max_window_samples = int(round(float(getattr(config, "max_audio_seconds", 30.0)) * self.sample_rate))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def features(self, clips: list[np.ndarray]) -> dict[str, torch.Tensor]:
        inputs = self.processor(audio=clips, sampling_rate=self.sample_rate, return_tensors="pt")
        return {k: v.to(self.device) for k, v in inputs.items()}


def load_model(model_file_path: str = "", timestamp_mode: str | None = None, hop_ms: float = 50.0,
               window_ms: float = 1000.0, device: str | None = None, batch_size: int = 16) -> HearModel:
    """Load a model folder or Hub id (``""``: the package's default model) for the HEAR API.

    Args:
        timestamp_mode: ``"frames"`` or ``"windows"`` (see the module docstring; default by model family).
        hop_ms / window_ms: timestamp hop and window length of the ``"windows"`` mode.
    """
    embedder = Embedder.load(model_file_path or None, device=device)
    return HearModel(embedder.model, embedder.processor, timestamp_mode=timestamp_mode, hop_ms=hop_ms,
                     window_ms=window_ms, batch_size=batch_size)


def _as_numpy(audio: Any, model: HearModel) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().float().cpu().numpy()
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"audio must be a (n_sounds, n_samples) tensor, got shape {tuple(arr.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"audio has no sounds or no samples: shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError("audio contains NaN or inf")
    return arr


@torch.inference_mode()
def _scene(clips: list[np.ndarray], model: HearModel) -> torch.Tensor:
    out = []
    for start in range(0, len(clips), model.batch_size):
        inputs = model.features(clips[start : start + model.batch_size])
        out.append(model.model.get_audio_features(**inputs).pooler_output.float())
    return torch.cat(out)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, scene_embedding_size)`` clip embeddings, on the input's device."""
    arr = _as_numpy(audio, model)
    emb = _scene(list(arr), model)
    return emb.to(audio.device if isinstance(audio, torch.Tensor) else "cpu")


@torch.inference_mode()
def _frame_embeddings(arr: np.ndarray, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    window = model.max_window_samples
    chunks, times = [], []
    for start in range(0, arr.shape[1], window):
        piece = arr[:, start : start + window]
        rows = []
        for b in range(0, len(piece), model.batch_size):
            inputs = model.features(list(piece[b : b + model.batch_size]))
            hidden = model.model.get_audio_features(**inputs, output_hidden_states=True).last_hidden_state
            frames = int(inputs["feature_attention_mask"][0].sum())
            n_pos = (frames - 1) // 2 + 1
            rows.append(hidden[:, :n_pos].float())
        chunk = torch.cat(rows)
        chunks.append(chunk)
        times.append((start / model.sample_rate * 1000.0) + FRAME_MS * torch.arange(chunk.shape[1]))
    return torch.cat(chunks, dim=1), torch.cat(times).to(torch.float32)


def _window_embeddings(arr: np.ndarray, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    n_samples = arr.shape[1]
    duration_ms = n_samples / model.sample_rate * 1000.0
    n_times = max(1, math.ceil(duration_ms / model.hop_ms))
    centres = np.arange(n_times) * model.hop_ms
    half = model.window_ms / 2 / 1000 * model.sample_rate
    spans = [(max(0, int(round(c / 1000 * model.sample_rate - half))),
              min(n_samples, int(round(c / 1000 * model.sample_rate + half)))) for c in centres]
    spans = [(a, max(b, a + 1)) for a, b in spans]
    windows = [sound[a:b] for sound in arr for a, b in spans]  # sound-major, batched together
    emb = _scene(windows, model).reshape(arr.shape[0], len(spans), -1)
    return emb, torch.as_tensor(centres, dtype=torch.float32)


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(embeddings (n_sounds, n_timestamps, timestamp_embedding_size), timestamps_ms (n_sounds,
    n_timestamps))``; the strategy is described in the module docstring."""
    arr = _as_numpy(audio, model)
    if model.timestamp_mode == "frames":
        emb, times = _frame_embeddings(arr, model)
    else:
        emb, times = _window_embeddings(arr, model)
    device = audio.device if isinstance(audio, torch.Tensor) else torch.device("cpu")
    timestamps = times[None, :].expand(arr.shape[0], -1).contiguous()
    return emb.to(device), timestamps.to(device)


__all__ = ["HearModel", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]
