"""Training and finetuning of audio-text dual encoders (WavLinkModel, OmniAudioEmbedder).

Quick start (one's own data: a CSV with ``audio,caption`` columns, paths relative to the CSV)::

    from wavlink.training import finetune, load_adapter
    result = finetune("path/or/hub-id", "my_data/captions.csv", "my-adapter", epochs=3, merge=True)
    model, processor = load_adapter("my-adapter")     # PeftModel on the recorded base

    from wavlink.training import TrainingConfig, train, load_config
    train(load_config("scripts/configs/wavlink-base-stage1.yaml", stage=1))

Command line: ``wavlink finetune ...`` and ``wavlink train --stage 1 --config FILE`` (multi-GPU:
``accelerate launch scripts/train.py ...`` or ``torchrun --nproc-per-node 8 scripts/train.py ...``).
"""

from ..data.records import read_audiofolder, read_manifest
from ..model_identity import architecture_fingerprint
from .adapter import check_adapter_base, load_adapter, merge_adapter, save_adapter
from .batching import AudioCaptionCollator, LengthBucketBatchSampler
from .checkpoints import list_checkpoints
from .config import TrainingConfig, load_config
from .dataset import AudioCaptionDataset, DataReport
from .finetune import finetune
from .recipe import MODES, SCOPES, apply_training_mode, describe_trainable, lora_target_regex
from .trainer import ContrastiveTrainer, TrainResult, train
from .validation import evaluate_retrieval

__all__ = [
    "MODES",
    "SCOPES",
    "AudioCaptionCollator",
    "AudioCaptionDataset",
    "ContrastiveTrainer",
    "DataReport",
    "LengthBucketBatchSampler",
    "TrainResult",
    "TrainingConfig",
    "apply_training_mode",
    "architecture_fingerprint",
    "check_adapter_base",
    "describe_trainable",
    "evaluate_retrieval",
    "finetune",
    "list_checkpoints",
    "load_adapter",
    "load_config",
    "lora_target_regex",
    "merge_adapter",
    "read_audiofolder",
    "read_manifest",
    "save_adapter",
    "train",
]
