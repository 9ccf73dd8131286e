"""Measure what `wavlink finetune` with DEFAULT flags buys on sounds the default model never heard.

The set: the 10 ESC-50 classes of heldout_esc50.json (no clip, name or caption of them reached the default
model's training). Folds 1-4 (32 clips a class, 320 in all) are the user's data, captioned "the sound of a
<class>"; fold 5 (80 clips) is held out. Before and after: 10-way zero-shot top-1 on fold 5 with
`wavlink eval` (default prompt templates). The finetune runs as a user would run it, through the CLI with
only --model, --data, --out and --merge, and is timed.

    python scripts/real_model/finetune_check.py [--model DIR] [--out runs/finetune_check]

Writes <out>/result.json (accuracies, seconds, steps) and prints one summary line.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def write_sets(esc50: Path, classes: list[str], out: Path) -> tuple[Path, Path]:
    """Folds 1-4 of the classes as a caption manifest, fold 5 as a labelled zero-shot manifest."""
    with open(esc50 / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in classes]
    train, test = out / "train.csv", out / "test.csv"
    with open(train, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["audio", "caption"])
        for r in rows:
            if r["fold"] != "5":
                w.writerow([str(esc50 / r["audio"]), f"the sound of a {r['label'].replace('_', ' ')}"])
    with open(test, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["audio", "label"])
        for r in rows:
            if r["fold"] == "5":
                w.writerow([str(esc50 / r["audio"]), r["label"]])
    return train, test


def zero_shot(model: str, test: Path, target: Path) -> float:
    cmd = [sys.executable, "-m", "wavlink.cli", "eval", "--model", model, "--task", "zero-shot",
           "--data", str(test), "--output", str(target), "--quiet"]
    subprocess.run(cmd, check=True)
    return float(json.loads(target.read_text())["top1"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the package's default model)")
    ap.add_argument("--esc50", default=str(ROOT.parent / "shared" / "data" / "esc50"))
    ap.add_argument("--out", default="runs/finetune_check")
    args = ap.parse_args()
    if args.model is None:
        from wavlink.builders.default_model import default_model_dir

        args.model = str(default_model_dir())
    classes = json.loads((HERE / "heldout_esc50.json").read_text())["classes"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = write_sets(Path(args.esc50), classes, out)
    before = zero_shot(args.model, test, out / "before.json")
    adapter = out / "adapter"
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "wavlink.cli", "finetune", "--model", args.model, "--data",
                          str(train), "--out", str(adapter), "--merge", "--overwrite"],
                         check=True, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    print(run.stdout)
    summary = json.loads(run.stdout[run.stdout.index("{"):])  # the CLI ends with its JSON summary
    after = zero_shot(summary["merged"], test, out / "after.json")
    steps = summary["steps"]
    result = {"classes": classes, "train_clips": sum(1 for _ in open(train)) - 1,
              "test_clips": sum(1 for _ in open(test)) - 1, "zero_shot_top1_before": before,
              "zero_shot_top1_after": after, "finetune_seconds": round(seconds, 1), "steps": steps}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"10-way zero-shot on fold 5 of the unseen classes: {before:.3f} -> {after:.3f} "
          f"({result['train_clips']} clips, finetune {seconds / 60:.1f} min)")


if __name__ == "__main__":
    main()
