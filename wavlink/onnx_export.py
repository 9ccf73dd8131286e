"""ONNX export of WavLinkModel's two towers, and an onnxruntime embedder that uses them.

``export_onnx(model_dir, out_dir)`` writes

* ``audio.onnx`` - ``input_features`` (batch, n_mels, frames) float32 + ``feature_attention_mask`` (batch, frames)
  int64 -> ``audio_embeds`` (batch, projection_dim), L2-normalised. Dynamic batch and frame axes, up to the
  model's ``max_audio_frames`` (30 s); :class:`OnnxEmbedder` cuts longer clips into 30 s windows and averages
  them as the PyTorch model does.
* ``text.onnx`` - ``input_ids`` + ``attention_mask`` (batch, tokens) int64 -> ``text_embeds`` (batch,
  projection_dim), L2-normalised. Dynamic batch and token axes.
* the processor files (feature extractor + tokenizer) and ``wavlink_onnx.json`` (dims, input names, source).

Needs the optional ``[onnx]`` extra (``onnx``, ``onnxruntime``). The graphs are exported with the TorchScript
exporter (``torch.onnx.export(..., dynamo=False)``, opset 17), which needs no onnxscript.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoProcessor

from .families import FAMILIES, family_of, register_families
from .inference import _duration, load_model_and_processor
from .remote_code.modeling_common import check_truncate_dim
from .remote_code.modeling_wavlink import WavLinkModel

OPSET = 17
MANIFEST = "wavlink_onnx.json"
AUDIO_FILE, TEXT_FILE = "audio.onnx", "text.onnx"
ONNX_MISSING = "ONNX export needs the optional extra: pip install 'wavlink[onnx]' (onnx, onnxruntime)"


class OnnxAudioGraph(nn.Module):
    """(features, frame mask) -> normalised audio embeddings, the masks always applied (a graph cannot choose
    per batch); equal to `get_audio_features` for clips up to `max_audio_frames`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_features: torch.Tensor, feature_attention_mask: torch.Tensor) -> torch.Tensor:
        pooled, _ = self.model._encode_windows(input_features, feature_attention_mask, padded=True,
                                               pooled_only=True)
        return F.normalize(self.model.audio_projection(pooled), dim=-1)


class OnnxTextGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.get_text_features(input_ids, attention_mask).pooler_output


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ValueError(f"{ONNX_MISSING} ({err})") from err


