"""`TrainingConfig`: every knob of a run in one validated, serialisable place (YAML or JSON files).

Defaults follow the WavLink paper where it speaks (AdamW, lr 1e-4, cosine schedule with 5% warmup, 3 epochs,
bf16 in the scaled runs, CLIP loss, Matryoshka over d..d/8) and are marked "paper silent" where this package
chose: weight decay 0.01 (not applied to biases, norms, the global token and the loss scales), AdamW betas
(0.9, 0.98) and eps 1e-6 (open_clip's contrastive defaults), gradient clipping at norm 1.0, 10 s random training
crops, every caption of a clip used once per epoch (``caption_sampling: all``).

``objective`` says what a batch holds: ``audio_text`` (default: audio-caption pairs, both towers) or
``text_pairs``, the Jina blog's text-only modality transfer: (anchor, positive) text pairs (NLI-style files read
by `wavlink.data.text_pairs`) through the text path only, with the same contrastive loss, the audio side frozen
(``scope`` becomes ``text``); ``eval_data`` stays audio-caption retrieval, the transfer being the point. The
blog's finding: on the full Qwen2.5-Omni-7B it reached AudioCaps T2A cvR@5 46.1 (above CLAP's 42.0), on a
10-layer pruned model 5.9: the cross-modal alignment lives across all layers and does not survive pruning.
``mode`` keeps its meaning (full / lora / projector) for the text side.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..families import FAMILIES
from .augment import AugmentConfig
from .dataset import CAPTION_SAMPLING, ON_ERROR
from .distill import DistillConfig
from .recipe import MODES, SCOPES, parse_towers

MIXED_PRECISION = ("no", "bf16", "fp16")
OBJECTIVES = ("audio_text", "text_pairs")

# Fields that change the optimisation trajectory: a resumed run warns when they differ from the checkpoint's.
TRAJECTORY_FIELDS = (
    "model", "preset", "init_audio", "init_text", "train_data", "objective", "mode", "scope", "lora_r", "lora_alpha",
    "lora_towers", "loss", "matryoshka_dims", "epochs", "max_steps", "min_steps", "batch_size", "grad_accum_steps",
    "lr", "weight_decay", "betas", "eps", "warmup_ratio", "warmup_steps", "max_grad_norm", "mixed_precision", "seed",
    "max_train_seconds", "caption_sampling", "augment", "distill",
)


@dataclass
class TrainingConfig:
    """A training run. Exactly one model source: ``model``, ``preset`` or ``init_audio`` + ``init_text``."""

    # --- model source
    model: str | None = None  # model folder or Hub id (wavlink / omni: the package's classes, no folder code)
    trust_remote_code: bool = False  # let a `model` of another type run the code of its folder (never needed here)
    preset: str | None = None  # random initialisation of a preset (tests, benchmarks)
    family: str = "wavlink"  # family of `preset` / `init_*`: wavlink | omni
    tokenizer: str | None = None  # tokenizer for `preset` (e.g. "byte-level")
    init_audio: str | None = None  # build from pretrained parts: Whisper (wavlink) / audio encoder (omni)
    init_text: str | None = None  # text encoder (wavlink) / LLM (omni)
    config_overrides: dict[str, Any] = field(default_factory=dict)  # for preset / init builds
    # --- data
    # audio_text: audio-caption pairs; text_pairs: (anchor, positive) text files, text path only (module docstring)
    objective: str = "audio_text"
    # manifests, audio folders, {"hf": ...} dicts, shards; text-pair files ({"pairs": ...}) for text_pairs
    train_data: list[Any] = field(default_factory=list)
    eval_data: list[Any] | None = None  # None: the validation split of train_data, if any
    val_fraction: float = 0.0  # hold out this fraction of training clips when there is no validation split
    on_bad_audio: str = "fail"  # fail | skip (missing / unreadable audio)
    deep_audio_check: bool = False  # decode every file during validation (slow), not only the header
    max_train_seconds: float | None = 10.0  # random crop window (paper silent)
    max_eval_seconds: float | None = None  # None: whole clips at evaluation (the model chunks long audio)
    caption_sampling: str = "all"  # all | random (paper silent)
    augment: dict[str, Any] = field(default_factory=dict)  # training augmentation (augment.AugmentConfig)
    distill: dict[str, Any] | None = None  # teacher soft-label distillation (distill.DistillConfig)
    num_workers: int = 2
    shuffle_buffer: int = 1000  # samples in the shuffle buffer of each shard reader (WebDataset shards only)
    bucket_size: int | None = None  # examples per length bucket (default 50 batches)
    # --- recipe
    stage: int | None = None  # 1 or 2 (the paper's two-stage recipe); informational + checked by the CLI
    mode: str = "full"  # projector | lora | full
    scope: str = "both"  # both | audio | text (text_pairs always trains the text side only)
    lora_r: int = 8
    lora_alpha: float | None = None  # default 2 * r (paper silent)
    lora_dropout: float = 0.0
    lora_towers: list[str] | None = None  # default: the scope's towers
    loss: str | None = None  # clip | siglip | clip+siglip; default: the model config's loss_type
    matryoshka_dims: Any = "auto"  # "auto": config.matryoshka_dims when config.matryoshka_loss; null: off
    matryoshka_weights: list[float] | None = None
    loss_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"chunk_size": 1024}
    # --- optimisation
    epochs: int = 3
    max_steps: int | None = None  # stop after this many optimizer steps (schedule sized to it)
    min_steps: int | None = None  # at least this many optimizer steps: more epochs on a small set
    batch_size: int = 32  # per process; global batch = batch_size x processes (x grad_accum_steps)
    grad_accum_steps: int = 1  # note: negatives come from one micro-batch; for more, use grad_cache_chunk_size
    # GradCache (grad_cache.py): embed each batch in chunks of this many rows without graphs, loss on the whole
    # batch, back-propagate chunk by chunk; same loss and gradients, one chunk's activation memory. None: off.
    grad_cache_chunk_size: int | None = None
    recipe_global_batch: int | None = None  # the recipe's contrastive batch (paper: 768); a run warns if it differs
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    warmup_ratio: float = 0.05
    warmup_steps: int | None = None  # overrides warmup_ratio
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "no"  # no | bf16 | fp16
    gradient_checkpointing: bool = False
    find_unused_parameters: bool = False
    seed: int = 0
    # --- evaluation, checkpoints, logging
    output_dir: str = "runs/wavlink"
    eval_every: int | None = None  # optimizer steps; None: end of each epoch; 0: only after the last step
    eval_at_start: bool = False
    eval_batch_size: int = 32
    save_every: int | None = None  # optimizer steps; None: end of each epoch
    keep_last: int = 2  # checkpoints kept
    log_every: int = 1
    trackers: list[str] = field(default_factory=list)  # tensorboard, wandb, ... (used only if installed)
    project_name: str = "wavlink"
    progress: bool = True
    final_model_dir: str | None = None  # default <output_dir>/final (merged when LoRA)
    final_adapter_dir: str | None = None  # LoRA only; default <output_dir>/adapter
    merge_lora: bool = True  # also write the merged full model at the end of a LoRA run
    keep_checkpoints: bool = True  # False: delete checkpoints/ once the final artefacts are written
    overwrite_output_dir: bool = False  # a fresh run in a folder with checkpoints needs this (or resume)

    def global_batch_warning(self, num_processes: int) -> str | None:
        """A sentence when batch_size x processes (the negatives of one contrastive loss; accumulation does
        not add any) differs from `recipe_global_batch`, with the per-process size that would match."""
        if not self.recipe_global_batch:
            return None
        negatives = self.batch_size * num_processes
        if negatives == self.recipe_global_batch:
            return None
        per_process = self.recipe_global_batch / num_processes
        hint = (f"batch_size={int(per_process)}" if per_process.is_integer()
                else f"a process count that divides {self.recipe_global_batch}")
        return (f"global contrastive batch {self.batch_size} x {num_processes} process(es) = {negatives} differs "
                f"from the recipe's {self.recipe_global_batch} (gradient accumulation adds no negatives); for the "
                f"recipe use {hint}")

    def __post_init__(self) -> None:
        self._coerce_numbers()
        self.validate()

    def _coerce_numbers(self) -> None:
        """YAML 1.1 reads '3e-4' as a string; accept numeric strings for numeric fields."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = str(f.type).split(" |")[0]
            if isinstance(value, str) and kind in ("float", "int"):
                try:
                    setattr(self, f.name, float(value) if kind == "float" else int(value))
                except ValueError:
                    raise ValueError(f"{f.name} must be a number, got {value!r}") from None

    def validate(self) -> None:
        """Reject impossible settings early, naming the field."""
        sources = [bool(self.model), bool(self.preset), bool(self.init_audio or self.init_text)]
        if sum(sources) != 1:
            raise ValueError("give exactly one model source: model, preset, or init_audio + init_text")
        if (self.init_audio or self.init_text) and not (self.init_audio and self.init_text):
            raise ValueError("init_audio and init_text go together")
        choices = {"family": (self.family, tuple(FAMILIES)), "objective": (self.objective, OBJECTIVES),
                   "mode": (self.mode, MODES), "scope": (self.scope, SCOPES),
                   "mixed_precision": (self.mixed_precision, MIXED_PRECISION),
                   "on_bad_audio": (self.on_bad_audio, ON_ERROR),
                   "caption_sampling": (self.caption_sampling, CAPTION_SAMPLING)}
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {allowed}")
        if self.objective == "text_pairs":
            self._validate_text_pairs()
        if self.mode == "lora":
            parse_towers(self.lora_towers, self.scope)
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "grad_accum_steps": self.grad_accum_steps,
                    "eval_batch_size": self.eval_batch_size, "keep_last": self.keep_last, "lora_r": self.lora_r,
                    "log_every": self.log_every}
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be positive, got {self.max_steps}")
        if self.min_steps is not None and self.min_steps < 1:
            raise ValueError(f"min_steps must be positive, got {self.min_steps}")
        if self.grad_cache_chunk_size is not None and (
                not isinstance(self.grad_cache_chunk_size, int) or self.grad_cache_chunk_size < 1):
            raise ValueError(f"grad_cache_chunk_size must be a positive integer or null, got {self.grad_cache_chunk_size!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.stage not in (None, 1, 2):
            raise ValueError(f"stage must be 1 or 2, got {self.stage!r}")
        if isinstance(self.train_data, (str, dict)):
            self.train_data = [self.train_data]
        if isinstance(self.eval_data, (str, dict)):
            self.eval_data = [self.eval_data]
        if not self.train_data:
            raise ValueError("train_data is empty: give at least one manifest, audio folder or dataset")
        if isinstance(self.trackers, str):
            self.trackers = [t for t in self.trackers.split(",") if t]
        self.augment = AugmentConfig.from_dict(self.augment).to_dict()
        if self.distill is not None:
            self.distill = DistillConfig.from_dict(self.distill).to_dict()
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if len(self.betas) != 2:
            raise ValueError(f"betas must be two numbers, got {self.betas}")

    def _validate_text_pairs(self) -> None:
        """Text-only transfer: the audio side is frozen, and audio-only options have nothing to act on."""
        if self.scope == "audio":
            raise ValueError("objective text_pairs trains the text side only; scope 'audio' contradicts it")
        self.scope = "text"
        if self.distill is not None:
            raise ValueError("distill needs audio batches; it cannot be used with objective text_pairs")
        if self.augment and AugmentConfig.from_dict(self.augment) != AugmentConfig():
            raise ValueError("augment acts on audio batches; it cannot be used with objective text_pairs")
        if self.val_fraction:
            raise ValueError("val_fraction holds out audio clips; with objective text_pairs give audio-caption "
                             "manifests as eval_data instead")

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; valid options: {sorted(names)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def trajectory_digest(self) -> str:
        """Hash of the fields that shape the trajectory (stored in checkpoints)."""
        sub = {k: self.to_dict()[k] for k in TRAJECTORY_FIELDS}
        if sub["objective"] == "audio_text":  # the default: digests of checkpoints older than the field stay valid
            del sub["objective"]
        return hashlib.sha256(json.dumps(sub, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def augment_config(self) -> AugmentConfig:
        return AugmentConfig.from_dict(self.augment)

    @property
    def distill_config(self) -> DistillConfig | None:
        return DistillConfig.from_dict(self.distill)

    def resolved_path(self, value: str | None, default: str) -> Path:
        return Path(value) if value else Path(self.output_dir) / default


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML (needs PyYAML) or JSON mapping."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as err:  # pragma: no cover - PyYAML ships with accelerate
            raise ValueError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or use a .json config") from err
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the config must be a mapping of option: value")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """'key=value' with a YAML/JSON-typed value ('lr=3e-4', 'trackers=[tensorboard]', 'eval_data=null')."""
    if "=" not in item:
        raise ValueError(f"--set expects key=value, got {item!r}")
    key, raw = item.split("=", 1)
    try:
        import yaml

        value = yaml.safe_load(raw)
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                pass
    except ImportError:  # pragma: no cover
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
    return key.strip(), value


def load_config(
    path: str | os.PathLike, stage: int | None = None, overrides: dict[str, Any] | None = None
) -> TrainingConfig:
    """Read a config file; relative data/model paths are resolved against the file's folder when they exist there.

    A file may hold one stage (optionally with ``stage: N``, which must match `stage`) or several under
    ``stages: {1: {...}, 2: {...}}`` with shared options at the top level (`stage` then picks one).
    """
    path = Path(path)
    data = read_config_file(path)
    stages = data.pop("stages", None)
    if stages is not None:
        stages = {int(k): v for k, v in stages.items()}
        if stage is None:
            raise ValueError(f"{path} defines stages {sorted(stages)}; choose one with --stage")
        if stage not in stages:
            raise ValueError(f"{path} has no stage {stage} (stages: {sorted(stages)})")
        data = {**data, **stages[stage], "stage": stage}
    elif stage is not None:
        declared = data.get("stage")
        if declared is not None and int(declared) != int(stage):
            raise ValueError(f"{path} is a stage-{declared} config but --stage {stage} was given")
        data["stage"] = stage
    data.update(overrides or {})
    return TrainingConfig.from_dict(_resolve_paths(data, path.parent))


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths in a config file are relative to the current directory, or else to the config's folder."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and not os.path.isabs(value) and not os.path.exists(value):
            candidate = base / value
            if candidate.exists():
                return str(candidate)
        return value

    out = dict(data)
    if out.get("model"):
        out["model"] = fix(out["model"])
    for key in ("train_data", "eval_data"):
        value = out.get(key)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        fixed = []
        for item in items:
            if isinstance(item, dict):
                item = {k: fix(v) if k in ("manifest", "audiofolder", "hf") else v for k, v in item.items()}
            else:
                item = fix(item)
            fixed.append(item)
        out[key] = fixed
    if isinstance(out.get("distill"), dict) and out["distill"].get("teacher"):
        out["distill"] = {**out["distill"], "teacher": fix(out["distill"]["teacher"])}
    return out


__all__ = ["TrainingConfig", "load_config", "parse_override", "read_config_file"]
