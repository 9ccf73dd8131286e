"""Evaluate the trained default model against the untrained build of the same parts, with `wavlink eval`.

Held-out sets only (written by build_data.py to runs/data/eval/):
* ESC-50, the 10 classes of heldout_esc50.json (all folds, 400 clips): no clip, name or caption of these classes
  reached training, so this is zero-shot on classes our training data never labelled (the YAMNet teacher,
  trained on AudioSet, does know them);
* ESC-50 fold 5 of the 30 trained classes (the shared copy has 40 of ESC-50's classes; 10 are held out) (classes seen, clips never seen);
* the TimGM6mb soundfont's instruments (instruments seen through FluidR3 renders, this soundfont never);
* the bundled CC0 animal clips (wavlink/assets/sounds).
Writes runs/eval/*.json and prints a markdown table (also saved to runs/eval/table.md).

    python scripts/real_model/evaluate_default.py [--trained runs/real/lora/final] [--untrained runs/real/base]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wavlink.cli import main as wavlink

TASKS = [  # (name, task, manifest, metric path)
    ("ESC-50, 10 classes never trained on: zero-shot (10-way)", "zero-shot", "eval/esc50_unseen_zeroshot.csv",
     "top1"),
    ("ESC-50, 10 classes never trained on: text-to-audio R@5", "retrieval", "eval/esc50_unseen_retrieval.csv",
     "text_to_audio.R@5"),
    ("ESC-50 fold 5, 30 trained classes: zero-shot (30-way)", "zero-shot", "eval/esc50_fold5_zeroshot.csv", "top1"),
    ("ESC-50 fold 5, 30 trained classes: text-to-audio R@1", "retrieval", "eval/esc50_fold5_retrieval.csv",
     "text_to_audio.R@1"),
    ("ESC-50 fold 5, 30 trained classes: text-to-audio R@5", "retrieval", "eval/esc50_fold5_retrieval.csv",
     "text_to_audio.R@5"),
    ("TimGM6mb instruments: zero-shot (128 clips, 118 names)", "zero-shot", "eval/timgm6mb_instruments.csv", "top1"),
    ("CC0 animals: zero-shot (10-way)", "zero-shot", "eval/animals_cc0.csv", "top1"),
]


def pick(result: dict, path: str) -> float:
    for key in path.split("."):
        result = result[key]
    return float(result)


def dim_results(result: dict) -> dict[int, dict]:
    """Results per Matryoshka dim (the full dim at the top level)."""
    dims = {int(d): r for d, r in result.get("dims", {}).items() if isinstance(r, dict)}
    return dims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trained", default="runs/real/lora/final")
    ap.add_argument("--untrained", default="runs/real/base")
    ap.add_argument("--data", default="runs/data")
    ap.add_argument("--out", default="runs/eval")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], dict] = {}
    for model_name, model in (("untrained", args.untrained), ("trained", args.trained)):
        for _, task, manifest, _ in TASKS:
            key = (model_name, manifest)
            if key in results:
                continue
            target = out / f"{model_name}_{Path(manifest).stem}.json"
            code = wavlink(["eval", "--model", model, "--task", task, "--data", str(Path(args.data) / manifest),
                            "--output", str(target), "--matryoshka", "--quiet"])
            if code:
                raise SystemExit(f"wavlink eval failed for {model} on {manifest}")
            results[key] = json.loads(target.read_text())
    dims = sorted({d for r in results.values() for d in dim_results(r)}, reverse=True)
    header = "| evaluation | untrained | trained | " + " | ".join(f"trained @{d}" for d in dims[1:]) + " |"
    lines = [header, "|" + "---|" * (3 + len(dims[1:]))]
    for title, _, manifest, metric in TASKS:
        row = [title, f"{100 * pick(results[('untrained', manifest)], metric):.1f}",
               f"{100 * pick(results[('trained', manifest)], metric):.1f}"]
        per_dim = dim_results(results[("trained", manifest)])
        row += [f"{100 * pick(per_dim[d], metric):.1f}" if d in per_dim else "-" for d in dims[1:]]
        lines.append("| " + " | ".join(row) + " |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
