"""Evaluate the trained default model against the untrained build of the same parts, with `wavlink eval`.

Held-out sets only: ESC-50 fold 5 (classes seen in training, clips never seen), the TimGM6mb soundfont's
instruments (instruments seen through FluidR3 in training, this soundfont never), the CC0 animal clips.
Writes runs/eval/*.json and prints a markdown table (also saved to runs/eval/table.md).

    python scripts/real_model/evaluate_default.py [--trained runs/real/stage3/final] [--untrained runs/real/stage1/base]

(`--untrained` is the stage-1 trainer's saved base; without a stage-1 run, build the same thing with
`wavlink.builders.default_model.build_untrained(384, WORKDIR)` and `wavlink.builders.wavlink.save_model_folder`.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wavlink.cli import main as wavlink

TASKS = [  # (name, task, manifest, metric path)
    ("ESC-50 fold 5, zero-shot (40 classes)", "zero-shot", "esc50_fold5_zeroshot.csv", "top1"),
    ("ESC-50 fold 5, text-to-audio R@1", "retrieval", "esc50_fold5_retrieval.csv", "text_to_audio.R@1"),
    ("ESC-50 fold 5, text-to-audio R@5", "retrieval", "esc50_fold5_retrieval.csv", "text_to_audio.R@5"),
    ("TimGM6mb instruments, zero-shot", "zero-shot", "timgm6mb_instruments.csv", "top1"),
    ("CC0 animals, zero-shot (10 classes)", "zero-shot", "animals_cc0.csv", "top1"),
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
    ap.add_argument("--trained", default="runs/real/stage3/final")
    ap.add_argument("--untrained", default="runs/real/stage1/base")
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
            target = out / f"{model_name}_{manifest.replace('.csv', '.json')}"
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
