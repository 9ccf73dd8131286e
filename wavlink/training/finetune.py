"""LoRA finetuning on one's own (audio, caption) pairs: `finetune`, a thin front end to the trainer whose
result is an adapter folder (format: adapter.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..defaults import FINETUNE_BATCH_SIZE, FINETUNE_EPOCHS, FINETUNE_LORA_LR, FINETUNE_MIN_STEPS
from .config import TrainingConfig
from .recipe import parse_towers
from .trainer import TrainResult, train

# Defaults sized for users' small sets (why and how they were measured: wavlink/defaults.py).
MIN_STEPS = FINETUNE_MIN_STEPS
EPOCHS = FINETUNE_EPOCHS
LORA_LR = FINETUNE_LORA_LR
BATCH_SIZE = FINETUNE_BATCH_SIZE


def finetune(
    model: str,
    data: str | os.PathLike | Sequence[Any],
    out_dir: str | os.PathLike,
    *,
    lora_r: int = 8,
    lora_alpha: float | None = None,
    targets: str | Sequence[str] = ("audio", "text"),
    scope: str | None = None,
    epochs: int = EPOCHS,
    min_steps: int | None = MIN_STEPS,
    lr: float = LORA_LR,
    batch_size: int = BATCH_SIZE,
    val_data: str | os.PathLike | Sequence[Any] | None = None,
    val_fraction: float = 0.1,
    merge: bool | str | os.PathLike = False,
    resume: str | None = None,
    keep_checkpoints: bool = False,
    **options: Any,
) -> TrainResult:
    """LoRA-finetune `model` (folder or Hub id) on `data`; the adapter goes to `out_dir`.

    Length: `epochs` passes over the data, extended to at least `min_steps` optimiser steps (None: epochs only;
    ``max_steps=N`` fixes the length outright). Validation runs before and after training
    (`TrainResult.initial_metrics` / `final_metrics`) unless `eval_at_start` / `eval_every` say otherwise.

    Validation: `val_data`, else the manifest's validation split, else `val_fraction` of the clips held out
    (0 disables evaluation). `merge=True` also writes the merged model to ``<out_dir>/merged`` (or to `merge`
    when it is a path). Other keyword arguments are `TrainingConfig` fields (``mixed_precision="bf16"``,
    ``gradient_checkpointing=True``, ``max_train_seconds``, ...).
    """
    towers = parse_towers(targets)
    out = Path(out_dir)
    merge_dir = None
    if merge:
        merge_dir = str(merge) if not isinstance(merge, bool) else str(out / "merged")
    data = [data] if isinstance(data, (str, os.PathLike, dict)) else list(data)
    if val_data is not None:
        val_data = [val_data] if isinstance(val_data, (str, os.PathLike, dict)) else list(val_data)
    config = TrainingConfig(
        model=os.fspath(model),
        train_data=[os.fspath(d) if isinstance(d, os.PathLike) else d for d in data],
        eval_data=[os.fspath(d) if isinstance(d, os.PathLike) else d for d in val_data] if val_data else None,
        val_fraction=val_fraction,
        mode="lora",
        scope=scope or ("audio" if towers == ["audio"] else "both"),
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_towers=towers,
        epochs=epochs,
        min_steps=min_steps,
        lr=lr,
        batch_size=batch_size,
        output_dir=str(out),
        final_adapter_dir=str(out),
        final_model_dir=merge_dir,
        merge_lora=bool(merge),
        keep_checkpoints=keep_checkpoints,
        # every clip decoded once up front (NaN / inf, truncated files), so --on-bad-audio skip covers them all
        **{"eval_at_start": True, "eval_every": 0, "deep_audio_check": True, **options},
    )
    return train(config, resume=resume)


__all__ = ["BATCH_SIZE", "EPOCHS", "LORA_LR", "MIN_STEPS", "finetune"]
