"""Plain constants shared by the library and the command line, in a module that imports nothing, so that
`wavlink --help` can show them without loading torch or transformers (the commands import their heavy
dependencies only when they run)."""

# `wavlink finetune` / `wavlink.training.finetune`: defaults sized for users' small sets (tens to a few hundred
# clips): a step budget, not a bare epoch count. Three epochs of 36 clips are 6 optimiser steps, which teach a
# LoRA nothing; at least FINETUNE_MIN_STEPS steps (more epochs when the set is small) at a LoRA learning rate do.
# Measured with scripts/real_model/finetune_check.py (README, "Finetuning": 23.8% -> 93.8% zero-shot on 10
# unseen classes, 320 clips, 9.2 min on 2 CPU cores).
FINETUNE_MIN_STEPS = 150
FINETUNE_EPOCHS = 3
FINETUNE_LORA_LR = 5e-4
FINETUNE_BATCH_SIZE = 16
