"""Train the package's default WavLink model from real pip parts on real audio, and export its delta.

    python scripts/real_model/train_default.py [--fsdd PATH] [--bf16] [--device cuda]

One command, every step resumable (a step whose output exists is skipped; the long ones checkpoint inside):
1. data: `build_data.py` -> runs/data: ~20 h of licence-clear real audio from Debian packages, speech, GM
   renders and ESC-50 (minus the held-out classes), every clip scored by the YAMNet teacher;
2. base: Whisper base + all-MiniLM-L6-v2, projection 384, text projection frozen to the PCA rotation of
   MiniLM's caption space (below), `global_token_layer=-1` (the token joins in Whisper's last layer, so the five
   layers below are plain Whisper and can be cached) -> runs/real/base;
3. text: the frozen text side embedded once: every training caption, the teacher's 521 class names;
4. prefix cache: the frame states entering the last layer, once per clip (`wavlink.training.prefix_cache`);
5. head stage (`wavlink.training.head`): the global token, the last Whisper layer, the final norm and the audio
   projection train for many epochs on the cache: CLIP loss on captions + cosine to the teacher-composed
   embedding + KL over the teacher's class names, Matryoshka 384/192/96/48 -> runs/real/head/final;
6. LoRA stage: the package trainer, LoRA on every Whisper layer from the head's model, on the raw audio with
   augmentation and the same three losses, a short run -> runs/real/lora/final;
7. export: the trained tensors + the LoRA factors -> wavlink/assets/default/ (or --export-dir), assembled from
   scratch and checked to reproduce the trained model.

Why the text projection is a rotation and frozen: MiniLM already orders captions sensibly; the audio tower is
what has to learn. An orthogonal matrix keeps every cosine of MiniLM's space (so the teacher-composed target is
exactly the zero-training baseline's embedding), and taking it from the principal axes of the training captions
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
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROJECTION_DIM = 384
LABEL_TEMPLATE = "the sound of {}."
# exported tensors: from the final model / from the head stage's model (the LoRA stage adds its factors on top)
TRAINED = ["global_token", "audio_projection.weight", "audio_projection.bias", "text_projection.weight",
           "logit_scale"]
HEAD_ONLY = ["audio_model.layer_norm.weight", "audio_model.layer_norm.bias"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------- base model


def caption_texts(data: Path, labels: list[str]) -> list[str]:
    with open(data / "train.csv", newline="") as f:
        texts = sorted({row["caption"] for row in csv.DictReader(f) if row["split"] == "train"})
    return texts + [LABEL_TEMPLATE.format(x.lower()) for x in labels]


def pca_rotation(embeddings: np.ndarray) -> np.ndarray:
    """Orthogonal (d, d) matrix whose rows are the principal axes of unit-norm `embeddings` (uncentred, so the
    common direction shared by all captions comes first), signs fixed for determinism."""
    x = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(x.astype(np.float64), full_matrices=True)
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
    return (vt * signs[:, None]).astype(np.float32)


def encode_texts(model, processor, texts: list[str], batch: int = 256):
    import torch

    out = []
    device = next(model.parameters()).device
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            inputs = processor(text=texts[i:i + batch], return_tensors="pt", padding=True)
            out.append(model.get_text_features(input_ids=inputs["input_ids"].to(device),
                                               attention_mask=inputs["attention_mask"].to(device)).pooler_output.cpu())
    return torch.cat(out)


def build_base(out: Path, data: Path, labels: list[str]) -> None:
    import torch

    from wavlink.builders import default_model as dm
    from wavlink.builders.folder import save_model_folder

    with tempfile.TemporaryDirectory() as tmp:
        model, processor = dm.build_untrained(PROJECTION_DIM, tmp, global_token_layer=-1)
        model.eval()
        with torch.no_grad():
            model.text_projection.weight.copy_(torch.eye(PROJECTION_DIM))  # read MiniLM's space as it is
            rotation = pca_rotation(encode_texts(model, processor, caption_texts(data, labels)).numpy())
            model.text_projection.weight.copy_(torch.from_numpy(rotation))
        log("base: text projection = PCA rotation of the training captions and teacher label names")
        save_model_folder(model, processor, out)


# ---------------------------------------------------------------------------------------------- data tables


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def training_table(data: Path) -> tuple[list[str], dict[str, list[str]], list[str], list[str]]:
    """(training clips, captions per clip, validation clips, their captions) from train.csv (paths resolved)."""
    captions: dict[str, list[str]] = defaultdict(list)
    split = {}
    for row in read_rows(data / "train.csv"):
        path = str((data / row["audio"]).resolve())
        captions[path].append(row["caption"])
        split[path] = row["split"]
    train = sorted(p for p in captions if split[p] == "train")
    val = sorted(p for p in captions if split[p] == "validation")
    return train, captions, val, [captions[p][0] for p in val]


def eval_sets(data: Path) -> dict[str, list[tuple[str, str]]]:
    """(audio path, label) of each zero-shot evaluation set."""
    sets = {}
    for name, file in (("esc50_unseen", "esc50_unseen_zeroshot.csv"), ("esc50_fold5", "esc50_fold5_zeroshot.csv"),
                       ("timgm6mb", "timgm6mb_instruments.csv"), ("animals", "animals_cc0.csv")):
        path = data / "eval" / file
        if path.is_file():
            rows = read_rows(path)
            sets[name] = [(str((data / r["audio"]).resolve()) if not os.path.isabs(r["audio"]) else r["audio"],
                           r["label"]) for r in rows]
    return sets


def load_wave(path: str) -> np.ndarray:
    from wavlink.remote_code.audio_utils import load_audio_file

    return load_audio_file(path, 16000)


# ---------------------------------------------------------------------------------------------- head stage


def head_stage(args, base: Path, data: Path, out: Path, shared: Path) -> Path:
    """Steps 3-5: `shared` holds what does not depend on the head's settings (text embeddings, prefix cache)."""
    import torch

    from wavlink.builders.folder import save_model_folder
    from wavlink.inference import Embedder
    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates
    from wavlink.training.distill import TeacherScores
    from wavlink.training.head import HeadConfig, HeadData, HeadTrainer, cache_embeddings
    from wavlink.training.prefix_cache import PrefixCache

    final = out / "final"
    if (final / "model.safetensors").is_file():
        return final
    embedder = Embedder.load(base, device=args.device)
    model, processor = embedder.model, embedder.processor
    train, captions, val, val_captions = training_table(data)
    sets = eval_sets(data)
    teacher = TeacherScores.load(data / "teacher.npz")

    # 3. text side, once
    text_file = shared / "text.pt"
    out.mkdir(parents=True, exist_ok=True)
    unique = sorted({c for p in train for c in captions[p]} | set(val_captions))
    if text_file.is_file():
        text = torch.load(text_file, weights_only=True)
    else:
        log(f"text: embedding {len(unique)} captions and {len(teacher.labels)} teacher labels")
        text = {"captions": encode_texts(model, processor, unique),
                "labels": encode_texts(model, processor, [LABEL_TEMPLATE.format(x.lower()) for x in teacher.labels])}
        torch.save(text, text_file)
    caption_id = {c: i for i, c in enumerate(unique)}

    # 4. prefix cache of every clip the stage trains or evaluates on
    eval_paths = [p for rows in sets.values() for p, _ in rows]
    paths = list(dict.fromkeys(train + val + eval_paths))

    def features(waves):
        return processor(audio=waves, sampling_rate=16000, return_tensors="pt")

    start = time.time()
    cache = PrefixCache.build(model, features, paths, shared / "prefix", load_wave, batch_size=16,
                              autocast_dtype=torch.bfloat16 if args.bf16_cache else None, device=args.device)
    log(f"prefix cache: {len(cache)} clips ready ({time.time() - start:.0f} s this run)")

    rows = [cache.index[p] for p in train]
    scores = np.stack([teacher.scores[teacher.row(p)] if teacher.row(p) >= 0 else np.zeros(len(teacher.labels))
                       for p in train]).astype(np.float32)
    head_data = HeadData(rows=rows, captions=[[caption_id[c] for c in captions[p]] for p in train],
                         caption_embeds=text["captions"], teacher_scores=torch.from_numpy(scores),
                         label_embeds=text["labels"])

    # label prompts of the evaluation sets (the package's template ensemble, as `wavlink eval` uses)
    def encode(prompts):
        return encode_texts(model, processor, list(prompts)).numpy()

    prompts = {name: sorted({label for _, label in rows_}) for name, rows_ in sets.items()}
    prompt_embeds = {name: torch.as_tensor(np.asarray(class_embeddings_from_templates(
        encode, [" ".join(x.replace("_", " ").split()) for x in labels], DEFAULT_TEMPLATES)))
        for name, labels in prompts.items()}
    val_rows = [cache.index[p] for p in val]
    val_text = text["captions"][[caption_id[c] for c in val_captions]]

    def evaluate(m) -> dict:
        result = {}
        if val_rows:
            a = cache_embeddings(m, cache, val_rows)
            ranks = (val_text @ a.T).argsort(dim=1, descending=True)
            hit = (ranks[:, :5] == torch.arange(len(val_rows))[:, None]).any(1).float().mean()
            result["val_t2a_R@5"] = round(float(hit), 4)
        for name, rows_ in sets.items():
            a = cache_embeddings(m, cache, [cache.index[p] for p, _ in rows_])
            truth = torch.tensor([prompts[name].index(label) for _, label in rows_])
            result[f"{name}_top1"] = round(float(((a @ prompt_embeds[name].T).argmax(1) == truth).float().mean()), 4)
        return result

    # the teacher-composed baseline on the same cache rows and prompts (what the student has to beat)
    config = HeadConfig(epochs=args.head_epochs, batch_size=args.head_batch, lr=args.head_lr,
                        contrastive_weight=args.contrastive_weight, composed_weight=args.composed_weight,
                        label_weight=args.label_weight,
                        autocast_bf16=args.bf16, device=args.device, output_dir=str(out))
    trainer = HeadTrainer(model, cache, head_data, config)
    log(f"head stage: {len(rows)} training clips, {trainer.steps_per_epoch} steps/epoch of {config.batch_size}, "
        f"{config.epochs} epochs; trainable {sum(p.numel() for p in trainer.params.values()) / 1e6:.2f} M")
    if not trainer.log_file.is_file():
        log("before training: " + json.dumps(evaluate(model)))
    trainer.fit(evaluate=evaluate, log=log)
    save_model_folder(model, processor, final)
    return final


