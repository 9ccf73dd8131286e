#!/usr/bin/env python
"""Audio-embedding speed: WavLink / OmniAudioEmbedder presets vs CLAP vs a 30 s-padded Whisper encoder.

Every system embeds the same synthetic clips (one analytic signal: harmonics + envelope + a little noise,
rendered at each system's native sampling rate so no resampling is timed) in one run, with random weights:

* ``wavlink:<preset>`` - `create_model(preset, tokenizer="byte-level")` (the byte-level tokenizer only
  shrinks the text vocabulary; the audio tower is the preset's). Features + `get_audio_features`, variable
  length (a 10 s clip is computed as 10 s).
* ``omni:<preset>`` - `create_omni(preset, tokenizer="byte-level")`, when `wavlink.builders.omni` imports.
* ``clap-htsat-unfused`` - transformers' `ClapModel(ClapConfig())` (the laion/clap-htsat-unfused shapes)
  with `ClapFeatureExtractor` at 48 kHz, ``truncation="rand_trunc"`` (the unfused checkpoint's setting;
  numpy seeded) and ``padding="repeatpad"``: every clip becomes a 10 s window whatever its length.
* ``whisper-base-30s`` - a plain `WhisperEncoder` of Whisper base fed `WhisperFeatureExtractor` output padded
  to 30 s (the paper-style reference: its cost does not depend on the clip length).

Inference variants of the target preset (``--variants``, all by default, ``wavlink:<preset>@<variant>``):

* ``fp32`` (plain ``wavlink:<preset>``) - the default inference path (SDPA on strided q/k/v, no masks when
  nothing is padded); ``reference`` - the same model through transformers' `WhisperEncoderLayer.forward`
  (``fused_inference=False``: the path before issue 15);
* ``int8`` - `wavlink.optimize.quantize_int8` (dynamic int8 quantisation of every Linear);
* ``bf16`` - the weights in bfloat16 (`Embedder.load(dtype="bfloat16")`);
* ``onnx`` - `wavlink export-onnx` graphs in onnxruntime (CPU provider), features as numpy.

``--esc50 DIR`` adds the quality cost of the variants with the package's real default model on one
ESC-50 fold (``--fold``, 5): per-clip cosine to the reference path, text-to-audio R@5 / R@1 over the class
prompts (a query is a class, a hit is any clip of that class in the top k) and zero-shot top-1, with the
deltas against fp32; and each variant's batch invariance (one clip alone vs in a padded batch).
``--stream-minutes`` adds a memory check: the Embedder over a generated set of 10 s wav files of that total
length versus a tenth of it (peak RSS of each run).

Timing: per (system, batch size, clip length) one warm-up call, then ``--repeats`` timed calls of
feature extraction + forward under `torch.inference_mode`; the median is reported as ms per clip and
clips/s (the "model ms/clip" column excludes feature extraction). `torch.set_num_threads` is left at its
default. Memory: a thread samples the process RSS (psutil) every 2 ms during the timed calls; "peak MB" is
the highest RSS minus the RSS just before the measurement (working memory on top of the loaded weights);
"weights MB" is 4 bytes x parameters. (tracemalloc does not see torch's allocator and
`getrusage().ru_maxrss` is a process-lifetime maximum, so neither can isolate one measurement.)

A measurement whose estimated duration (from the batch-1 time of the same system and length) exceeds
``--max-measure-s`` is skipped and listed as such (never for ``--target`` and the two references). Presets whose fp32 weights (x2.5 for activations) do not
fit in the available memory are skipped.

The defaults are the full protocol: every preset of both families (WavLink and OmniAudioEmbedder) whose
weights fit in memory, batch sizes 1/8/32, clip lengths 5/10/30 s, next to both references. On a small
machine that takes long; limit it with the options:

    python scripts/bench_embed.py --out bench.md       # every preset that fits, batch 1/8/32, 5/10/30 s
    python scripts/bench_embed.py --presets base,omni:m1 --repeats 1 --max-measure-s 30   # both families
    python scripts/bench_embed.py --quick              # base, batch 1, 10 s, 1 repeat
    python scripts/bench_embed.py --references clap-htsat-unfused   # CLAP only (the padded Whisper is slowest)
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil
import torch

DEFAULT_PRESETS = "all"
DEFAULT_BATCH_SIZES = "1,8,32"
DEFAULT_LENGTHS = "5,10,30"
REFERENCES = ("clap-htsat-unfused", "whisper-base-30s")


# ------------------------------------------------------------------------------------------------ clips
def make_clip(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """The same analytic signal at any rate: 4 harmonics with a slow envelope plus light noise."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(150, 3000, size=4)
    phases = rng.uniform(0, 6, size=4)
    t = np.arange(int(round(seconds * sr))) / sr
    wave = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases)) / 4
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
    noise = np.random.default_rng(seed + 1).standard_normal(t.shape)
    return (0.5 * wave + 0.005 * noise).astype(np.float32)


