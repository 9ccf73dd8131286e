"""Validation during training: embed an `AudioCaptionDataset` and score text->audio / audio->text retrieval.

Kept apart from the loop so the same measurement serves the trainer's per-epoch evaluation, finetuning's
before/after report and tests: deterministic (whole clips, no random crops, longest clips first so batches
pad little), on whatever device the model is on, and the model's train/eval mode restored afterwards.
Metric keys are flat (``t2a_R@1`` ... ``a2t_R@10``, ``t2a_R@1@d`` per smaller Matryoshka width) so they go
straight into the JSONL log and trackers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .dataset import AudioCaptionDataset
from .workers import loader_kwargs


class _ClipWaves(Dataset):
    def __init__(self, dataset: AudioCaptionDataset, clips: Sequence[int]) -> None:
        self.dataset, self.clips = dataset, list(clips)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.dataset.load_clip(self.clips[i])


def to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


@torch.no_grad()
def embed_dataset(
    model: nn.Module,
    processor: Any,
    dataset: AudioCaptionDataset,
    batch_size: int = 32,
    num_workers: int = 0,
    device: torch.device | str | None = None,
    autocast: Any = None,
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(audio embeddings per clip, text embeddings per caption, caption -> clip position), deterministic."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    clips, captions, text_to_audio = dataset.retrieval_items()
    durations = [dataset.clips[c].duration or 0.0 for c in clips]
    order = sorted(range(len(clips)), key=lambda i: -durations[i])
    was_training = model.training
    model.eval()
    ctx = autocast if autocast is not None else contextlib.nullcontext
    audio = torch.empty(0)
    try:
        loader = DataLoader(_ClipWaves(dataset, [clips[i] for i in order]), batch_size=batch_size,
                            num_workers=num_workers, collate_fn=list, **loader_kwargs(num_workers))
        parts = []
        for waves in loader:
            inputs = processor(audio=waves, sampling_rate=dataset.sampling_rate, return_tensors="pt")
            with ctx():
                parts.append(model.get_audio_features(**to_device(dict(inputs), device)).pooler_output.float().cpu())
        audio = torch.empty_like(torch.cat(parts))
        audio[torch.tensor(order)] = torch.cat(parts)
        text_parts = []
        for start in range(0, len(captions), batch_size):
            inputs = processor(text=captions[start : start + batch_size], return_tensors="pt")
            with ctx():
                text_parts.append(model.get_text_features(**to_device(dict(inputs), device)).pooler_output.float().cpu())
        text = torch.cat(text_parts)
    finally:
        model.train(was_training)
    return audio, text, text_to_audio


def retrieval_scores(
    audio: torch.Tensor, text: torch.Tensor, text_to_audio: Sequence[int], dims: Sequence[int] | None = None
) -> dict[str, float]:
    """Flat metrics: ``t2a_R@1`` ... ``a2t_R@10`` (+ ``t2a_R@1@d`` per smaller Matryoshka width), and the set's
    ``n_clips`` / ``n_captions``."""
    from ..metrics import retrieval_metrics  # lazy: 1-3 s (evaluate); paid at the first validation

    def sim(d: int | None) -> np.ndarray:
        a, t = (audio, text) if d is None else (audio[:, :d], text[:, :d])
        a = torch.nn.functional.normalize(a, dim=-1)
        t = torch.nn.functional.normalize(t, dim=-1)
        return (t @ a.T).numpy()

    full = retrieval_metrics(sim(None), list(text_to_audio), ks=(1, 5, 10))
    out = {}
    for direction, short in (("text_to_audio", "t2a"), ("audio_to_text", "a2t")):
        for k in (1, 5, 10):
            out[f"{short}_R@{k}"] = float(full[direction][f"R@{k}"])
    for d in dims or []:
        if d < audio.shape[1]:
            m = retrieval_metrics(sim(d), list(text_to_audio), ks=(1,), audio_to_text=False)
            out[f"t2a_R@1@{d}"] = float(m["text_to_audio"]["R@1"])
    # the set's size, so a summary can say how much the figures weigh (2 clips: R@1 moves in steps of 0.5)
    out["n_clips"], out["n_captions"] = float(audio.shape[0]), float(len(text_to_audio))
    return out


def eval_set_labels(sources: Sequence[Any]) -> list[str]:
    """A short, unique name per evaluation source for metric keys: the folder of a manifest whose file name
    is only a split ("data/audiocaps/val.csv" -> "audiocaps"), else the file or folder name, else "hf" names."""
    generic = {"val", "valid", "validation", "dev", "test", "eval", "evaluation", "metadata", "manifest", "train"}
    labels = []
    for spec in sources:
        if isinstance(spec, dict):
            raw = str(spec.get("name") or spec.get("manifest") or spec.get("audiofolder") or spec.get("hf") or "hf")
        else:
            raw = "hf" if hasattr(spec, "column_names") else str(spec)
        path = Path(raw.removeprefix("hf:"))
        stem = path.stem if path.suffix else path.name
        label = path.parent.name if stem.lower() in generic and path.parent.name else stem
        labels.append(label or "eval")
    return [f"{label}{labels[:i].count(label) + 1}" if labels.count(label) > 1 else label
            for i, label in enumerate(labels)]


def evaluate_retrieval(
    model: nn.Module, processor: Any, dataset: AudioCaptionDataset, batch_size: int = 32, num_workers: int = 0,
    dims: Sequence[int] | None = None, autocast: Any = None,
) -> dict[str, float]:
    """Text->audio and audio->text R@1/5/10 of `model` on a dataset (one clip per column, captions as rows)."""
    audio, text, t2a = embed_dataset(model, processor, dataset, batch_size, num_workers, autocast=autocast)
    return retrieval_scores(audio, text, t2a, dims)


__all__ = ["embed_dataset", "eval_set_labels", "evaluate_retrieval", "retrieval_scores", "to_device"]