def export_onnx(model: Any, out_dir: str | os.PathLike, processor: Any = None, check: bool = True) -> Path:
    """Export the audio and text towers of `model` (a WavLinkModel, or a folder / Hub id to load) to `out_dir`.

    With `check`, both graphs are run once in onnxruntime on example inputs and compared with PyTorch
    (max abs difference written to the manifest; a difference over 1e-4 raises).
    """
    _require_onnx()
    import onnx

    if not isinstance(model, nn.Module):
        source = os.fspath(model)
        model, loaded_processor = load_model_and_processor(source)
        processor = processor or loaded_processor
    else:
        source = getattr(model, "name_or_path", None) or "in-memory model"
    if processor is None:
        raise ValueError("give the processor of an in-memory model (its feature extractor and tokenizer are saved "
                         "next to the graphs)")
    config = model.config
    family = family_of(config)
    if family is None or not family.onnx:
        supported = sorted(f.model_type for f in FAMILIES.values() if f.onnx)
        raise ValueError(f"ONNX export supports model_type {', '.join(supported)} folders, not "
                         f"model_type={config.model_type!r}")
    model = model.float().eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # example inputs: two clips of different lengths (so the mask path is traced), two texts
    sr = processor.feature_extractor.sampling_rate
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(int(sr * s)).astype(np.float32) for s in (1.0, 0.6)]
    audio = processor.feature_extractor(clips, sampling_rate=sr, return_tensors="pt")
    audio_args = (audio["input_features"], audio["feature_attention_mask"].long())
    text = processor.tokenizer(["a dog barks", "rain on a tin roof, then thunder"], padding=True,
                               return_tensors="pt")
    text_args = (text["input_ids"].long(), text["attention_mask"].long())
    # the towers are built in eval mode: torch.onnx.export restores each wrapper's mode afterwards, and a wrapper
    # left in training mode would put the whole model (dropout) in training mode with it
    towers = {
        AUDIO_FILE: (OnnxAudioGraph(model).eval(), audio_args, ["input_features", "feature_attention_mask"], "audio_embeds",
                     {"input_features": {0: "batch", 2: "frames"}, "feature_attention_mask": {0: "batch", 1: "frames"},
                      "audio_embeds": {0: "batch"}}),
        TEXT_FILE: (OnnxTextGraph(model).eval(), text_args, ["input_ids", "attention_mask"], "text_embeds",
                    {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                     "text_embeds": {0: "batch"}}),
    }
    # eager attention in the text tower: transformers' sdpa mask helpers are not traceable by the
    # TorchScript exporter on every version; the numbers are the same
    text_config = config.text_config
    saved_impl = getattr(text_config, "_attn_implementation", None)
    differences: dict[str, float] = {}
    try:
        text_config._attn_implementation = "eager"
        for name, (tower, args, inputs, output, axes) in towers.items():
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python bools taken from tensors
                torch.onnx.export(tower, args, str(out / name), input_names=inputs, output_names=[output],
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
            onnx.checker.check_model(str(out / name))
            if check:
                with torch.no_grad():
                    expected = tower(*args).numpy()
                got = _session(out / name).run(None, {k: v.numpy() for k, v in zip(inputs, args)})[0]
                differences[name] = float(np.abs(got - expected).max())
    finally:
        text_config._attn_implementation = saved_impl
        model.eval()
    bad = {k: v for k, v in differences.items() if v > 1e-4}
    if bad:
        raise RuntimeError(f"onnxruntime disagrees with PyTorch by more than 1e-4: {bad}")
    processor.save_pretrained(out)
    manifest = {
        "format": "wavlink-onnx/1",
        "source": os.fspath(source),
        "audio": AUDIO_FILE,
        "text": TEXT_FILE,
        "projection_dim": int(config.projection_dim),
        "matryoshka_dims": list(config.matryoshka_dims),
        "max_audio_frames": int(config.max_audio_frames),
        "long_audio_policy": config.long_audio_policy,
        "opset": OPSET,
        "torch": torch.__version__,
        "max_abs_difference_vs_pytorch": differences,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def _session(path: str | os.PathLike, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(os.fspath(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """`Embedder`-like `encode_audio` / `encode_text` over an `export_onnx` folder, in onnxruntime."""

    def __init__(self, folder: str | os.PathLike, batch_size: int = 16, threads: int | None = None) -> None:
        _require_onnx()

        register_families()  # the processor classes, with the Auto classes

        folder = Path(folder)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise ValueError(f"{folder} is not an ONNX export (no {MANIFEST}); make one with `wavlink export-onnx`")
        self.manifest = json.loads(manifest_path.read_text())
        # the package's registered processor classes: the folder's .py files are not run
        self.processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
        self.audio_session = _session(folder / self.manifest["audio"], threads)
        self.text_session = _session(folder / self.manifest["text"], threads)
        self.batch_size = batch_size
        self.window = int(self.manifest["max_audio_frames"])

    @property
    def dims(self) -> list[int]:
        return list(self.manifest["matryoshka_dims"])

    def _check_dim(self, dim: int | None) -> None:
        check_truncate_dim(dim, self.dims)

    @staticmethod
    def _truncate(x: np.ndarray, dim: int | None) -> np.ndarray:
        if dim is not None:
            x = x[:, :dim]
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def audio_features(self, input_features: np.ndarray, feature_attention_mask: np.ndarray,
                       truncate_dim: int | None = None) -> np.ndarray:
        """Embeddings of one featurised batch; clips over the window are chunked and averaged like the model."""
        mask = np.asarray(feature_attention_mask, dtype=np.int64)
        feats = np.asarray(input_features, dtype=np.float32)
        lengths = mask.sum(-1)
        if lengths.max() <= self.window:
            valid = int(lengths.max())
            out = self.audio_session.run(None, {"input_features": np.ascontiguousarray(feats[:, :, :valid]),
                                                "feature_attention_mask": np.ascontiguousarray(mask[:, :valid])})[0]
            return self._truncate(out, truncate_dim)
        policy = self.manifest.get("long_audio_policy", "chunk")
        if policy == "error":
            raise ValueError(f"audio of {int(lengths.max())} frames exceeds the model's window and "
                             "long_audio_policy='error'")
        if policy == "truncate":
            return self.audio_features(feats[:, :, : self.window], mask[:, : self.window], truncate_dim)
        pieces, masks, owners, sizes = WavLinkModel._cut_windows(torch.from_numpy(feats),
                                                                   torch.from_numpy(lengths), self.window)
        windows = self.audio_session.run(None, {"input_features": pieces.numpy(),
                                                "feature_attention_mask": masks.numpy().astype(np.int64)})[0]
        windows = self._truncate(windows, truncate_dim) * sizes.numpy()[:, None].astype(np.float32)
        summed = np.zeros((feats.shape[0], windows.shape[1]), dtype=np.float32)
        np.add.at(summed, owners.numpy(), windows)
        return self._truncate(summed, None)

    def encode_audio(self, audio: list[Any], truncate_dim: int | None = None,
                     sampling_rate: int | None = None) -> np.ndarray:
        self._check_dim(truncate_dim)
        if len(audio) == 0:
            raise ValueError("no audio given")
        order = np.argsort(-np.asarray([_duration(a) for a in audio], dtype=float), kind="stable")
        out: list[np.ndarray | None] = [None] * len(audio)
        for start in range(0, len(audio), self.batch_size):
            idx = order[start : start + self.batch_size]
            inputs = self.processor(audio=[audio[i] for i in idx], sampling_rate=sampling_rate, return_tensors="np")
            emb = self.audio_features(inputs["input_features"], inputs["feature_attention_mask"], truncate_dim)
            for j, i in enumerate(idx):
                out[i] = emb[j]
        return np.stack(out)

    def encode_text(self, texts: list[str], truncate_dim: int | None = None) -> np.ndarray:
        self._check_dim(truncate_dim)
        if isinstance(texts, str):
            texts = [texts]
        if len(texts) == 0:
            raise ValueError("no text given")
        parts = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.processor(text=list(texts[start : start + self.batch_size]), return_tensors="np")
            parts.append(self.text_session.run(None, {"input_ids": enc["input_ids"].astype(np.int64),
                                                      "attention_mask": enc["attention_mask"].astype(np.int64)})[0])
        return self._truncate(np.concatenate(parts), truncate_dim)


__all__ = ["OnnxAudioGraph", "OnnxEmbedder", "OnnxTextGraph", "export_onnx"]
