#!/usr/bin/env python
"""LoRA-finetune a model on your own captioned audio (same as `wavlink finetune`).

Your data: a CSV (or JSONL) with ``audio`` (path relative to the CSV) and ``caption`` columns, several rows
per clip allowed, an optional ``split`` column (train / validation / test); or a folder with
``metadata.csv`` (``file_name``, ``caption``)::

    python scripts/finetune.py --model org/wavlink-base --data my_sounds/captions.csv --out my-adapter --merge
    accelerate launch --num-processes 4 scripts/finetune.py --model ... --data ... --out ... --bf16

Then ``PeftModel.from_pretrained(AutoModel.from_pretrained(base, trust_remote_code=True), "my-adapter")`` or
``SentenceTransformer("my-adapter", trust_remote_code=True)``; ``my-adapter/merged`` is a standalone model.
"""

from __future__ import annotations

import sys

from wavlink.cli import main

if __name__ == "__main__":
    sys.exit(main(["finetune", *sys.argv[1:]]))
