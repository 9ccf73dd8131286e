#!/usr/bin/env python
"""Publish WavLink / OmniAudioEmbedder repos to the Hugging Face Hub; same as `wavlink push`.

    python scripts/push_to_hub.py --all-sizes --org my-org --dry-run hub_out --tiny-standins
    python scripts/push_to_hub.py --model out/base --repo my-org/wavlink-base

See `wavlink push --help` and docs/publishing.md.
"""

from __future__ import annotations

import sys

from wavlink.cli import main

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
