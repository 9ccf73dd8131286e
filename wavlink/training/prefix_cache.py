"""Frame states entering the global token's layer, computed once per clip and kept on disk.

With `WavLinkConfig.global_token_layer = k > 0` and the layers below k frozen, the states entering layer k do not
depend on anything a head stage trains (the global token, layers k.., the projections), so they are computed
once (`PrefixCache.build`) and a head trained on them for many epochs at a fraction of a full forward's cost
(`head.py`). One clip = one (T', D) float16 block; a cache is a folder of parts written atomically as they are
done, so a killed build resumes at the next part, and a `manifest.json` naming the model (fingerprint of its
config and frozen weights), the layer and the clips it holds, so that a cache built for another model is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..files import atomic_write

PART_SIZE = 256  # clips per part file


def prefix_fingerprint(model: torch.nn.Module) -> str:
    """Hash of what determines the cached states: the audio config, the join layer and the frozen weights below."""
    cfg = model.config
    h = hashlib.sha256(json.dumps(cfg.audio_config.to_dict(), sort_keys=True, default=str).encode())
    h.update(str(cfg.global_token_layer).encode())
    enc = model.audio_model
    modules = [enc.conv1, enc.conv2, enc.embed_positions, *enc.layers[: cfg.global_token_layer]]
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:20]


def _write_part(path: Path, states: list[np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, states=np.concatenate(states), lengths=np.array([len(s) for s in states]))


class PrefixCache:
    """Cached prefix states of a list of clips (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        manifest = json.loads((self.folder / "manifest.json").read_text())
        self.paths: list[str] = manifest["paths"]
        self.fingerprint: str = manifest["fingerprint"]
        self.layer: int = manifest["layer"]
        self.states: list[np.ndarray] = []
        for part in range(manifest["parts"]):
            with np.load(self.folder / f"part-{part:05d}.npz") as z:
                data, lengths = z["states"], z["lengths"]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            self.states.extend(data[a:b] for a, b in zip(offsets[:-1], offsets[1:]))
        if len(self.states) != len(self.paths):
            raise ValueError(f"{self.folder}: {len(self.states)} cached clips for {len(self.paths)} paths")
        self.index = {p: i for i, p in enumerate(self.paths)}

    def __len__(self) -> int:
        return len(self.paths)

    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.states])

    def batch(self, rows: Sequence[int], dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded states (B, T', D) and validity mask (B, T') of the given clips."""
        longest = max(len(self.states[r]) for r in rows)
        width = self.states[rows[0]].shape[1]
        out = np.zeros((len(rows), longest, width), dtype=np.float16)
        mask = np.zeros((len(rows), longest), dtype=bool)
        for i, r in enumerate(rows):
            n = len(self.states[r])
            out[i, :n] = self.states[r]
            mask[i, :n] = True
        return torch.from_numpy(out).to(dtype), torch.from_numpy(mask)

    @classmethod
    def build(
        cls,
        model: torch.nn.Module,
        feature_extractor: Callable,
        paths: Sequence[str],
        folder: str | os.PathLike,
        load_audio: Callable[[str], np.ndarray],
        batch_size: int = 16,
        autocast_dtype: torch.dtype | None = None,
        progress: bool = True,
        device: str | torch.device = "cpu",
    ) -> PrefixCache:
        """Compute (or finish computing) the cache of `paths` (16 kHz clips of at most max_audio_seconds) in
        `folder`. Parts already written for the same model and clip list are kept; anything else is refused."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        layer = int(model.config.global_token_layer)
        if layer < 1:
            raise ValueError("a prefix cache needs WavLinkConfig.global_token_layer >= 1 (frozen layers below it)")
        fingerprint = prefix_fingerprint(model)
        paths = list(paths)
        digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:16]
        plan_file = folder / "plan.json"
        plan = {"fingerprint": fingerprint, "layer": layer, "clips": digest, "count": len(paths),
                "autocast": str(autocast_dtype).removeprefix("torch.") if autocast_dtype else "none"}
        if plan_file.is_file():
            existing = json.loads(plan_file.read_text())
            if existing != plan:
                raise ValueError(f"{folder} holds a prefix cache of another model, clip list or precision "
                                 f"({existing}); choose another folder or delete it")
        else:
            atomic_write(plan_file, lambda p: p.write_text(json.dumps(plan) + "\n"))
        parts = (len(paths) + PART_SIZE - 1) // PART_SIZE
        model.eval()

        bar = tqdm(total=len(paths), desc="prefix cache", unit="clip", disable=not progress, mininterval=10)
        for part in range(parts):
            target = folder / f"part-{part:05d}.npz"
            chunk = paths[part * PART_SIZE:(part + 1) * PART_SIZE]
            if target.is_file():
                bar.update(len(chunk))
                continue
            waves = [load_audio(p) for p in chunk]
            order = np.argsort([len(w) for w in waves], kind="stable")  # similar lengths: little padding
            states: list[np.ndarray | None] = [None] * len(chunk)
            for i in range(0, len(order), batch_size):
                rows = order[i:i + batch_size]
                inputs = feature_extractor([waves[r] for r in rows])
                with torch.inference_mode(), torch.autocast(torch.device(device).type,
                                                            dtype=autocast_dtype or torch.bfloat16,
                                                            enabled=autocast_dtype is not None):
                    x, mask = model.audio_prefix_states(inputs["input_features"].to(device),
                                                        inputs["feature_attention_mask"].to(device))
                x, mask = x.float().cpu().numpy().astype(np.float16), mask.cpu()
                for j, r in enumerate(rows):
                    states[r] = x[j, : int(mask[j].sum())]
                bar.update(len(rows))
            atomic_write(target, lambda p, s=states: _write_part(p, s))
        bar.close()
        manifest = {**plan, "paths": paths, "parts": parts}
        atomic_write(folder / "manifest.json", lambda p: p.write_text(json.dumps(manifest) + "\n"))
        return cls(folder)


__all__ = ["PrefixCache", "prefix_fingerprint"]
