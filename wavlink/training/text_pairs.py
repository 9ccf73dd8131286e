"""Text-only modality transfer (``objective: text_pairs``), the third route of Jina's "Bootstrapping Audio
Embeddings from Multimodal LLMs": train on (anchor, positive) text pairs alone and rely on the model's
pretrained audio-text alignment to carry the gain over to audio.

* `TextPairDataset`: pairs from text-pair files (`wavlink.data.text_pairs`), with ``group_ids`` over repeated
  anchors or positives (after the caption normalisation of `dataset.normalize_caption`), so a sentence that
  occurs twice in a batch is never used as its own negative;
* `TextPairCollator`: both sides through the processor's text path (``anchor_inputs`` / ``positive_inputs``);
* `TextPairModule`: what the trainer wraps instead of `DualEncoderModule`: ``get_text_features`` on both
  sides, the loss scales; the loss is the same symmetric contrastive loss with anchors in the place of audio.

The audio side is frozen by ``scope: text`` (`recipe.apply_training_mode`), so no audio parameter gets a
gradient. What that means per family: WavLink's audio embeddings do not change at all (its towers are
separate); OmniAudioEmbedder's audio encoder and projection do not change, but its audio embeddings do,
because the LLM that reads the audio tokens is the text tower being trained: that shared backbone is how the
text-only training reaches audio. The blog measured it on Qwen2.5-Omni-7B: AudioCaps T2A cvR@5 46.1 with the
full model, 5.9 after pruning to 10 layers (the alignment does not survive pruning).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.text_pairs import TextPair
from .dataset import normalize_caption
from .recipe import loss_scale_kwargs


class TextPairDataset(Dataset):
    def __init__(self, pairs: Sequence[TextPair], name: str = "text pairs") -> None:
        if not pairs:
            raise ValueError(f"{name}: no text pairs")
        self.pairs = list(pairs)
        self.name = name
        self.group_ids = self._groups()

    def _groups(self) -> list[int]:
        """Connected components of pairs sharing a (normalised) anchor or positive."""
        parent = list(range(len(self.pairs)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[tuple[str, str], int] = {}
        for i, pair in enumerate(self.pairs):
            for key in (("a", normalize_caption(pair.anchor)), ("p", normalize_caption(pair.positive))):
                j = first.setdefault(key, i)
                ra, rb = find(i), find(j)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        roots = [find(i) for i in range(len(self.pairs))]
        ids = {r: k for k, r in enumerate(sorted(set(roots)))}
        return [ids[r] for r in roots]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        return {"anchor": pair.anchor, "positive": pair.positive, "group_id": self.group_ids[index], "index": index}

    def set_epoch(self, epoch: int) -> None:
        """Nothing is drawn per epoch (the sampler shuffles); kept for the trainer's loader."""

    def lengths(self) -> list[float]:
        """Characters per pair: the length-bucketing key (batches of similar token counts pad little)."""
        return [float(len(p.anchor) + len(p.positive)) for p in self.pairs]


class TextPairCollator:
    def __init__(self, processor: Any, text_kwargs: dict | None = None) -> None:
        self.processor = processor
        self.text_kwargs = dict(text_kwargs or {})

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        anchors = self.processor(text=[it["anchor"] for it in items], return_tensors="pt", **self.text_kwargs)
        positives = self.processor(text=[it["positive"] for it in items], return_tensors="pt", **self.text_kwargs)
        return {
            "anchor_inputs": dict(anchors),
            "positive_inputs": dict(positives),
            "group_ids": torch.tensor([it["group_id"] for it in items], dtype=torch.long),
            "indices": torch.tensor([it["index"] for it in items], dtype=torch.long),
        }


class TextPairModule(nn.Module):
    """Both sides through ``get_text_features`` (one forward, so DDP syncs every gradient) and the loss scales;
    the same interface as `trainer.DualEncoderModule` (``self.model``, ``self.loss_type``)."""

    def __init__(self, model: nn.Module, loss_type: str) -> None:
        super().__init__()
        self.model = model
        self.loss_type = loss_type

    def forward(
        self, anchor_inputs: dict[str, torch.Tensor], positive_inputs: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        anchor = self.model.get_text_features(**anchor_inputs).pooler_output
        positive = self.model.get_text_features(**positive_inputs).pooler_output
        return anchor, positive, loss_scale_kwargs(self.model, self.loss_type)


__all__ = ["TextPairCollator", "TextPairDataset", "TextPairModule"]