# ------------------------------------------------------------------------------------------------ memory
class RssSampler:
    """Peak RSS (bytes) of this process while active, sampled every `interval` s in a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> RssSampler:
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.base) / 2**20


# ------------------------------------------------------------------------------------------------ systems
@dataclass
class System:
    name: str
    family: str
    sampling_rate: int
    featurize: Callable[[list[np.ndarray]], dict[str, torch.Tensor]]
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor]
    n_params: int
    notes: str = ""
    keep: list[Any] = field(default_factory=list)  # objects to keep alive (model, processor)


def _n_params(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


VARIANTS = ("fp32", "reference", "int8", "bf16", "onnx")


def apply_variant(model: Any, processor: Any, variant: str, workdir: str | None = None) -> Any:
    """The model (or an `OnnxEmbedder`) that runs `variant`; see the module docstring."""
    if variant == "fp32":
        model.fused_inference = True
        return model
    if variant == "reference":
        model.fused_inference = False
        return model
    if variant == "int8":
        from wavlink.optimize import quantize_int8

        return quantize_int8(model)
    if variant == "bf16":
        return model.to(torch.bfloat16)
    if variant == "onnx":
        import tempfile

        from wavlink.onnx_export import OnnxEmbedder, export_onnx

        out = export_onnx(model, tempfile.mkdtemp(prefix="wavlink-onnx-", dir=workdir), processor=processor)
        return OnnxEmbedder(out)
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")


def wavlink_system(preset: str, variant: str = "fp32") -> System:
    from wavlink.builders.wavlink import create_model

    model, processor = create_model(preset, tokenizer="byte-level")
    model.eval()
    fe = processor.feature_extractor
    n = _n_params(model.audio_model) + _n_params(model.audio_projection)
    runner = apply_variant(model, processor, variant)
    tensors = "np" if variant == "onnx" else "pt"

    def featurize(clips: list[np.ndarray]) -> dict[str, Any]:
        return dict(fe(clips, sampling_rate=fe.sampling_rate, return_tensors=tensors))

    def forward(inputs: dict[str, Any]) -> torch.Tensor:
        if variant == "onnx":
            return torch.from_numpy(runner.audio_features(**inputs))
        return runner.get_audio_features(**inputs, pooled_only=True).pooler_output  # as the Embedder calls it

    name = f"wavlink:{preset}" + ("" if variant == "fp32" else f"@{variant}")
    return System(name, "WavLink", fe.sampling_rate, featurize, forward, n,
                  f"audio tower {n / 1e6:.1f}M params, variable length, {variant}", [runner, model, processor])


def omni_system(preset: str) -> System:
    from wavlink.builders.omni import create_omni

    model, processor = create_omni(preset, tokenizer="byte-level")
    model.eval()
    fe = processor.feature_extractor

    def featurize(clips: list[np.ndarray]) -> dict[str, torch.Tensor]:
        return dict(fe(clips, sampling_rate=fe.sampling_rate, return_tensors="pt"))

    def forward(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return model.get_audio_features(**inputs).pooler_output

    n = _n_params(model)
    return System(f"omni:{preset}", "OmniAudioEmbedder", fe.sampling_rate, featurize, forward, n,
                  f"{n / 1e6:.0f}M params (audio encoder + LLM)", [model, processor])


def clap_system() -> System:
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    torch.manual_seed(0)
    model = ClapModel(ClapConfig()).eval()
    fe = ClapFeatureExtractor()  # 48 kHz, 64 mels, 10 s window

    def featurize(clips: list[np.ndarray]) -> dict[str, torch.Tensor]:
        np.random.seed(0)  # rand_trunc crops clips over 10 s at a random offset
        return dict(fe(clips, sampling_rate=48000, truncation="rand_trunc", padding="repeatpad",
                       return_tensors="pt"))

    def forward(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        out = model.get_audio_features(**inputs)
        return out.pooler_output if hasattr(out, "pooler_output") else out

    n = _n_params(model.audio_model) + _n_params(model.audio_projection)
    return System("clap-htsat-unfused", "CLAP", 48000, featurize, forward, n,
                  f"HTSAT audio tower {n / 1e6:.1f}M params, 10 s windows (repeat-pad / random crop)",
                  [model, fe])


def whisper30_system() -> System:
    from transformers import WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    from wavlink.builders.presets import whisper_config

    torch.manual_seed(0)
    model = WhisperEncoder(whisper_config("openai/whisper-base.en")).eval()
    fe = WhisperFeatureExtractor(feature_size=80)

    def featurize(clips: list[np.ndarray]) -> dict[str, torch.Tensor]:
        return {"input_features": fe(clips, sampling_rate=16000, return_tensors="pt")["input_features"]}

    def forward(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(inputs["input_features"]).last_hidden_state.mean(1)

    return System("whisper-base-30s", "Whisper", 16000, featurize, forward, _n_params(model),
                  "plain WhisperEncoder (base), every clip padded to 30 s", [model, fe])


# ------------------------------------------------------------------------------------------------ measuring
@dataclass
class Row:
    system: str
    family: str
    batch: int
    seconds: float
    ms_per_clip: float | None = None
    model_ms_per_clip: float | None = None
    features_ms_per_clip: float | None = None
    cpu_ms_per_clip: float | None = None
    clips_per_s: float | None = None
    peak_mb: float | None = None
    weights_mb: float | None = None
    group: int = 0
    note: str = ""


@torch.inference_mode()
def _once(system: System, clips: list[np.ndarray]) -> tuple[float, float, float]:
    """(wall s, model-only wall s, process CPU s) of one features + forward call (features = wall - model)."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    inputs = system.featurize(clips)
    t1 = time.perf_counter()
    out = system.forward(inputs)
    float(out.float().sum())  # materialise
    t2 = time.perf_counter()
    return t2 - t0, t2 - t1, time.process_time() - c0


