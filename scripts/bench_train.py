#!/usr/bin/env python
"""Training-step cost of the three training modes: full finetune vs LoRA vs frozen encoders (projector only).

Random weights of a preset (byte-level tokenizer, so nothing is downloaded), a batch of N clips of S seconds
(noise) with ~60-character captions, the package's loss (CLIP + Matryoshka) and AdamW, exactly the pieces the
trainer uses (`DualEncoderModule`, `parameter_groups`, `apply_training_mode`). Each mode runs in its own
process so its peak memory is its own: peak RSS on CPU (includes the allocator's caching, so it is noisy),
``torch.cuda.max_memory_allocated`` on GPU. Two exact accountings explain the differences: the tensors autograd
keeps for the backward (activations; weights excluded) and the gradients + AdamW state of the trainable
parameters. ``--grad-cache C`` adds each mode with GradCache (chunks of C clips, training/grad_cache.py): the
same step on the same batch, its activations counted per chunk (the largest chunk's, which is what is alive at
once), next to the one-pass step.

    python scripts/bench_train.py                                  # base preset, 8 x 10 s, CPU
    python scripts/bench_train.py --modes lora --grad-cache 2      # LoRA with and without GradCache
    python scripts/bench_train.py --device cuda --bf16 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODES = ("full", "lora", "projector")


def run_child(args: argparse.Namespace) -> dict:
    import resource

    import numpy as np
    import torch

    from wavlink.builders.wavlink import create_model
    from wavlink.remote_code.losses import build_loss
    from wavlink.training.grad_cache import grad_cache_backward
    from wavlink.training.recipe import apply_training_mode, count_parameters
    from wavlink.training.trainer import DualEncoderModule, parameter_groups

    torch.manual_seed(0)
    device = torch.device(args.device)
    model, processor = create_model(args.preset, tokenizer="byte-level")
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    mode, _, cached = args.child.partition("@")
    chunk = args.grad_cache if cached else 0
    model = apply_training_mode(model, mode, "both", lora_r=8)
    trainable, total = count_parameters(model)
    module = DualEncoderModule(model, "clip").to(device).train()
    config = model.config if hasattr(model, "config") else model.get_base_model().config
    loss_fn = build_loss("clip", matryoshka_dims=config.matryoshka_dims)
    optimizer = torch.optim.AdamW(parameter_groups(module, 0.01), lr=1e-4, betas=(0.9, 0.98), eps=1e-6)

    rng = np.random.default_rng(0)
    waves = [0.1 * rng.standard_normal(int(args.seconds * 16000)).astype(np.float32) for _ in range(args.batch_size)]
    words = ["dog", "barks", "rain", "falls", "on", "a", "metal", "roof", "while", "cars", "pass", "by"]
    captions = [" ".join(rng.choice(words, 10)) for _ in range(args.batch_size)]
    audio = {k: v.to(device) for k, v in processor(audio=waves, sampling_rate=16000, return_tensors="pt").items()}
    text = {k: v.to(device) for k, v in processor(text=captions, return_tensors="pt").items()}
    groups = torch.arange(args.batch_size, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)

    param_storage = {p.untyped_storage().data_ptr() for p in module.parameters()}
    buckets: list[dict[int, int]] = []  # one per forward with autograd: a chunk's tensors are freed before the next

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        """Count each storage autograd keeps for the backward once (weights excluded)."""
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in param_storage and buckets:
            saved = buckets[-1]
            saved[storage.data_ptr()] = max(saved.get(storage.data_ptr(), 0), storage.nbytes())
        return tensor

    measuring = {"on": False}

    def forward(audio_inputs: dict, text_inputs: dict):
        if measuring["on"] and torch.is_grad_enabled():
            buckets.append({})
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                return module(audio_inputs, text_inputs)
        return module(audio_inputs, text_inputs)

    def loss_of(a: torch.Tensor, t: torch.Tensor, scales: dict):
        return loss_fn(a.float(), t.float(), group_ids=groups, **scales), {}

    def step(measure: bool = False) -> float:
        measuring["on"] = measure
        if chunk:
            with autocast:
                loss, _, _ = grad_cache_backward(forward, audio, text, loss_of, chunk)
        else:
            with autocast:
                a, t, scales = forward(audio, text)
            loss = loss_of(a, t, scales)[0]
            loss.backward()
        measuring["on"] = False
        torch.nn.utils.clip_grad_norm_([p for p in module.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step()  # warm-up (allocates optimizer state)
    sync()
    step(measure=True)
    sync()
    trainable_params = [p for p in module.parameters() if p.requires_grad]
    state_bytes = sum(t.numel() * t.element_size() for st in optimizer.state.values() for t in st.values()
                      if torch.is_tensor(t))
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    result = {
        "mode": mode + (f" + GradCache ({chunk} clips a chunk)" if chunk else ""),
        "trainable_m": trainable / 1e6,
        "total_m": total / 1e6,
        "step_s": float(np.median(times)),
        "samples_per_s": args.batch_size / float(np.median(times)),
        "activations_mib": max(sum(b.values()) for b in buckets) / 2**20,
        "grads_optimizer_mib": (sum(p.numel() * p.element_size() for p in trainable_params) + state_bytes) / 2**20,
    }
    if device.type == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="base")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per mode (after one warm-up step)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--grad-cache", type=int, default=0, metavar="C",
                        help="also run each mode with GradCache, C clips a chunk")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run_child(args)), flush=True)
        return 0

    import torch

    rows = []
    passed, skip = [], False  # this run's options minus --modes (given as `--modes X` or `--modes=X`)
    for a in sys.argv[1:]:
        if skip or a.startswith("--modes"):
            skip = a == "--modes"
            continue
        passed.append(a)
    children = [m + suffix for m in args.modes.split(",") for suffix in (("", "@gc") if args.grad_cache else ("",))]
    for child in children:
        cmd = [sys.executable, __file__, "--child", child] + passed
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if out.returncode or line is None:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(line[len("RESULT "):]))
    memory = "peak GPU memory allocated" if args.device.startswith("cuda") else "peak RSS"
    print(f"\npreset {args.preset} (random weights, byte-level tokenizer), batch {args.batch_size} x "
          f"{args.seconds:g} s, {args.steps} timed steps, {args.device}"
          f"{' bf16' if args.bf16 else ''}{' grad-ckpt' if args.gradient_checkpointing else ''}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(f"| mode | trainable params | step (s) | samples/s | activations kept for backward (MiB) | "
          f"grads + AdamW state (MiB) | {memory} (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['trainable_m']:.2f}M / {r['total_m']:.2f}M | {r['step_s']:.2f} | "
              f"{r['samples_per_s']:.2f} | {r['activations_mib']:.0f} | {r['grads_optimizer_mib']:.0f} | "
              f"{r['peak_mib']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
