#!/usr/bin/env python
"""Evaluate a model on a benchmark: the same function and arguments as `wavlink eval`.

    python scripts/run_eval.py --model DIR_OR_ID --task clotho --data data/clotho --output clotho.json
"""

from __future__ import annotations

import sys

from wavlink.commands.eval import main

if __name__ == "__main__":
    sys.exit(main())
