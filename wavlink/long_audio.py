"""Long audio files embedded window by window, with memory bounded by one block of audio and a few windows.

The processor path decodes a file whole and computes the log-mel of all of it before the model cuts it into
30 s windows: an hour of 44.1 kHz stereo audio peaked at 2.65 GB RSS with the tiny model (1.27 GB of decoded
samples, a 0.6 GB STFT, ...). `embed_long_file` gives the same embedding from a stream instead:

1. the file is decoded in blocks (soundfile), mixed to mono and resampled with soxr's streaming resampler;
2. the log-mel of each window is computed from that window's samples plus the 200 samples of STFT context on
   either side (reflect-padded at the ends of the file, as Whisper's ``torch.stft(center=True)``), so every
   frame is the frame the whole-file STFT would give;
3. Whisper's normalisation needs the largest log-mel value of the whole clip (values below max - 8 are
   clipped), so the file is streamed twice: once for that maximum, once for the features;
4. the windows go through the model `max_windows_per_pass` at a time, each giving its normalised embedding,
   combined as the model's chunk policy does (weighted by frames, re-normalised).

Used by `Embedder.encode_audio` for file paths longer than one window, when the model is a WavLinkModel with
``long_audio_policy="chunk"`` and a Whisper-style feature extractor; everything else takes the processor path.
Tested against that path (tests/test_long_audio.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch

from .remote_code.audio_utils import truncation_problem

BLOCK_SECONDS = 10.0  # decoded per read


def supports_streaming(model: Any, processor: Any) -> bool:
    """Whether `embed_long_file` reproduces this model + processor's long-audio embedding."""
    fe = getattr(processor, "feature_extractor", None)
    config = getattr(model, "config", None)
    needed = ("mel_filters", "n_fft", "hop_length", "sampling_rate", "max_audio_seconds")
    return (fe is not None and config is not None and all(hasattr(fe, n) for n in needed)
            and getattr(config, "model_type", None) == "wavlink"
            and getattr(config, "long_audio_policy", "chunk") == "chunk"
            and getattr(fe, "long_audio_policy", "chunk") == "chunk"
            and not getattr(fe, "dither", 0.0)
            and hasattr(config, "max_audio_frames"))


def _blocks(path: str, rate_out: int, name: str) -> Iterator[np.ndarray]:
    """Mono float32 blocks at `rate_out`: decoded, mixed and resampled block by block."""
    problem = truncation_problem(path)
    if problem:
        raise ValueError(f"{name}: {problem}")
    try:
        f = sf.SoundFile(path)
    except Exception as err:  # noqa: BLE001  (soundfile's error types)
        raise ValueError(f"cannot decode audio {name}: {err}") from err
    with f:
        rate, total, seen = f.samplerate, f.frames, 0
        resampler = None
        if rate != rate_out:
            resampler = soxr.ResampleStream(rate, rate_out, 1, dtype="float32", quality="HQ")
        block = max(1, int(BLOCK_SECONDS * rate))
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as err:  # noqa: BLE001
                raise ValueError(f"cannot decode audio {name}: {err}") from err
            seen += data.shape[0]
            last = data.shape[0] < block or seen >= total
            mono = data.mean(axis=1)
            if not np.isfinite(mono).all():
                raise ValueError(f"{name}: audio contains NaN or inf values")
            out = resampler.resample_chunk(mono, last=last) if resampler is not None else mono
            if out.size:
                yield np.asarray(out, dtype=np.float32)
            if last:
                break
        if seen < total and f.format not in ("MPEG", "OGG"):
            raise ValueError(f"{name}: truncated file: {total:,} frames were expected from its header but only "
                             f"{seen:,} could be decoded")


