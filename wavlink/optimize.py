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


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every `nn.Linear` of `model` (both towers and the projections) by its int8 dynamically quantised
    counterpart, in place: weights int8 per tensor, activations quantised per call; the convolutions,
    embeddings, LayerNorms and attention stay fp32. CPU only; the model must be in fp32 and eval mode.

    Returns `model`. On this project's CPU the audio embeddings keep a cosine of ~0.999 with the fp32 ones
    (measured numbers in docs/bench_embed.md).
    """
    first = next(model.parameters(), None)
    if first is not None and first.device.type != "cpu":
        raise ValueError(f"int8 dynamic quantisation runs on the CPU only; the model is on {first.device}")
    if first is not None and first.dtype != torch.float32:
        raise ValueError(f"int8 dynamic quantisation needs fp32 weights, got {first.dtype}; do not combine it with "
                         "--dtype float16/bfloat16")
    model.eval()
    with warnings.catch_warnings():
        # torch 2.13 marks the quantized-tensor constructors deprecated (pytorch#184982); they still work
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization.*", category=DeprecationWarning)
        torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    model._wavlink_int8 = True
    return model


def is_int8(model: Any) -> bool:
    return bool(getattr(model, "_wavlink_int8", False))


__all__ = ["INT8_NOTE", "is_int8", "quantize_int8"]