def measure_cell(systems: list[System], batch: int, seconds: float, repeats: int, group: int) -> list[Row]:
    """Time every system on the same clips, round-robin (system A, B, C, A, B, C, ...), so that a change
    in machine load affects all of them alike; medians per system."""
    clips = {s.name: [make_clip(seconds, s.sampling_rate, seed=i) for i in range(batch)] for s in systems}
    for s in systems:
        _once(s, clips[s.name])  # warm-up
    walls: dict[str, list[float]] = {s.name: [] for s in systems}
    models: dict[str, list[float]] = {s.name: [] for s in systems}
    cpus: dict[str, list[float]] = {s.name: [] for s in systems}
    peaks: dict[str, float] = {s.name: 0.0 for s in systems}
    for _ in range(repeats):
        for s in systems:
            with RssSampler() as mem:
                wall, model_only, cpu = _once(s, clips[s.name])
            walls[s.name].append(wall)
            models[s.name].append(model_only)
            cpus[s.name].append(cpu)
            peaks[s.name] = max(peaks[s.name], mem.delta_mb)
    rows = []
    for s in systems:
        wall = statistics.median(walls[s.name])
        feats = statistics.median(w - m for w, m in zip(walls[s.name], models[s.name]))
        rows.append(Row(s.name, s.family, batch, seconds, 1000 * wall / batch,
                        1000 * statistics.median(models[s.name]) / batch, 1000 * feats / batch,
                        1000 * statistics.median(cpus[s.name]) / batch, batch / wall, peaks[s.name],
                        4 * s.n_params / 2**20, group))
    return rows


def fits_in_memory(n_params: int, budget: float | None = None) -> bool:
    return 4 * n_params * 2.5 < (budget if budget is not None else psutil.virtual_memory().available)


def estimate_params(spec: str) -> int | None:
    """Parameter count of a preset from its config, without allocating it (meta device)."""
    try:
        with torch.device("meta"):
            if spec.startswith("omni:"):
                from wavlink.builders.omni_presets import omni_preset_config
                from wavlink.remote_code.modeling_omni import OmniAudioEmbedder

                model = OmniAudioEmbedder(omni_preset_config(spec[5:], byte_level_vocab=True))
            else:
                from wavlink.builders.presets import preset_config
                from wavlink.remote_code.modeling_wavlink import WavLinkModel

                model = WavLinkModel(preset_config(spec.split(":", 1)[-1].split("@")[0], byte_level_vocab=True))
        return _n_params(model)
    except Exception:  # unknown on this version: let the real build decide
        return None


