"""Loss curve of a training run from the trainer's `log.jsonl`: a PNG and a compact markdown summary.

Length-bucketed batches differ in difficulty (ESC-50 clips vs rendered instruments), so the raw per-step
loss jumps; the curve also shows a moving average over `--window` steps. Validation R@k rows are marked.

    python scripts/real_model/plot_loss.py runs/real/stage3/log.jsonl --out docs/default_model_stage3_loss.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_log(path: Path) -> tuple[list[dict], list[dict]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("type") == "train"], [r for r in rows if r.get("type") == "eval"]


def moving_average(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def summary(train: list[dict], evals: list[dict], window: int) -> str:
    """Markdown: mean loss per block of `window` steps and every validation row."""
    lines = [f"| steps | mean loss (over {window}) |", "|---|---|"]
    for start in range(0, len(train), window):
        block = train[start:start + window]
        mean = sum(r["loss"] for r in block) / len(block)
        lines.append(f"| {block[0]['step']}-{block[-1]['step']} | {mean:.3f} |")
    if evals:
        keys = [k for k in evals[0] if k.startswith(("t2a_", "a2t_")) and "@" in k and k.count("@") == 1]
        lines += ["", "| step | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        lines += [f"| {e['step']} | " + " | ".join(f"{100 * e[k]:.1f}" for k in keys) + " |" for e in evals]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="PNG path (a .md summary is written beside it)")
    ap.add_argument("--window", type=int, default=10)
    args = ap.parse_args()
    train, evals = read_log(args.log)
    if not train:
        raise SystemExit(f"{args.log}: no training rows")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, losses = [r["step"] for r in train], [r["loss"] for r in train]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    ax.plot(steps, losses, color="tab:blue", alpha=0.3, lw=1, label="loss per step")
    ax.plot(steps, moving_average(losses, args.window), color="tab:blue", lw=2,
            label=f"moving average ({args.window} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("CLIP loss (Matryoshka mean)")
    if evals:
        ax2 = ax.twinx()
        for key, color in (("t2a_R@1", "tab:orange"), ("a2t_R@1", "tab:green")):
            ax2.plot([e["step"] for e in evals], [100 * e[key] for e in evals], "o-", color=color,
                     label=f"validation {key.replace('_', ' ').upper().replace('R@', 'R@')}")
        ax2.set_ylim(0, 100)
        ax2.set_ylabel("validation R@1 (%)")
        ax2.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(args.log.parent.name)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    args.out.with_suffix(".md").write_text(summary(train, evals, args.window) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