def _window_segments(path: str, fe: Any, window_frames: int, name: str) -> Iterator[tuple[np.ndarray, int]]:
    """(samples, frames) per model window: the samples the STFT frames of that window read, context included."""
    hop, half = int(fe.hop_length), int(fe.n_fft) // 2
    window = window_frames * hop
    buf = np.zeros(0, dtype=np.float32)
    start = 0  # file sample index of buf[0]
    head: np.ndarray | None = None  # the first samples, for the reflection before the start
    k, ended = 0, False
    stream = _blocks(path, int(fe.sampling_rate), name)
    while True:
        need_end = (k + 1) * window + half - hop  # exclusive end of what a full window k reads (before padding)
        while not ended and start + buf.size < need_end + 1:
            try:
                buf = np.concatenate([buf, next(stream)])
            except StopIteration:
                ended = True
            if head is None and buf.size >= half + 1:
                head = buf[: half + 1].copy()
        length = start + buf.size if ended else None
        first = k * window_frames
        frames = window_frames if length is None else min(window_frames, length // hop - first)
        if frames <= 0:
            return
        lo, hi = first * hop - half, (first + frames - 1) * hop + half
        idx = np.arange(lo, hi)
        if lo < 0:  # reflect at the start: x[-i]
            idx = np.where(idx < 0, -idx, idx)
        if length is not None and hi > length:  # reflect at the end: x[2(L-1) - i]
            idx = np.where(idx >= length, 2 * (length - 1) - idx, idx)
        if (idx < start).any():
            segment = np.where(idx < start, head[np.clip(idx, 0, half)], buf[np.clip(idx - start, 0, buf.size - 1)])
        else:
            segment = buf[idx - start]
        yield segment.astype(np.float32, copy=False), frames
        k += 1
        drop = max(0, k * window - half - start)  # keep the context of the next window
        buf, start = buf[drop:], start + drop


def _log_mel(fe: Any, segment: np.ndarray) -> torch.Tensor:
    """log10 mel power of the frames of a segment (Whisper's STFT, before its clip-wide normalisation)."""
    wave = torch.from_numpy(np.ascontiguousarray(segment))
    stft = torch.stft(wave, int(fe.n_fft), int(fe.hop_length), window=torch.hann_window(int(fe.n_fft)),
                      center=False, return_complex=True)
    magnitudes = (stft.abs() ** 2).contiguous()
    mel = torch.from_numpy(fe.mel_filters).to(torch.float32).T @ magnitudes
    return torch.clamp(mel, min=1e-10).log10()


@torch.inference_mode()
def embed_long_file(model: Any, processor: Any, path: str | os.PathLike, truncate_dim: int | None = None,
                    device: torch.device | str = "cpu", model_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """(dim,) embedding of one long file, streamed (see the module docstring); same vector as the processor
    path to float precision."""
    fe = processor.feature_extractor
    path = os.fspath(path)
    window_frames = int(model.config.max_audio_frames)
    top = max((float(_log_mel(fe, seg).max()) for seg, _ in _window_segments(path, fe, window_frames, path)),
              default=None)
    if top is None:
        raise ValueError(f"audio has no samples: {path}")
    step = max(1, int(getattr(model, "max_windows_per_pass", 8)))
    summed: torch.Tensor | None = None
    batch: list[torch.Tensor] = []
    sizes: list[int] = []

    def flush() -> None:
        nonlocal summed
        width = max(f.shape[1] for f in batch)
        features = torch.zeros(len(batch), batch[0].shape[0], width)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for i, f in enumerate(batch):
            features[i, :, : f.shape[1]] = f
            mask[i, : f.shape[1]] = 1
        out = model.get_audio_features(input_features=features.to(device), feature_attention_mask=mask.to(device),
                                       truncate_dim=truncate_dim, **(model_kwargs or {})).pooler_output.float()
        weighted = (out * torch.tensor(sizes, dtype=out.dtype, device=out.device)[:, None]).sum(0)
        summed = weighted if summed is None else summed + weighted
        batch.clear()
        sizes.clear()

    for segment, frames in _window_segments(path, fe, window_frames, path):
        log_spec = _log_mel(fe, segment)
        batch.append((torch.maximum(log_spec, torch.tensor(top - 8.0)) + 4.0) / 4.0)
        sizes.append(frames)
        if len(batch) == step:
            flush()
    if batch:
        flush()
    return torch.nn.functional.normalize(summed, dim=-1).cpu().numpy()


__all__ = ["embed_long_file", "supports_streaming"]
