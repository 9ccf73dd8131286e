"""Opt-in CPU inference speed-ups that change the numbers a little: int8 dynamic quantisation.

(bf16 is a load option: ``Embedder.load(dtype="bfloat16")`` / ``--dtype bfloat16``. The default fp32 path
needs nothing from here: the model's own inference path is already the fast one.)

Lives in the package, not in the remote code: a saved model folder stays plain fp32 safetensors that load
with transformers alone; quantisation is applied after loading, on the user's machine.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

INT8_NOTE = "int8 dynamic quantisation of every nn.Linear (torch.ao.quantization.quantize_dynamic, qint8 weights)"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def default_int8_engine() -> str:
    """The quantised engine whose packed int8 weights run fastest here: oneDNN on CPUs with AMX-INT8 (it
    uses the AMX tiles; on this project's Sapphire Rapids CPU its int8 GEMMs ran ~1.4x faster than the
    default x86/fbgemm packing, with the same numbers), otherwise torch's current default."""
    engines = torch.backends.quantized.supported_engines
    if "onednn" in engines and "amx_int8" in _cpu_flags():
        return "onednn"
    return torch.backends.quantized.engine


def quantize_int8(model: nn.Module, engine: str | None = None) -> nn.Module:
    """Replace every `nn.Linear` of `model` (both towers and the projections) by its int8 dynamically quantised
    counterpart, in place: weights int8 (per output channel in `model.text_model`, per tensor elsewhere),
    activations quantised per call and per tensor; the convolutions, embeddings, LayerNorms and attention stay
    fp32. CPU only; the model must be in fp32 and eval mode.

    `engine` packs the weights for that quantised engine (default `default_int8_engine()`); the packed weights
    pick their kernels at run time, so the process-wide engine setting is restored afterwards.
    Returns `model` (its engine in `model._wavlink_int8`). The quality cost on real audio is measured in
    docs/bench_embed.md. Activations are quantised per call over the whole batch, so a clip's vector depends
    slightly on the other clips of its batch (not batch-invariant to 1e-4 like the fp32 path).
    """
    first = next(model.parameters(), None)
    if first is not None and first.device.type != "cpu":
        raise ValueError(f"int8 dynamic quantisation runs on the CPU only; the model is on {first.device}")
    if first is not None and first.dtype != torch.float32:
        raise ValueError(f"int8 dynamic quantisation needs fp32 weights, got {first.dtype}; do not combine it with "
                         "--dtype float16/bfloat16")
    engine = engine or default_int8_engine()
    if engine not in torch.backends.quantized.supported_engines:
        raise ValueError(f"quantised engine {engine!r} is not available; choose one of "
                         f"{torch.backends.quantized.supported_engines}")
    model.eval()
    previous = torch.backends.quantized.engine
    try:
        torch.backends.quantized.engine = engine
        with warnings.catch_warnings():
            # torch 2.13 marks the quantized-tensor constructors deprecated (pytorch#184982); they still work
            warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*torch.ao.quantization.*", category=DeprecationWarning)
            text = getattr(model, "text_model", None)
            if isinstance(text, nn.Module):  # per-channel weight scales: text cosine to fp32 0.98 instead of 0.96
                torch.ao.quantization.quantize_dynamic(
                    text, {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, inplace=True)
            # per-tensor elsewhere (per-channel did not help the audio tower, measured on ESC-50)
            torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    finally:
        torch.backends.quantized.engine = previous
    model._wavlink_int8 = engine
    return model


def is_int8(model: Any) -> bool:
    return bool(getattr(model, "_wavlink_int8", False))


def int8_engine(model: Any) -> str | None:
    engine = getattr(model, "_wavlink_int8", None)
    return engine if isinstance(engine, str) else None


__all__ = ["INT8_NOTE", "default_int8_engine", "int8_engine", "is_int8", "quantize_int8"]