def expand_presets(spec: str) -> list[str]:
    """``base,small,omni:m1`` / ``all`` -> system ids (``wavlink:<p>`` / ``omni:<p>``)."""
    from wavlink.builders.presets import PRESETS

    try:
        from wavlink.builders.omni_presets import OMNI_PRESETS
    except ImportError:
        OMNI_PRESETS = {}
    out: list[str] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item == "all":
            out += [f"wavlink:{p}" for p in PRESETS if p != "tiny-random"]
            out += [f"omni:{p}" for p in OMNI_PRESETS if not p.startswith("tiny")]
        elif item.startswith(("omni:", "wavlink:")):
            out.append(item)
        else:
            out.append(f"wavlink:{item}")
    return list(dict.fromkeys(out))


def build(spec: str) -> System:
    if spec == "clap-htsat-unfused":
        return clap_system()
    if spec == "whisper-base-30s":
        return whisper30_system()
    if spec.startswith("omni:"):
        return omni_system(spec[5:])
    preset, _, variant = spec.split(":", 1)[1].partition("@")
    return wavlink_system(preset, variant or "fp32")


def plan_groups(specs: list[str], log: Callable[[str], None]) -> tuple[list[list[str]], list[Row]]:
    """Greedy groups of presets whose weights fit in memory together (each measured with the references);
    presets that cannot be built here become skip rows."""
    rows: list[Row] = []
    budget = 0.6 * psutil.virtual_memory().available
    groups: list[list[str]] = [[]]
    used = 0.0
    for spec in specs:
        if spec.startswith("omni:"):
            try:
                import wavlink.builders.omni  # noqa: F401
            except ImportError as err:
                log(f"skip {spec}: the OmniAudioEmbedder family is not importable ({err})")
                rows.append(Row(spec, "OmniAudioEmbedder", 0, 0, note=f"not importable: {err}"))
                continue
        n = estimate_params(spec)
        need = 4 * 2.5 * (n or 0)
        if n is not None and not fits_in_memory(n):
            log(f"skip {spec}: {n / 1e6:.0f}M params do not fit in the available memory")
            rows.append(Row(spec, "", 0, 0, note=f"skipped: {n / 1e6:.0f}M params do not fit in memory"))
            continue
        if groups[-1] and used + need > budget:
            groups.append([])
            used = 0.0
        groups[-1].append(spec)
        used += need
    return [g for g in groups if g], rows


def _cell_estimate(systems: list[System], batch: int, seconds: float, repeats: int,
                   seen: dict[str, tuple[float, float]]) -> float:
    """Seconds a cell should take, from each system's last batch-1 ms/clip scaled linearly to this clip
    length (0 for a system not measured yet)."""
    total = 0.0
    for s in systems:
        if s.name in seen:
            ms, at_seconds = seen[s.name]
            total += ms / 1000 * seconds / at_seconds * batch * (repeats + 1)
    return total


def run_group(specs: list[str], batches: list[int], lengths: list[float], repeats: int, max_measure_s: float,
              group: int, log: Callable[[str], None], protected: tuple[str, ...] = (),
              deadline: float | None = None) -> list[Row]:
    """Build the systems and measure every (length, batch) cell. A cell that would end after ``deadline``
    (a `time.perf_counter` value; ``--budget-s``) is skipped and listed as such, for every system."""
    systems = []
    for spec in specs:
        t0 = time.perf_counter()
        try:
            system = build(spec)
        except Exception as err:  # e.g. a preset whose tokenizer/config cannot be made offline
            log(f"skip {spec}: cannot build it ({err.__class__.__name__}: {err})")
            continue
        systems.append(system)
        log(f"{spec}: built in {time.perf_counter() - t0:.1f} s ({system.notes})")
    rows: list[Row] = []
    seen: dict[str, tuple[float, float]] = {}  # system -> (batch-1 ms/clip, at clip length)
    for seconds in lengths:
        per_clip_b1: dict[str, float] = {}
        for batch in sorted(batches):
            active = []
            for s in systems:
                if s.name in per_clip_b1 and s.name not in protected:
                    estimate = per_clip_b1[s.name] / 1000 * batch * (repeats + 1)
                    if estimate > max_measure_s:
                        log(f"  skip {s.name} batch {batch}, {seconds:g} s: estimated {estimate:.0f} s")
                        rows.append(Row(s.name, s.family, batch, seconds, group=group,
                                        note=f"skipped (estimated {estimate:.0f} s > --max-measure-s)"))
                        continue
                active.append(s)
            if active and deadline is not None:  # only the systems that would run count
                estimate = _cell_estimate(active, batch, seconds, repeats, seen)
                if time.perf_counter() + estimate > deadline:
                    log(f"  skip batch {batch}, {seconds:g} s: estimated {estimate:.0f} s, the --budget-s would be "
                        "exceeded")
                    rows += [Row(s.name, s.family, batch, seconds, group=group, note="skipped (--budget-s)")
                             for s in active]
                    continue
            if not active:
                continue
            cell = measure_cell(active, batch, seconds, repeats, group)
            for row in cell:
                per_clip_b1.setdefault(row.system, row.ms_per_clip)
                if batch == min(batches):
                    seen[row.system] = (row.ms_per_clip, seconds)
                log(f"  {row.system:<20} batch {batch:>2}, {seconds:>4g} s: {row.ms_per_clip:8.1f} ms/clip "
                    f"({row.clips_per_s:6.2f} clips/s, model {row.model_ms_per_clip:7.1f}, "
                    f"CPU {row.cpu_ms_per_clip:7.1f} ms/clip, peak +{row.peak_mb:.0f} MB)")
            rows += cell
    del systems
    gc.collect()
    return rows


