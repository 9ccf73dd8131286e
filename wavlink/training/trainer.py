"""Contrastive training of audio-text dual encoders on top of HF `accelerate`.

Why `accelerate` and not `transformers.Trainer`: a dual encoder's step is two forwards, a loss that all-gathers
features across processes and learnable loss scales; `Trainer` would need a custom `compute_loss`, a custom
sampler, custom evaluation and custom checkpoint contents anyway. `accelerate` gives exactly the missing
pieces (process launch, DDP wrapping, mixed precision, gradient clipping, trackers) and leaves the loop readable.
The same code runs on one CPU, one GPU, or many GPUs under ``accelerate launch`` / ``torchrun``.

The loop, step by step (`ContrastiveTrainer.fit`):

1. load the model (folder / Hub id, random preset, or pretrained parts) and its processor; freeze or wrap it
   for the mode (`recipe.apply_training_mode`);
2. read and validate the data, build the length-bucketed batches of this process (whole batches per rank, so
   every rank holds the same local batch size, as the gathered losses require);
3. AdamW (no decay on biases / norms / global token / scales) + cosine schedule with linear warmup;
4. per optimizer step: ``grad_accum_steps`` micro-batches, each one forward of `DualEncoderModule` (both towers
   in ONE forward, so DDP syncs every gradient), the loss (features gathered across processes inside the loss
   module, ``group_ids`` masking duplicates), backward; then clip, step, schedule; one JSONL line per step;
5. evaluation (text->audio and audio->text R@1/5/10, `validation`) on the validation split, at the end of each
   epoch by default;
6. atomic checkpoints (temp folder, then rename; the folder layout and helpers are `checkpoints`) with trainable
   weights, optimizer, scheduler, every rank's RNG state and the position in the epoch; ``resume="latest"``
   continues the exact trajectory;
7. the final model folder (merged when LoRA) and, for LoRA, an adapter folder that peft and
   sentence-transformers load.

With ``objective: text_pairs`` (text-only modality transfer, `text_pairs`) step 2 reads text-pair files and
step 4 runs `TextPairModule` (both sides through the text path, the audio side frozen); evaluation stays
audio-caption retrieval on ``eval_data``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..builders.folder import save_model_folder
from ..data.shards import is_shard_spec
from ..data.text_pairs import read_text_pair_source
from ..errors import EnvironmentProblem, first_line, free_space_note, write_failure_hint
from ..families import get_family
from ..files import atomic_write
from ..inference import check_model_source, load_model_and_processor
from ..model_identity import architecture_fingerprint, unwrap
from ..remote_code.losses import ClipLoss, ComposedDistillationLoss, LabelDistillationLoss, build_loss
from .adapter import save_adapter
from .batching import AudioCaptionCollator, LengthBucketBatchSampler
from .checkpoints import (
    CHECKPOINT_PREFIX,
    LABELS_FILE,
    STATE_FILE,
    TMP_PREFIX,
    WEIGHTS_FILE,
    fsync_dir,
    fsync_tree,
    list_checkpoints,
    resolve_resume,
    rng_state,
    set_rng_state,
    to_python,
)
from .config import TrainingConfig
from .dataset import AudioCaptionDataset, split_clips
from .distill import TeacherScores
from .grad_cache import grad_cache_backward
from .recipe import apply_training_mode, describe_trainable, loss_scale_kwargs
from .shards import ShardStream, StreamLoader
from .text_pairs import TextPairCollator, TextPairDataset, TextPairModule
from .validation import eval_set_labels, evaluate_retrieval, to_device
from .workers import loader_kwargs

logger = logging.getLogger(__name__)

LOG_FILE = "log.jsonl"


@dataclass
class TrainResult:
    output_dir: Path
    step: int
    final_model_dir: Path | None
    adapter_dir: Path | None
    initial_metrics: dict[str, float] | None
    final_metrics: dict[str, float] | None
    log_path: Path
    model: nn.Module | None = None  # the trained model (a PeftModel for LoRA), unwrapped from DDP
    processor: Any = None


def _keep_trainable_weights(models: list[nn.Module], weights: list[dict[str, torch.Tensor]], output_dir: str) -> None:
    """`accelerator.save_state` pre-hook: a checkpoint holds the trainable weights only (the frozen towers are the
    base model's and would make every LoRA checkpoint of a 7B model 15 GB). FSDP and DeepSpeed write their own
    shards, so ``weights`` holds the plain (single-process / DDP) models only."""
    for model, state in zip(models, weights):
        keep = {name.removeprefix("module.") for name, p in model.named_parameters() if p.requires_grad}
        for key in [k for k in state if k.removeprefix("module.") not in keep]:
            del state[key]


class DualEncoderModule(nn.Module):
    """What DDP wraps: both towers and the loss scales in one forward, so every trainable gradient is synced.

    Only the family-agnostic contract is used: ``get_audio_features(**audio_inputs).pooler_output`` and
    ``get_text_features(**text_inputs).pooler_output`` (L2-normalised), plus the loss scales.
    """

    def __init__(self, model: nn.Module, loss_type: str) -> None:
        super().__init__()
        self.model = model
        self.loss_type = loss_type
        # only the pooled embedding is read: models that can skip the rest (WavLink's last layer for the global
        # token alone: same values and gradients) are told so
        signature = inspect.signature(model.get_audio_features).parameters
        self._pooled_only = {"pooled_only": True} if "pooled_only" in signature else {}

    def forward(
        self, audio_inputs: dict[str, torch.Tensor], text_inputs: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        audio = self.model.get_audio_features(**audio_inputs, **self._pooled_only).pooler_output
        text = self.model.get_text_features(**text_inputs).pooler_output
        return audio, text, loss_scale_kwargs(self.model, self.loss_type)


# ---------------------------------------------------------------------------------------------- model loading


def load_training_model(config: TrainingConfig) -> tuple[nn.Module, Any, str | None]:
    """(model, processor, base reference) for the config's model source.

    The base reference is what a LoRA adapter records as its base: an absolute folder path or a Hub id; None
    when the model was created here (the trainer then saves it to ``<output_dir>/base`` first).
    """
    overrides = dict(config.config_overrides)
    if config.model:
        source = os.path.expanduser(config.model)
        model, processor = load_model_and_processor(source, trust_remote_code=config.trust_remote_code)
        ref = os.path.abspath(source) if os.path.isdir(source) else source
        return model, processor, ref

    family = get_family(config.family)
    if config.preset:
        model, processor = family.create(config.preset, tokenizer=config.tokenizer, seed=config.seed, **overrides)
    else:
        model, processor = family.build(config.init_audio, config.init_text, seed=config.seed, **overrides)
    return model, processor, None


def resolve_loss(model: nn.Module, config: TrainingConfig) -> tuple[str, list[int] | None]:
    """(loss name, Matryoshka dims or None) from the training config, falling back to the model config."""
    mcfg = unwrap(model).config
    loss_type = config.loss or getattr(mcfg, "loss_type", None) or "clip"
    if hasattr(mcfg, "loss_type") and mcfg.loss_type != loss_type:
        # forward() scales its logits by the loss the model was trained with, so the saved config must say it
        logger.warning("training with the %r loss; the saved config will say so (was %r)", loss_type, mcfg.loss_type)
        mcfg.loss_type = loss_type
    dims = config.matryoshka_dims
    if dims == "auto":
        dims = list(getattr(mcfg, "matryoshka_dims", None) or []) if getattr(mcfg, "matryoshka_loss", True) else []
    elif dims:
        dims = sorted({int(d) for d in dims}, reverse=True)
        if hasattr(mcfg, "matryoshka_dims") and list(mcfg.matryoshka_dims) != dims:
            logger.warning("training Matryoshka dims %s; the saved config will list them", dims)
            mcfg.matryoshka_dims = dims
    return loss_type, (list(dims) or None) if dims else None


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no decay for biases, norms (ndim < 2), the global token, positions and loss scales."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim < 2 or any(k in name for k in ("global_token", "position", "logit_scale", "logit_bias"))
        (no_decay if skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


# ---------------------------------------------------------------------------------------------- trainer


class ContrastiveTrainer:
    """One training run described by a `TrainingConfig`; see the module docstring for the loop.

    Args:
        config: the run.
        resume: None (fresh), ``"latest"`` (newest checkpoint in ``output_dir``, or fresh if none) or a path.
        step_delay: seconds to sleep after each optimizer step (only for tests that must kill a run mid-way).
    """

    def __init__(self, config: TrainingConfig, resume: str | os.PathLike | None = None,
                 step_delay: float = 0.0) -> None:
        self.config = config
        self.resume = resume
        self.step_delay = step_delay
        self.output_dir = Path(config.output_dir)
        self.log_path = self.output_dir / LOG_FILE
        self.step = 0
        self.epoch = 0
        self.step_in_epoch = 0
        self.samples_seen = 0

    # ------------------------------------------------------------------ setup
    def _make_accelerator(self):
        from accelerate import Accelerator
        from accelerate.state import AcceleratorState, GradientState
        from accelerate.utils import DistributedDataParallelKwargs

        # Several runs in one process (tests, notebooks) must not inherit the previous run's precision.
        AcceleratorState._reset_state()
        GradientState._reset_state()
        trackers = []
        for name in self.config.trackers:
            import accelerate.utils as au

            check = getattr(au, f"is_{name}_available", None)
            if check is not None and check():
                trackers.append(name)
            else:
                logger.warning("tracker %r is not installed (or unknown); logging to %s only", name, LOG_FILE)
        # torchrun / accelerate launch without GPUs: accelerate only goes multi-process on CPU when told to
        multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
        return Accelerator(
            cpu=multi_cpu,
            mixed_precision=self.config.mixed_precision,
            log_with=trackers or None,
            project_dir=str(self.output_dir),
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=self.config.find_unused_parameters)],
            step_scheduler_with_optimizer=False,
        ), trackers

    def _print(self, message: str) -> None:
        if self.accelerator.is_main_process:
            print(message, flush=True)

    def setup(self) -> None:
        """Model, data, optimizer, schedule; restores a checkpoint when resuming."""
        from accelerate.utils import set_seed

        cfg = self.config
        self.accelerator, trackers = self._make_accelerator()
        acc = self.accelerator
        checkpoint = resolve_resume(self.resume, self.output_dir)
        self._check_output_dir(checkpoint)
        if cfg.model:  # a mistyped or untrusted model is reported first (nothing is loaded here)

            check_model_source(os.path.expanduser(cfg.model), trust_remote_code=cfg.trust_remote_code)
        # every manifest read and every clip probed before the model is loaded: a bad manifest or clip is
        # reported in seconds, not after minutes of loading
        self._read_data()
        acc.wait_for_everyone()  # no rank writes before every rank has checked the output folder
        self.output_dir.mkdir(parents=True, exist_ok=True)
        set_seed(cfg.seed)

        model, self.processor, base_ref = load_training_model(cfg)
        self.loss_type, self.matryoshka_dims = resolve_loss(model, cfg)
        if cfg.mode == "lora" and base_ref is None:
            base_dir = self.output_dir / "base"
            if acc.is_main_process and not (base_dir / "config.json").is_file():
                save_model_folder(model, self.processor, base_dir)
            base_ref = str(base_dir.resolve())
        self.base_ref = base_ref
        self.base_fingerprint = architecture_fingerprint(model)
        if cfg.gradient_checkpointing:
            if not getattr(model, "supports_gradient_checkpointing", False):
                raise ValueError(f"{type(model).__name__} does not support gradient checkpointing")
            kwargs = {"use_reentrant": False}  # frozen towers: inputs need no grad for the recomputation
            if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
                model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model = apply_training_mode(
            model, cfg.mode, cfg.scope, loss_type=self.loss_type, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout, lora_towers=cfg.lora_towers,
        )
        self.model = model
        self._print(f"{cfg.mode} / {cfg.scope}: {describe_trainable(model)}; loss {self.loss_type}"
                    + (f", Matryoshka {self.matryoshka_dims}" if self.matryoshka_dims else ""))

        self.loss_fn = build_loss(self.loss_type, matryoshka_dims=self.matryoshka_dims,
                                  **({"matryoshka_weights": cfg.matryoshka_weights} if cfg.matryoshka_weights else {}),
                                  **cfg.loss_kwargs)
        self._setup_data(int(getattr(unwrap(self.model).config, "sampling_rate", 16000)))

        self.text_pairs = cfg.objective == "text_pairs"
        module_cls = TextPairModule if self.text_pairs else DualEncoderModule
        self.input_keys = ("anchor_inputs", "positive_inputs") if self.text_pairs else ("audio_inputs", "text_inputs")
        self.module = module_cls(model, self.loss_type)
        optimizer = torch.optim.AdamW(parameter_groups(self.module, cfg.weight_decay), lr=cfg.lr,
                                      betas=tuple(cfg.betas), eps=cfg.eps)
        self.module, self.optimizer = acc.prepare(self.module, optimizer)
        acc.register_save_state_pre_hook(_keep_trainable_weights)
        warmup = cfg.warmup_steps if cfg.warmup_steps is not None else math.ceil(cfg.warmup_ratio * self.total_steps)
        from transformers import get_cosine_schedule_with_warmup  # lazy: 2 s (peft via trainer_utils)

        self.scheduler = get_cosine_schedule_with_warmup(self.optimizer.optimizer, warmup, self.total_steps)
        self.trainable = [p for p in self.module.parameters() if p.requires_grad]

        if checkpoint is not None:
            self._load_checkpoint(checkpoint)
        else:
            if list_checkpoints(self.output_dir) and not cfg.overwrite_output_dir:
                raise ValueError(
                    f"{self.output_dir} already holds checkpoints of a run: resume it (--resume latest), choose "
                    "another output folder, or set overwrite_output_dir (--overwrite)"
                )
            acc.wait_for_everyone()
            if acc.is_main_process:
                shutil.rmtree(self.output_dir / "checkpoints", ignore_errors=True)
                if self.log_path.exists():
                    self.log_path.unlink()
            # different dropout masks per process; the state is checkpointed per rank
            set_seed(cfg.seed + acc.process_index)
        if acc.is_main_process:
            (self.output_dir / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str) + "\n")
        if trackers:
            flat = {k: (v if isinstance(v, (int, float, str, bool)) else json.dumps(v, default=str))
                    for k, v in cfg.to_dict().items()}
            acc.init_trackers(cfg.project_name, config=flat)

    def _check_output_dir(self, checkpoint: Path | None) -> None:
        """Refuse to start a run in a folder that holds files of another run (its log, config, adapter or model
        would be replaced) unless it resumes that run or `overwrite_output_dir` says so; checked before anything
        is read, loaded or written."""
        cfg, out = self.config, self.output_dir
        if cfg.overwrite_output_dir or checkpoint is not None or not out.is_dir():
            return
        entries = sorted(p.name for p in out.iterdir())
        if not entries:
            return
        shown = ", ".join(entries[:6]) + (f" (+{len(entries) - 6} more)" if len(entries) > 6 else "")
        if self.resume is None and list_checkpoints(out):
            raise ValueError(f"{out} already holds checkpoints of a run: resume it (--resume latest), choose "
                             "another output folder, or set overwrite_output_dir (--overwrite)")
        if self.resume is None:
            raise ValueError(f"the output folder {out} is not empty ({shown}); resume its run (--resume latest), "
                             "choose another output folder, or pass --overwrite to replace its files")
        finished = [p for p in (cfg.resolved_path(cfg.final_adapter_dir, "adapter"),
                                cfg.resolved_path(cfg.final_model_dir, "final"))
                    if p is not None and ((p / "adapter_config.json").is_file() or (p / "config.json").is_file())]
        if finished:
            raise ValueError(f"{out} holds a finished run ({', '.join(str(p) for p in finished)}) and no checkpoint "
                             "to resume; choose another output folder, or pass --overwrite to replace it")

    def _read_data(self) -> None:
        """Read every manifest and probe every clip (`AudioCaptionDataset.validate`; deep when
        ``deep_audio_check``) before the model is loaded; the model's sampling rate is set in `_setup_data`."""
        cfg, acc = self.config, self.accelerator
        self.stream = None
        if cfg.objective == "text_pairs":
            return  # text-pair files are read in `_setup_text_pair_data`
        if any(is_shard_spec(s) for s in cfg.train_data):
            return  # streamed shards are opened with the model's sampling rate (`_setup_stream_data`)
        common = dict(sampling_rate=16000, seed=cfg.seed)
        train = AudioCaptionDataset.from_sources(cfg.train_data, split="train", train=True,
                                                 max_seconds=cfg.max_train_seconds,
                                                 caption_sampling=cfg.caption_sampling,
                                                 augment=cfg.augment_config, **common)
        self.train_report = train.validate(cfg.on_bad_audio, deep=cfg.deep_audio_check,
                                           progress=cfg.progress and acc.is_main_process)
        extra_sets: list[tuple[str, AudioCaptionDataset]] = []
        if cfg.eval_data is not None:
            # one retrieval set per source (AudioCaps and Clotho are reported apart, as in the paper): pooling
            # them would rank every caption against both sets' clips
            labelled = [(label, AudioCaptionDataset.from_sources([spec], split="validation",
                                                                 default_split="validation", train=False,
                                                                 max_seconds=cfg.max_eval_seconds, **common))
                        for label, spec in zip(eval_set_labels(cfg.eval_data), cfg.eval_data)]
            val = labelled[0][1] if labelled else None
            extra_sets = labelled[1:]
            self.val_labels = [label for label, _ in labelled] if len(labelled) > 1 else [None]
        else:
            self.val_labels = [None]
            val = AudioCaptionDataset.from_sources(cfg.train_data, split="validation", train=False,
                                                   max_seconds=cfg.max_eval_seconds, **common)
            if not val.pairs:
                val = None
                if cfg.val_fraction > 0:
                    train, val = split_clips(train, cfg.val_fraction, seed=cfg.seed)
                    val.max_seconds = cfg.max_eval_seconds
        for dataset in [val] + [d for _, d in extra_sets]:
            if dataset is not None and dataset.report is None:
                dataset.validate(cfg.on_bad_audio, deep=cfg.deep_audio_check)
        self.train_set, self.val_set = train, val
        self.val_sets = [] if val is None else [val] + [d for _, d in extra_sets]

    def _setup_data(self, sr: int) -> None:
        cfg, acc = self.config, self.accelerator
        if cfg.objective == "text_pairs":
            return self._setup_text_pair_data(sr)
        if any(is_shard_spec(s) for s in cfg.train_data):
            return self._setup_stream_data(sr)
        train = self.train_set
        for dataset in [train, *self.val_sets]:
            dataset.sampling_rate = sr
        self._setup_teacher()
        all_reports = [train.report] + [d.report for d in self.val_sets]
        for report in all_reports:
            if report is not None and not report.ok:
                self._print(str(report))
        reports = [r.to_dict() for r in all_reports if r is not None]
        if acc.is_main_process:
            (self.output_dir / "data_report.json").write_text(json.dumps(reports, indent=2) + "\n")
        self.sampler = LengthBucketBatchSampler(
            train.example_durations(), cfg.batch_size, num_replicas=acc.num_processes, rank=acc.process_index,
            seed=cfg.seed, bucket_size=cfg.bucket_size, name=train.name,
        )
        self.batches_per_epoch = len(self.sampler.batches(0))
        self.steps_per_epoch = self.batches_per_epoch // cfg.grad_accum_steps
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{self.batches_per_epoch} batch(es) per epoch and process cannot fill grad_accum_steps="
                f"{cfg.grad_accum_steps}; lower it or the batch size"
            )
        self.total_steps = cfg.max_steps or max(self.steps_per_epoch * cfg.epochs, cfg.min_steps or 0)
        self.collator = AudioCaptionCollator(self.processor, sampling_rate=sr)
        self._print(
            f"data: {len(train)} training examples ({len(train.example_clips)} clips), "
            f"{sum(len(d.pairs) for d in self.val_sets)} validation captions"
            f"{' in ' + str(len(self.val_sets)) + ' sets' if len(self.val_sets) > 1 else ''}; "
            f"{self.steps_per_epoch} steps/epoch, "
            f"{self.total_steps} steps; global batch {cfg.batch_size} x {acc.num_processes} process(es) x "
            f"{cfg.grad_accum_steps} accumulation"
        )
        warning = cfg.global_batch_warning(acc.num_processes)
        if warning and acc.is_main_process:
            logger.warning(warning)

    def _setup_text_pair_data(self, sr: int) -> None:
        """Text-only transfer: text-pair files for training, audio-caption manifests (``eval_data``) to evaluate."""
        cfg, acc = self.config, self.accelerator
        if any(is_shard_spec(s) for s in cfg.train_data):
            raise ValueError("objective text_pairs reads text-pair files (CSV/TSV/JSONL), not WebDataset shards")
        pairs, reports = [], []
        for spec in cfg.train_data:
            found, report = read_text_pair_source(spec)
            pairs.extend(found)
            reports.append(report)
        self.train_set = TextPairDataset(pairs, name=", ".join(r.name for r in reports))
        self.train_report, self.distill, self.distill_loss = None, None, None
        self.label_embeds, self.label_embeds_step = None, -1
        self.val_labels, self.val_sets = [None], []
        if cfg.eval_data is not None:
            common = dict(sampling_rate=sr, seed=cfg.seed, train=False, max_seconds=cfg.max_eval_seconds)
            self.val_sets = [AudioCaptionDataset.from_sources([spec], split="validation", default_split="validation",
                                                              **common) for spec in cfg.eval_data]
            for dataset in self.val_sets:
                dataset.validate(cfg.on_bad_audio, deep=cfg.deep_audio_check)
            if len(self.val_sets) > 1:
                self.val_labels = eval_set_labels(cfg.eval_data)
        self.val_set = self.val_sets[0] if self.val_sets else None
        if acc.is_main_process:
            (self.output_dir / "data_report.json").write_text(json.dumps(
                [r.to_dict() for r in reports] + [d.report.to_dict() for d in self.val_sets if d.report is not None],
                indent=2) + "\n")
        for report in reports:
            self._print(str(report))
        self.sampler = LengthBucketBatchSampler(
            self.train_set.lengths(), cfg.batch_size, num_replicas=acc.num_processes, rank=acc.process_index,
            seed=cfg.seed, bucket_size=cfg.bucket_size, name=self.train_set.name,
        )
        self.batches_per_epoch = len(self.sampler.batches(0))
        self.steps_per_epoch = self.batches_per_epoch // cfg.grad_accum_steps
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.batches_per_epoch} batch(es) per epoch and process cannot fill "
                             f"grad_accum_steps={cfg.grad_accum_steps}; lower it or the batch size")
        self.total_steps = cfg.max_steps or max(self.steps_per_epoch * cfg.epochs, cfg.min_steps or 0)
        self.collator = TextPairCollator(self.processor)
        self._print(f"text-only transfer: {len(self.train_set)} text pairs, audio side frozen; "
                    f"{sum(len(d.pairs) for d in self.val_sets)} audio-caption validation captions; "
                    f"{self.steps_per_epoch} steps/epoch, {self.total_steps} steps")
        if getattr(unwrap(self.model).config, "model_type", None) == "omni_audio_embedder":
            self._print("note: text-only transfer relies on the LLM's pretrained audio-text alignment; Jina's blog "
                        "saw AudioCaps T2A cvR@5 46.1 on the full Qwen2.5-Omni-7B but 5.9 on a 10-layer pruned one")

    def _setup_stream_data(self, sr: int) -> None:
        """Training from WebDataset shards (`shards.ShardStream`): streamed, split by rank and worker."""
        cfg, acc = self.config, self.accelerator
        if not all(is_shard_spec(s) for s in cfg.train_data):
            raise ValueError("train_data mixes WebDataset shards with other sources; write them all as shards "
                             "(wavlink shard MANIFEST --out DIR)")
        if cfg.distill is not None or cfg.val_fraction > 0:
            raise ValueError("distill and val_fraction need a manifest source, not streamed shards; give eval_data")
        self.stream = ShardStream(cfg.train_data, batch_size=cfg.batch_size, sampling_rate=sr,
                                  max_seconds=cfg.max_train_seconds, seed=cfg.seed, rank=acc.process_index,
                                  world_size=acc.num_processes, num_workers=cfg.num_workers,
                                  shuffle_buffer=cfg.shuffle_buffer, on_bad_audio=cfg.on_bad_audio)
        self.stream_state: dict[str, Any] | None = None
        self.train_set, self.train_report, self.distill, self.distill_loss = self.stream, None, None, None
        self.label_embeds, self.label_embeds_step = None, -1
        self.val_labels = [None]
        self.val_sets = []
        if cfg.eval_data is not None:
            common = dict(sampling_rate=sr, seed=cfg.seed, train=False, max_seconds=cfg.max_eval_seconds)
            self.val_sets = [AudioCaptionDataset.from_sources([spec], split="validation", default_split="validation",
                                                              **common) for spec in cfg.eval_data]
            for dataset in self.val_sets:
                dataset.validate(cfg.on_bad_audio, deep=cfg.deep_audio_check)
            if len(self.val_sets) > 1:
                self.val_labels = eval_set_labels(cfg.eval_data)
        self.val_set = self.val_sets[0] if self.val_sets else None
        plan = self.stream.plan
        self.batches_per_epoch = plan.batches_per_rank
        self.steps_per_epoch = self.batches_per_epoch // cfg.grad_accum_steps
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.batches_per_epoch} batch(es) per epoch and process cannot fill "
                             f"grad_accum_steps={cfg.grad_accum_steps}")
        self.total_steps = cfg.max_steps or max(self.steps_per_epoch * cfg.epochs, cfg.min_steps or 0)
        self.collator = AudioCaptionCollator(self.processor, sampling_rate=sr)
        self._print(f"data: {plan.samples} samples in {len(plan.urls)} shard(s) ({self.stream.name}), streamed; "
                    f"{plan.examples_per_worker} per reader x {plan.num_workers} worker(s) x {acc.num_processes} "
                    f"process(es) per epoch ({plan.unused_per_epoch()} left out to keep readers equal); "
                    f"{self.steps_per_epoch} steps/epoch, {self.total_steps} steps")

    def _setup_teacher(self) -> None:
        """Teacher soft labels (``distill``): attach the score table and build the distillation loss."""
        self.distill = self.config.distill_config
        self.distill_loss = None
        self.label_embeds: torch.Tensor | None = None
        self.label_embeds_step = -1
        if self.distill is None:
            return

        teacher = TeacherScores.load(self.distill.teacher)
        covered = self.train_set.attach_teacher(teacher)
        if covered == 0:
            raise ValueError(f"distill.teacher {teacher.origin} scores none of the {len(self.train_set.example_clips)} "
                             "training clips: its 'audio' paths must name the manifest's files")
        dims = self.matryoshka_dims if self.distill.matryoshka else None
        self.distill_loss = LabelDistillationLoss(self.distill.temperature, self.distill.top_k, self.distill.power,
                                                  dims=dims)
        self.composed_loss = ComposedDistillationLoss(dims=dims)
        self._print(f"distillation: {len(teacher.labels)} teacher classes from {teacher.origin}; "
                    f"{covered} of {len(self.train_set.example_clips)} training clips scored; weight "
                    f"{self.distill.weight}, temperature {self.distill.temperature}")

    @torch.no_grad()
    def refresh_label_embeddings(self) -> torch.Tensor:
        """Text embeddings of the teacher's class names (template-averaged, L2-normalised), without gradient."""
        model = self.accelerator.unwrap_model(self.module).model
        was_training = model.training
        model.eval()
        device = self.accelerator.device

        def encode(prompts: list[str]) -> np.ndarray:
            out = []
            for i in range(0, len(prompts), 128):
                inputs = self.processor(text=prompts[i:i + 128], return_tensors="pt")
                with self.accelerator.autocast():
                    emb = model.get_text_features(**to_device(dict(inputs), device)).pooler_output
                out.append(emb.float().cpu().numpy())
            return np.concatenate(out)

        from ..metrics import class_embeddings_from_templates  # lazy: 1-3 s (evaluate); distillation only

        try:
            embeds = class_embeddings_from_templates(encode, self.train_set.teacher.labels, self.distill.templates)
        finally:
            model.train(was_training)
        self.label_embeds = torch.as_tensor(np.asarray(embeds), dtype=torch.float32, device=device)
        self.label_embeds_step = self.step
        return self.label_embeds

    # ------------------------------------------------------------------ logging
    def _log(self, record: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        numeric = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        if self.accelerator.trackers:
            prefix = "eval/" if record.get("type") == "eval" else "train/"
            self.accelerator.log({prefix + k: v for k, v in numeric.items()}, step=record["step"])

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint (they will be produced again)."""
        if not self.accelerator.is_main_process or not self.log_path.exists():
            return
        kept = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the kill
            if record.get("step", 0) <= step:
                kept.append(line)
        text = "".join(line + "\n" for line in kept)
        atomic_write(self.log_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-N`` atomically (temp folder + rename) and keep the last `keep_last`.

        A failed write (full or read-only disk) removes the partial temp folder, keeps the previous checkpoints
        and raises `EnvironmentProblem` saying so (no traceback on the command line)."""
        try:
            return self._save_checkpoint()
        except (OSError, RuntimeError) as err:
            if isinstance(err, EnvironmentProblem):
                raise
            root = self.output_dir / "checkpoints"
            shutil.rmtree(root / f"{TMP_PREFIX}{CHECKPOINT_PREFIX}{self.step:08d}", ignore_errors=True)
            kept = list_checkpoints(self.output_dir)
            space = free_space_note(root if root.is_dir() else self.output_dir)
            raise EnvironmentProblem(
                f"checkpoint write failed at step {self.step} ({write_failure_hint(err)}"
                f"{'; ' + space if space else ''}): {first_line(err)}. "
                + (f"The previous checkpoint {kept[-1]} is intact: free some space and run again with "
                   "--resume latest." if kept else "No earlier checkpoint exists: free some space and start again.")
            ) from err

    def _save_checkpoint(self) -> Path:
        acc = self.accelerator
        root = self.output_dir / "checkpoints"
        final = root / f"{CHECKPOINT_PREFIX}{self.step:08d}"
        tmp = root / f"{TMP_PREFIX}{CHECKPOINT_PREFIX}{self.step:08d}"
        if acc.is_main_process:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
        acc.wait_for_everyone()
        torch.save(to_python(rng_state()), tmp / f"rng_state_{acc.process_index}.pt")
        if self.stream is not None:  # where this rank's shard stream is (positions per worker)
            state = self.stream_loader.state() if getattr(self, "stream_loader", None) else None
            (tmp / f"stream_state_{acc.process_index}.json").write_text(json.dumps(state) + "\n")
        # model + optimizer through accelerate, every process taking part: DDP writes them from rank 0, FSDP and
        # DeepSpeed their shards (each rank its own optimizer state); only trainable weights (pre-hook below)
        acc.save_state(str(tmp), safe_serialization=True)
        if acc.is_main_process:
            torch.save(self.scheduler.state_dict(), tmp / "scheduler.pt")
            if self.label_embeds is not None:  # the stale copy a resumed run must keep using
                torch.save({"step": self.label_embeds_step, "embeds": self.label_embeds.cpu()}, tmp / LABELS_FILE)
            state = {"step": self.step, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                     "samples_seen": self.samples_seen, "total_steps": self.total_steps,
                     "world_size": acc.num_processes, "config_digest": self.config.trajectory_digest(),
                     "mode": self.config.mode, "time": time.time()}
            (tmp / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
        acc.wait_for_everyone()
        if acc.is_main_process:
            fsync_tree(tmp)
            if final.exists():  # the same step saved again (e.g. after a resume): swap it out atomically
                old = root / f"{TMP_PREFIX}old-{final.name}"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
            fsync_dir(root)
            for stale in list_checkpoints(self.output_dir)[: -self.config.keep_last]:
                shutil.rmtree(stale, ignore_errors=True)
        acc.wait_for_everyone()
        return final

    def _trainable_params(self) -> dict[str, nn.Parameter]:
        module = self.accelerator.unwrap_model(self.module)
        return {n: p for n, p in module.named_parameters() if p.requires_grad}

    def _check_trainable(self, names: set[str], path: Path) -> None:
        """Refuse a checkpoint whose trainable weights are not this run's (another model, mode or LoRA set-up)."""
        names = {n.removeprefix("module.") for n in names}
        params = set(self._trainable_params())
        if names != params:
            missing, extra = sorted(params - names), sorted(names - params)
            raise ValueError(f"checkpoint {path} does not match this model / mode (missing {missing[:5]}, "
                             f"unexpected {extra[:5]})")

    def _set_trainable(self, weights: dict[str, torch.Tensor], path: Path) -> None:
        """Copy saved trainable weights into the (unwrapped) module by name."""
        weights = {k.removeprefix("module."): v for k, v in weights.items()}
        self._check_trainable(set(weights), path)
        params = self._trainable_params()
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(weights[name].to(p.device, p.dtype))

    def _load_legacy_weights(self, path: Path) -> None:
        """A checkpoint of the format before save_state: the towers' weights without the module prefix."""
        weights = load_file(str(path / WEIGHTS_FILE))
        self._set_trainable({f"model.{name}": value for name, value in weights.items()}, path)
        self.optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True))

    def _load_checkpoint(self, path: Path) -> None:
        acc = self.accelerator
        state = json.loads((path / STATE_FILE).read_text())
        if state.get("config_digest") != self.config.trajectory_digest():
            logger.warning("resuming %s with a different configuration: the trajectory will differ", path)
        if state.get("world_size") != acc.num_processes:
            logger.warning("checkpoint was written by %s process(es), resuming on %s: the data order changes",
                           state.get("world_size"), acc.num_processes)
        if (path / WEIGHTS_FILE).is_file():  # a checkpoint written before accelerate's save_state was used
            self._load_legacy_weights(path)
        else:
            saved = path / "model.safetensors"  # absent under FSDP / DeepSpeed, which load their own shards
            if saved.is_file():  # refuse another model / mode before the optimizer state is touched
                with safe_open(str(saved), "pt") as f:
                    self._check_trainable(set(f.keys()), path)
            acc.load_state(str(path), strict=False)  # optimizer (and FSDP / DeepSpeed shards); frozen weights absent
            if saved.is_file():  # set by name on the unwrapped module: DDP's "module." prefix is not in the file
                self._set_trainable(load_file(str(saved)), path)
        self.scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        if self.distill is not None and (path / LABELS_FILE).is_file():
            saved = torch.load(path / LABELS_FILE, weights_only=True)
            self.label_embeds = saved["embeds"].to(acc.device)
            self.label_embeds_step = int(saved["step"])
        rng_file = path / f"rng_state_{acc.process_index}.pt"
        if rng_file.exists():
            set_rng_state(torch.load(rng_file, weights_only=True))
        stream_file = path / f"stream_state_{acc.process_index}.json"
        if self.stream is not None and stream_file.exists():
            self.stream_state = json.loads(stream_file.read_text())
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.step_in_epoch, self.samples_seen = int(state["step_in_epoch"]), int(state["samples_seen"])
        self._truncate_log(self.step)
        self._print(f"resumed from {path} (step {self.step}, epoch {self.epoch})")

    # ------------------------------------------------------------------ one step
    def _batch_to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        device = self.accelerator.device
        return {k: to_device(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}

    def training_step(self, micro_batches: Sequence[dict[str, Any]]) -> dict[str, float]:
        """One optimizer step over `micro_batches` (gradient accumulation); returns logged values."""
        acc, cfg = self.accelerator, self.config
        self.module.train()
        total = torch.zeros((), device=acc.device)
        parts = {"contrastive_loss": torch.zeros((), device=acc.device)}
        scale_value = float("nan")
        if self.distill_loss is not None and (
                self.label_embeds is None or self.step - self.label_embeds_step >= self.distill.refresh_every):
            self.refresh_label_embeddings()
        for j, batch in enumerate(micro_batches):
            batch = self._batch_to_device(batch)
            sync = j == len(micro_batches) - 1

            def loss_of(audio: torch.Tensor, text: torch.Tensor, scales: dict[str, torch.Tensor],
                        batch: dict[str, Any] = batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
                loss = self.loss_fn(audio, text, group_ids=batch["group_ids"], **scales)
                logged = {"contrastive_loss": loss.detach().float()}
                if self.distill_loss is not None and self.distill.weight > 0:
                    distill = self.distill_loss(audio, self.label_embeds, batch["teacher_scores"], batch["has_teacher"])
                    logged["distill_loss"] = distill.detach().float()
                    loss = loss + self.distill.weight * distill
                if self.distill_loss is not None and self.distill.composed_weight > 0:
                    composed = self.composed_loss(audio, self.label_embeds, batch["teacher_scores"], batch["has_teacher"])
                    logged["composed_loss"] = composed.detach().float()
                    loss = loss + self.distill.composed_weight * composed
                return loss, logged

            with contextlib.nullcontext() if sync else acc.no_sync(self.module):
                first, second = (batch[key] for key in self.input_keys)
                if cfg.grad_cache_chunk_size:  # the big batch embedded in chunks (grad_cache.py)
                    loss, logged, scales = grad_cache_backward(
                        self.module, first, second, loss_of, cfg.grad_cache_chunk_size,
                        backward=acc.backward, no_sync=lambda: acc.no_sync(self.module),
                        scale=1.0 / len(micro_batches))
                else:
                    audio, text, scales = self.module(first, second)
                    loss, logged = loss_of(audio, text, scales)
                    acc.backward(loss / len(micro_batches))
            for key, value in logged.items():
                parts[key] = parts.get(key, torch.zeros((), device=acc.device)) + value / len(micro_batches)
            total += loss.detach().float()
            scale_value = float(scales["logit_scale"].detach().float().exp())
        grad_norm = None
        if cfg.max_grad_norm:
            grad_norm = acc.clip_grad_norm_(self.trainable, cfg.max_grad_norm)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.clamp_logit_scale()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        mean_loss = acc.reduce(total / len(micro_batches), reduction="mean")
        out = {"loss": float(mean_loss), "lr": float(lr), "logit_scale": scale_value}
        if self.distill_loss is not None:
            out.update({k: float(acc.reduce(v, reduction="mean")) for k, v in parts.items()})
        if grad_norm is not None:
            out["grad_norm"] = float(grad_norm)
        return out

    def clamp_logit_scale(self) -> None:
        """Keep the CLIP log inverse temperature in [0, log(cap)] after each step, as CLIP / open_clip do.

        The loss caps ``exp(logit_scale)`` (100 by default) but that cap has zero gradient above it, so without
        this the parameter could drift past the cap and stop learning. SigLIP's scale has no cap (as in SigLIP).
        """
        caps = [m.max_logit_scale for m in self.loss_fn.modules()
                if isinstance(m, ClipLoss) and m.max_logit_scale is not None]
        if not caps:
            return
        param = loss_scale_kwargs(self.accelerator.unwrap_model(self.module).model, self.loss_type)["logit_scale"]
        if param.requires_grad:
            with torch.no_grad():
                param.clamp_(0.0, math.log(min(caps)))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> dict[str, float] | None:
        """Retrieval metrics on the validation set (main process; the others wait)."""
        if self.val_set is None:
            return None
        acc = self.accelerator
        metrics = None
        if acc.is_main_process:
            model = acc.unwrap_model(self.module).model
            metrics = {}
            for label, dataset in zip(self.val_labels, self.val_sets):
                scores = evaluate_retrieval(model, self.processor, dataset, self.config.eval_batch_size,
                                            num_workers=min(self.config.num_workers, 2),
                                            dims=self.matryoshka_dims, autocast=acc.autocast)
                metrics.update({(f"{label}/{k}" if label else k): v for k, v in scores.items()})
            self._log({"type": "eval", "step": self.step, "epoch": self.epoch, **metrics})
        if acc.num_processes > 1:  # every rank returns the metrics
            from accelerate.utils import broadcast_object_list

            metrics = broadcast_object_list([metrics])[0]
        acc.wait_for_everyone()
        return metrics

    # ------------------------------------------------------------------ the loop
    def _loader(self, epoch: int, skip_batches: int) -> DataLoader | StreamLoader:
        cfg = self.config
        if cfg.num_workers:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the collator tokenizes in forked workers
        if self.stream is not None:  # shards: continue the stream where the checkpoint left it
            self.stream_loader = StreamLoader(self.stream, self.collator, epoch, skip_batches, self.stream_state,
                                              pin_memory=self.accelerator.device.type == "cuda")
            return self.stream_loader
        self.train_set.set_epoch(epoch)
        batches = self.sampler.batches(epoch)[: self.steps_per_epoch * cfg.grad_accum_steps][skip_batches:]
        return DataLoader(
            self.train_set, batch_sampler=batches, collate_fn=self.collator, num_workers=cfg.num_workers,
            **loader_kwargs(cfg.num_workers),  # workers die with this process, even under SIGKILL
            pin_memory=self.accelerator.device.type == "cuda",
            generator=torch.Generator().manual_seed(cfg.seed + epoch),  # leaves the global RNG untouched
        )

    def fit(self) -> TrainResult:
        """Run (or resume) the whole training; returns where everything was written."""
        self.setup()
        cfg, acc = self.config, self.accelerator

        initial = None
        if cfg.eval_at_start and self.step == 0:
            initial = self.evaluate()
        final_metrics, evaluated_at = None, -1
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True,
                   disable=not (cfg.progress and acc.is_main_process))
        per_step = cfg.batch_size * cfg.grad_accum_steps * acc.num_processes
        while self.step < self.total_steps:
            iterator = iter(self._loader(self.epoch, self.step_in_epoch * cfg.grad_accum_steps))
            while self.step_in_epoch < self.steps_per_epoch and self.step < self.total_steps:
                start = time.perf_counter()
                values = self.training_step([next(iterator) for _ in range(cfg.grad_accum_steps)])
                elapsed = time.perf_counter() - start
                self.step += 1
                self.step_in_epoch += 1
                self.samples_seen += per_step
                if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                    self._log({"type": "train", "step": self.step,
                               "epoch": round(self.epoch + self.step_in_epoch / self.steps_per_epoch, 4),
                               **values, "samples_per_s": round(per_step / elapsed, 2)})
                bar.update(1)
                bar.set_postfix(loss=f"{values['loss']:.4f}", lr=f"{values['lr']:.2e}")
                end_of_epoch = self.step_in_epoch == self.steps_per_epoch
                last = self.step == self.total_steps
                if cfg.eval_every is None:
                    due = end_of_epoch or last
                else:
                    due = bool(cfg.eval_every) and (self.step % cfg.eval_every == 0 or last)
                if due:
                    final_metrics, evaluated_at = self.evaluate(), self.step
                if end_of_epoch:
                    self.epoch += 1
                    self.step_in_epoch = 0
                save_due = end_of_epoch if cfg.save_every is None else self.step % cfg.save_every == 0
                if save_due or last:
                    self.save_checkpoint()
                if self.step_delay:
                    time.sleep(self.step_delay)
                if end_of_epoch:
                    break
            del iterator
        bar.close()
        if evaluated_at != self.step and self.val_set is not None:  # same decision on every rank
            final_metrics = self.evaluate()
        model_dir, adapter_dir = self.save_final()
        if not cfg.keep_checkpoints and acc.is_main_process:
            shutil.rmtree(self.output_dir / "checkpoints", ignore_errors=True)
        if acc.trackers:
            acc.end_training()
        return TrainResult(self.output_dir, self.step, model_dir, adapter_dir, initial, final_metrics, self.log_path,
                           model=acc.unwrap_model(self.module).model, processor=self.processor)

    # ------------------------------------------------------------------ final artefacts
    def save_final(self) -> tuple[Path | None, Path | None]:
        """Full model folder (merged for LoRA when ``merge_lora``) and, for LoRA, the adapter folder; a failed
        write raises `EnvironmentProblem` naming the checkpoint kept to resume from."""
        try:
            return self._save_final()
        except (OSError, RuntimeError) as err:
            if isinstance(err, EnvironmentProblem):
                raise
            kept = list_checkpoints(self.output_dir)
            raise EnvironmentProblem(
                f"writing the trained model failed ({write_failure_hint(err)}): {first_line(err)}. "
                + (f"The last checkpoint {kept[-1]} is intact: free some space and run again with --resume latest."
                   if kept else "")
            ) from err

    def _save_final(self) -> tuple[Path | None, Path | None]:
        cfg, acc = self.config, self.accelerator
        acc.wait_for_everyone()
        model = acc.unwrap_model(self.module).model
        model_dir = cfg.resolved_path(cfg.final_model_dir, "final")
        adapter_dir = None
        if acc.is_main_process:
            if cfg.mode == "lora":

                adapter_dir = cfg.resolved_path(cfg.final_adapter_dir, "adapter")
                save_adapter(model, self.processor, adapter_dir, self.base_ref, base_fingerprint=self.base_fingerprint,
                             metadata={"mode": cfg.mode, "scope": cfg.scope, "loss": self.loss_type,
                                       "steps": self.step, "lora_r": cfg.lora_r})
                if cfg.merge_lora:
                    save_model_folder(copy.deepcopy(model).merge_and_unload(), self.processor, model_dir)
                else:
                    model_dir = None
            else:
                save_model_folder(model, self.processor, model_dir)
            self._print(f"saved {'adapter ' + str(adapter_dir) if adapter_dir else ''}"
                        f"{' and ' if adapter_dir and model_dir else ''}{'model ' + str(model_dir) if model_dir else ''}")
        else:
            model_dir = model_dir if cfg.mode != "lora" or cfg.merge_lora else None
            adapter_dir = cfg.resolved_path(cfg.final_adapter_dir, "adapter") if cfg.mode == "lora" else None
        acc.wait_for_everyone()
        return model_dir, adapter_dir


def train(config: TrainingConfig, resume: str | os.PathLike | None = None, step_delay: float = 0.0) -> TrainResult:
    """Train (or resume) a run; see `ContrastiveTrainer`."""
    return ContrastiveTrainer(config, resume=resume, step_delay=step_delay).fit()


__all__ = [
    "ContrastiveTrainer",
    "DualEncoderModule",
    "TrainResult",
    "load_training_model",
    "parameter_groups",
    "resolve_loss",
    "train",
]