# ---------------------------------------------------------------------------------------------- LoRA stage


def lora_config(args, head_model: Path, out: Path):
    from wavlink.training.config import TrainingConfig

    return TrainingConfig.from_dict({
        "model": str(head_model), "train_data": [str(Path(args.data) / "train.csv")], "mode": "lora", "scope": "audio",
        "loss": "clip", "matryoshka_dims": [384, 192, 96, 48], "batch_size": args.lora_batch, "lr": args.lora_lr,
        "lora_r": 16, "max_steps": args.lora_steps, "warmup_ratio": 0.05, "max_train_seconds": 10.0,
        "caption_sampling": "random", "num_workers": 1, "keep_last": 1, "save_every": 25, "eval_every": 0,
        "mixed_precision": "bf16" if args.bf16 else "no",
        "augment": {"gain_db": 6.0, "noise_p": 0.3, "noise_snr_db": [10, 30], "pitch_p": 0.3,
                    "pitch_semitones": 2.0, "mix_p": 0.0},
        "distill": {"teacher": str(Path(args.data) / "teacher.npz"), "weight": args.label_weight, "temperature": 0.1,
                    "top_k": 10, "templates": [LABEL_TEMPLATE], "refresh_every": 1000000, "matryoshka": True,
                    "composed_weight": args.composed_weight},
        "seed": 0, "output_dir": str(out), "progress": False,
    })


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fsdd", default=None, help="passed to build_data.py (Free Spoken Digit Dataset clone)")
    ap.add_argument("--yamnet", default=str(ROOT.parent / "shared" / "models" / "yamnet"))
    ap.add_argument("--data", default="runs/data")
    ap.add_argument("--runs", default="runs/real")
    ap.add_argument("--head-dir", default="head", help="folder of the head stage under --runs")
    ap.add_argument("--head-epochs", type=int, default=12)
    ap.add_argument("--head-batch", type=int, default=256)
    ap.add_argument("--head-lr", type=float, default=3e-4)
    ap.add_argument("--contrastive-weight", type=float, default=1.0, help="head stage: CLIP loss on captions")
    ap.add_argument("--composed-weight", type=float, default=1.0)
    ap.add_argument("--label-weight", type=float, default=0.5)
    ap.add_argument("--lora-steps", type=int, default=150)
    ap.add_argument("--lora-batch", type=int, default=32)
    ap.add_argument("--lora-lr", type=float, default=2e-4)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast in training (CPUs with AMX, GPUs)")
    ap.add_argument("--bf16-cache", action="store_true", help="compute the prefix cache under bf16 autocast")
    ap.add_argument("--export-dir", default=None, help="default: wavlink/assets/default")
    ap.add_argument("--skip-lora", action="store_true")
    ap.add_argument("--head-only", action="store_true", help="stop after the head stage (no LoRA, no export)")
    args = ap.parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data, runs = Path(args.data), Path(args.runs)
    timings_file = runs / "timings.json"
    runs.mkdir(parents=True, exist_ok=True)
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}

    def timed(name, fn, *a):
        start = time.time()
        result = fn(*a)
        timings[name] = round(timings.get(name, 0.0) + time.time() - start, 1)
        timings_file.write_text(json.dumps(timings, indent=1) + "\n")
        return result

    if not (data / "train.csv").is_file():
        cmd = [sys.executable, str(HERE / "build_data.py"), "--out", str(data), "--yamnet", args.yamnet]
        timed("data", subprocess.run, cmd + (["--fsdd", args.fsdd] if args.fsdd else []))
        if not (data / "train.csv").is_file():
            raise SystemExit("build_data.py did not write train.csv")
    with open(Path(args.yamnet) / "yamnet_class_map.csv", newline="") as f:
        labels = [row["display_name"] for row in csv.DictReader(f)]
    base = runs / "base"
    if not (base / "model.safetensors").is_file():
        timed("base", build_base, base, data, labels)
    head_final = timed("head", head_stage, args, base, data, runs / args.head_dir, runs)
    if args.head_only:
        return
    final = head_final
    if not args.skip_lora:
        from wavlink.training.trainer import train

        config = lora_config(args, head_final, runs / "lora")
        final = Path(config.output_dir) / "final"
        if not (final / "model.safetensors").is_file():
            timed("lora", train, config, "latest")
    export(args, head_final, final, timings)