# ------------------------------------------------------------------------------------------------ report
def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def ratios(rows: list[Row], target: str, key: str = "ms_per_clip"
           ) -> list[tuple[int, float, float | None, float | None]]:
    """(batch, seconds, target/CLAP, target/Whisper-30s) per cell, against references of the same group."""
    by = {(r.group, r.system, r.batch, r.seconds): getattr(r, key) for r in rows if getattr(r, key) is not None}
    out = []
    for (group, system, batch, seconds), ms in sorted(by.items(), key=lambda kv: (kv[0][3], kv[0][2])):
        if system != target:
            continue
        clap = by.get((group, "clap-htsat-unfused", batch, seconds))
        whisper = by.get((group, "whisper-base-30s", batch, seconds))
        if clap or whisper:
            out.append((batch, seconds, ms / clap if clap else None, ms / whisper if whisper else None))
    return out


def markdown(rows: list[Row], target: str, command: str, repeats: int) -> str:
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    groups = len({r.group for r in rows}) > 1
    lines = [
        "## Audio embedding speed (CPU, random weights)",
        "",
        f"`{command}` - torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
        f"({cpu}), load average {load:.1f} at the end; median of {repeats} round-robin calls after 1 warm-up. "
        "ms/clip = wall time of (features + forward) / batch; model = forward only; features = feature "
        "extraction only (median of wall - model) and its share of the total; CPU = process CPU time; "
        "peak MB = RSS above the loaded weights; weights MB = 4 bytes x parameters (also for int8/bf16).",
        "",
        "| system | batch | clip (s) | ms/clip | clips/s | model ms/clip | features ms/clip | features share | "
        "CPU ms/clip | peak MB | weights MB |" + (" group |" if groups else "") + " note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if groups else "") + "---|",
    ]
    for r in rows:
        share = (f"{100 * r.features_ms_per_clip / r.ms_per_clip:.1f}%"
                 if r.features_ms_per_clip is not None and r.ms_per_clip else "-")
        lines.append(f"| {r.system} | {r.batch or '-'} | {r.seconds or '-'} | {_fmt(r.ms_per_clip)} | "
                     f"{_fmt(r.clips_per_s, '.2f')} | {_fmt(r.model_ms_per_clip)} | "
                     f"{_fmt(r.features_ms_per_clip)} | {share} | {_fmt(r.cpu_ms_per_clip)} | "
                     f"{_fmt(r.peak_mb, '.0f')} | {_fmt(r.weights_mb, '.0f')} |"
                     + (f" {r.group} |" if groups else "") + f" {r.note} |")
    rat = ratios(rows, target)
    cpu_rat = {(b, s): (c, w) for b, s, c, w in ratios(rows, target, "cpu_ms_per_clip")}
    if rat:
        lines += ["", f"Ratios of {target} to the references (target: <= 1.0x CLAP and <= 0.3x the 30 s-padded "
                      "encoder for 10 s clips):", "",
                  "| batch | clip (s) | vs CLAP (wall) | vs Whisper-base 30 s padded (wall) | vs CLAP (CPU) | "
                  "vs Whisper 30 s (CPU) |", "|---:|---:|---:|---:|---:|---:|"]
        for batch, seconds, vs_clap, vs_whisper in rat:
            c, w = cpu_rat.get((batch, seconds), (None, None))
            lines.append(f"| {batch} | {seconds:g} | {_ratio(vs_clap)} | {_ratio(vs_whisper)} | {_ratio(c)} | "
                         f"{_ratio(w)} |")
    others = [s for s in dict.fromkeys(r.system for r in rows) if s != target and s not in REFERENCES]
    other_rows = [(s, *x) for s in others for x in ratios(rows, s)]
    if other_rows:
        lines += ["", "Ratios of the other presets to the references (wall time):", "",
                  "| system | batch | clip (s) | vs CLAP | vs Whisper-base 30 s padded |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {s} | {b} | {sec:g} | {_ratio(c)} | {_ratio(w)} |" for s, b, sec, c, w in other_rows]
    variants = [s for s in dict.fromkeys(r.system for r in rows) if s == target or s.startswith(f"{target}@")]
    if len(variants) > 1:
        by = {(v, b, sec): c for v in variants for b, sec, c, _ in ratios(rows, v)}
        cells = sorted({(b, sec) for _, b, sec in by}, key=lambda x: (x[1], x[0]))
        names = [v.removeprefix(target).removeprefix("@") or "fp32 (default)" for v in variants]
        lines += ["", f"Side by side: {target}'s inference variants vs CLAP in the same run (wall time, features "
                      "included; targets: fp32 <= 1.0x, int8 <= 0.6x for 10 s clips):", "",
                  "| batch | clip (s) | " + " | ".join(names) + " |", "|---:|---:|" + "---:|" * len(names)]
        lines += [f"| {b} | {sec:g} | " + " | ".join(_ratio(by.get((v, b, sec))) for v in variants) + " |"
                  for b, sec in cells]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ quality
def _variant_embedder(variant: str, model_dir: str, batch_size: int, workdir: str) -> Any:
    from wavlink.inference import Embedder

    if variant == "onnx":
        from wavlink.onnx_export import OnnxEmbedder, export_onnx

        out = export_onnx(model_dir, os.path.join(workdir, "onnx"))
        return OnnxEmbedder(out, batch_size=batch_size)
    embedder = Embedder.load(model_dir, device="cpu", batch_size=batch_size,
                             int8=variant == "int8", dtype="bfloat16" if variant == "bf16" else None)
    embedder.model.fused_inference = variant != "reference"
    return embedder


def quality_table(esc50: str, fold: int, variants: list[str], batch_size: int, log: Callable[[str], None]) -> str:
    """Retrieval / zero-shot cost of each variant with the real default model on one ESC-50 fold."""
    import tempfile

    from wavlink.builders.default_model import default_model_dir
    from wavlink.evaluation.benchmarks import load_esc50
    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates, prettify_label

    data = load_esc50(esc50).only_fold(fold)
    labels = np.asarray(data.labels)
    names = [prettify_label(c) for c in data.class_names]
    model_dir = os.fspath(default_model_dir())
    order = ["reference", *[v for v in variants if v != "reference"]]
    results: dict[str, dict[str, Any]] = {}
    # batch invariance: 8 clips cut to 5, 4.5, ..., 1.5 s, alone vs in one batch padded to the longest
    from wavlink.remote_code.audio_utils import decode_audio

    probe = [decode_audio(x, 16000)[: int(16000 * (5 - 0.5 * i))] for i, x in enumerate(data.audio[:8])]
    with tempfile.TemporaryDirectory() as workdir:
        for variant in order:
            t0 = time.perf_counter()
            embedder = _variant_embedder(variant, model_dir, batch_size, workdir)
            audio = np.asarray(embedder.encode_audio(list(data.audio)), dtype=np.float32)
            classes = class_embeddings_from_templates(lambda p, e=embedder: e.encode_text(list(p)), names,
                                                      DEFAULT_TEMPLATES)
            together = np.asarray(embedder.encode_audio(list(probe)))
            alone = np.concatenate([np.asarray(embedder.encode_audio([x])) for x in probe])
            scores = classes @ audio.T  # (classes, clips)
            top = np.argsort(-scores, axis=1, kind="stable")
            hit = labels[top] == np.arange(len(names))[:, None]
            present = np.isin(np.arange(len(names)), labels)
            ranks = np.arange(1, hit.shape[1] + 1)
            ap = (np.cumsum(hit, 1) / ranks * hit).sum(1) / np.maximum(hit.sum(1), 1)  # average precision
            results[variant] = {
                "audio": audio,
                "r1": float(hit[present, :1].any(1).mean()), "r5": float(hit[present, :5].any(1).mean()),
                "p5": float(hit[present, :5].mean()), "map": float(ap[present].mean()),
                "top1": float(((audio @ classes.T).argmax(1) == labels).mean()),
                "invariance": float(np.abs(together - alone).max()),
            }
            log(f"quality {variant}: R@5 {results[variant]['r5']:.3f}, mAP {results[variant]['map']:.3f}, top-1 {results[variant]['top1']:.3f} "
                f"({time.perf_counter() - t0:.0f} s)")
            del embedder
            gc.collect()
    ref = results["reference"]["audio"]
    base = results.get("fp32", results["reference"])
    lines = ["## Quality cost of the inference variants (real default model, ESC-50)", "",
             f"Package default model (`default_model_dir()`: {model_dir}), ESC-50 fold {fold} of {esc50} "
             f"({len(data.audio)} clips of 5 s, {int(present.sum())} classes), batch {batch_size}. "
             "Text-to-audio R@k: a query is a class (prompt ensemble of the package's zero-shot templates), a "
             "hit is any clip of that class in its top k. Zero-shot top-1: audio-to-class accuracy. cosine = per "
             "clip, to the reference path (transformers' layers, fp32). Batch invariance: the first 8 clips cut to "
             "5, 4.5, ..., 1.5 s, alone vs in one padded batch (max abs difference). R@5 saturates on this fold, so the finer "
             "t2a P@5 (share of a query's top 5 from its class) and mAP (over the whole ranking) are given too.", "",
             "| variant | cosine to reference (min) | cosine (mean) | t2a R@1 | t2a R@5 | R@5 delta vs fp32 (points) | "
             "t2a P@5 | t2a mAP | mAP delta (points) | zero-shot top-1 | top-1 delta (points) | "
             "batch invariance (max abs) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for variant in order:
        r = results[variant]
        cos = (r["audio"] * ref).sum(1) / (np.linalg.norm(r["audio"], axis=1) * np.linalg.norm(ref, axis=1))
        lines.append(f"| {variant} | {cos.min():.6f} | {cos.mean():.6f} | {100 * r['r1']:.1f} | {100 * r['r5']:.1f} | "
                     f"{100 * (r['r5'] - base['r5']):+.1f} | {100 * r['p5']:.1f} | {100 * r['map']:.1f} | "
                     f"{100 * (r['map'] - base['map']):+.1f} | {100 * r['top1']:.1f} | "
                     f"{100 * (r['top1'] - base['top1']):+.1f} | {r['invariance']:.1e} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ streaming
def stream_table(minutes: float, batch_size: int, log: Callable[[str], None]) -> str:
    """Peak RSS of the Embedder over a generated set of 10 s wav files (`minutes` in total) vs a tenth of it."""
    import tempfile

    import soundfile as sf

    from wavlink.builders.wavlink import create_model
    from wavlink.inference import Embedder

    model, processor = create_model("base", tokenizer="byte-level")
    embedder = Embedder(model, processor, device="cpu", batch_size=batch_size)
    n_files = max(10, int(round(minutes * 6)))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(n_files):
            paths.append(os.path.join(folder, f"{i:05d}.wav"))
            sf.write(paths[-1], make_clip(10.0, 16000, seed=i), 16000)
        embedder.encode_audio(paths[:batch_size])  # warm-up
        for n in (n_files // 10, n_files):
            gc.collect()
            t0 = time.perf_counter()
            with RssSampler(interval=0.01) as mem:
                out = embedder.encode_audio(paths[:n])
            rows.append((n, n * 10 / 60, out.shape, mem.delta_mb, time.perf_counter() - t0))
            log(f"stream {n} files: peak +{mem.delta_mb:.0f} MB, {rows[-1][-1]:.0f} s")
    lines = ["## Streaming a file set at constant memory", "",
             f"`Embedder.encode_audio(paths)` (WavLink base, random weights, batch {batch_size}) over generated "
             "10 s wav files: files are decoded batch by batch inside each processor call (never all up front), "
             "so the peak RSS above the loaded model should not grow with the number of files.", "",
             "| files | audio (min) | peak MB above the model | wall s |", "|---:|---:|---:|---:|"]
    lines += [f"| {n} | {m:.0f} | {mb:.0f} | {s:.0f} |" for n, m, _, mb, s in rows]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default=DEFAULT_PRESETS,
                   help="comma list: WavLink presets (base, small, ...), omni:<preset>, or all = every preset "
                        f"of both families that fits in memory (default {DEFAULT_PRESETS})")
    p.add_argument("--batch-sizes", default=DEFAULT_BATCH_SIZES, help=f"comma list (default {DEFAULT_BATCH_SIZES})")
    p.add_argument("--lengths", default=DEFAULT_LENGTHS, help=f"clip lengths in seconds (default {DEFAULT_LENGTHS})")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (median; default 3)")
    p.add_argument("--references", default=",".join(REFERENCES),
                   help=f"comma list of reference systems to run next to the presets (default: both, "
                        f"{','.join(REFERENCES)}; 'none' for none)")
    p.add_argument("--no-references", action="store_true", help="skip CLAP and the 30 s-padded Whisper encoder")
    p.add_argument("--max-measure-s", type=float, default=90.0,
                   help="skip a measurement estimated to take longer than this (default 90)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="stop starting measurements that would end after this many seconds of the run "
                        "(they are listed as skipped); default: no limit")
    p.add_argument("--target", default="wavlink:base", help="system whose ratios are printed")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"inference variants of the target to time next to it (comma list of {', '.join(VARIANTS)}; "
                        "default all; fp32 = the target itself)")
    p.add_argument("--esc50", default=None, help="ESC-50 folder: add the quality table of the variants (real "
                                                 "default model)")
    p.add_argument("--fold", type=int, default=5, help="ESC-50 fold for --esc50 (default 5)")
    p.add_argument("--stream-minutes", type=float, default=0,
                   help="add the streaming memory check over this many minutes of 10 s files (e.g. 60)")
    p.add_argument("--no-speed", action="store_true", help="skip the timing table (only --esc50/--stream-minutes)")
    p.add_argument("--quick", action="store_true", help="base + references, batch 1, 10 s, 1 repeat")
    p.add_argument("--out", default=None, help="write the markdown table here")
    args = p.parse_args(argv)
    if args.quick:
        args.presets, args.batch_sizes, args.lengths, args.repeats = "base", "1", "10", 1
    refs = [] if args.no_references or args.references.strip() == "none" else \
        [r.strip() for r in args.references.split(",") if r.strip()]
    unknown = [r for r in refs if r not in REFERENCES]
    if unknown:
        p.error(f"unknown reference(s) {unknown}; choose from {', '.join(REFERENCES)} or none")
    args.references = list(dict.fromkeys(refs))
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        p.error(f"unknown variant(s) {bad}; choose from {', '.join(VARIANTS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    batches = [int(x) for x in args.batch_sizes.split(",") if x.strip()]
    lengths = [float(x) for x in args.lengths.split(",") if x.strip()]
    if not batches or not lengths or min(batches) < 1 or min(lengths) <= 0 or args.repeats < 1:
        raise SystemExit("batch sizes, lengths and repeats must be positive")
    specs = expand_presets(args.presets)
    if args.target in specs:  # the variants right after the target, so they share its memory group
        at = specs.index(args.target) + 1
        specs[at:at] = [f"{args.target}@{v}" for v in args.variants if v != "fp32"]
    specs += args.references

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads; systems: {', '.join(specs)}")
    t0 = time.perf_counter()
    presets = [x for x in specs if x not in REFERENCES]
    references = [x for x in specs if x in REFERENCES]
    groups, rows = plan_groups(presets, log)
    if not groups:
        groups = [[]]
    deadline = t0 + args.budget_s if args.budget_s else None
    protected = (args.target, *[f"{args.target}@{v}" for v in args.variants], *REFERENCES)
    if args.no_speed:
        groups = []
    for i, group in enumerate(groups):
        rows += run_group(group + references, batches, lengths, args.repeats, args.max_measure_s, i, log,
                          protected=protected, deadline=deadline)
    command = "python scripts/bench_embed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(rows, args.target, command.strip(), args.repeats) if not args.no_speed else ""
    if args.esc50:
        table += "\n" + quality_table(args.esc50, args.fold, args.variants, 8, log)
    if args.stream_minutes:
        table += "\n" + stream_table(args.stream_minutes, 8, log)
    print(table)
    systems = [args.target] + [s for s in dict.fromkeys(r.system for r in rows)
                               if s != args.target and s not in REFERENCES]
    for system in systems:
        for batch, seconds, vs_clap, vs_whisper in ratios(rows, system):
            print(f"{system} batch {batch}, {seconds:g} s clips: {_ratio(vs_clap)} CLAP, "
                  f"{_ratio(vs_whisper)} Whisper-base 30 s padded")
    log(f"total {time.perf_counter() - t0:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