def export(args, head_final: Path, final: Path, timings: dict) -> None:
    import torch

    from wavlink.builders import default_model as dm
    from wavlink.inference import Embedder

    head = Embedder.load(head_final).model
    trained = Embedder.load(final)
    with torch.no_grad():  # the head model + the final model's head tensors; LoRA factors re-add the rest
        params = dict(head.named_parameters())
        for name, value in trained.model.named_parameters():
            if name in TRAINED:
                params[name].copy_(value)
    layer = head.config.global_token_layer
    head_layers = [n for n, _ in head.named_parameters() if n.startswith(tuple(
        f"audio_model.layers.{i}." for i in range(layer, len(head.audio_model.layers))))]
    lora = dm.lora_factors_from_adapter(final.parent / "adapter") if final != head_final else {}
    spec = {"projection_dim": PROJECTION_DIM, "config_overrides": {"global_token_layer": -1},
            "training": {"script": "scripts/real_model/train_default.py", "args": vars(args),
                         "data": "scripts/real_model/build_data.py (runs/data/build_report.md)",
                         "seconds": timings, "machine": os.environ.get("WAVLINK_TRAIN_MACHINE", "2-core CPU")}}
    out_dir = Path(args.export_dir) if args.export_dir else dm.asset_dir()
    out = dm.export_delta(head, out_dir, TRAINED + HEAD_ONLY + head_layers, spec, lora=lora)
    log(f"delta: {out} ({(out / dm.DELTA_FILE).stat().st_size / 1e6:.2f} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = Embedder.load(dm.assemble_default(Path(tmp) / "default", out_dir))
        sounds = sorted(str(p) for p in (ROOT / "wavlink/assets/sounds").glob("*.flac"))
        diff = np.abs(rebuilt.encode_audio(sounds) - trained.encode_audio(sounds)).max()
        tdiff = np.abs(rebuilt.encode_text(["a dog barking"]) - trained.encode_text(["a dog barking"])).max()
    log(f"assembled default vs trained model: audio max diff {diff:.2e}, text {tdiff:.2e}")
    if max(diff, tdiff) > 1e-4:
        raise SystemExit("the assembled default does not reproduce the trained model")


if __name__ == "__main__":
    main()
