"""Build the default model's training and evaluation data from every licence-clear real source reachable here.

    python scripts/real_model/build_data.py            # one command on a fresh Debian machine (see below)

What it gathers (details and licences: sources.py, speech.py, gm_render.py; counts: runs/data/build_report.md):
- sound-effect libraries inside Debian game, music and desktop data packages (`apt-get download`, no root
  needed), their file and folder names turned into captions (captions.py);
- speech with known words: Asterisk's prompts and transcripts, espeak-ng sentences in several voices and
  languages, the Free Spoken Digit Dataset (--fsdd: a checkout or bare git clone of
  github.com/Jakobovski/free-spoken-digit-dataset; skipped with a report line when absent);
- General MIDI instruments and drums rendered with fluidsynth from FluidR3 (training) and TimGM6mb (test);
- ESC-50 (../shared/data/esc50): the classes of heldout_esc50.json never enter training (all folds are test
  data); the other classes train on folds 1-4 and are tested on fold 5.
Every clip is decoded once (soundfile), mixed to mono, resampled to 16 kHz (soxr), checked (unreadable, empty,
NaN, silent, shorter than --min-seconds: dropped and counted), cut to --max-seconds windows (a long file gives
at most two: its start and its middle), deduplicated (near-identical spectro-temporal fingerprints of equal
length), capped per source, and scored by the YAMNet teacher (teacher.py). Confident teacher classes become
one extra pseudo-caption per clip; the full 521-class scores are saved for the distillation loss.

A source whose package cannot be downloaded or unpacked, whose copyright file does not state the expected
licence, or whose tool (fluidsynth, espeak-ng) is missing is skipped with a line in the report, never mixed in
silently. Needs, besides the package's own requirements: `pip install ai-edge-litert` (the teacher runtime,
used here only), Debian's `fluidsynth fluid-soundfont-gm timgm6mb-soundfont espeak-ng` (installed with apt-get
when missing and running as root; --no-install to never install).

Outputs (runs/data/): train.csv (audio, caption, split, source), teacher.npz (clip paths, 521 YAMNet scores,
label names), eval/*.csv, clips/ (16 kHz FLAC), build_report.{json,md}. A re-run reuses runs/cache/ and the
decoded clips (delete runs/data/clips.jsonl to redo the gathering).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from captions import (  # noqa: E402
    ESC_NAMES,
    captions_for,
    heldout_hit,
    join_phrases,
    name_words,
    teacher_phrase,
)
from sources import SOURCES, audio_members, fetch_package, licence_problem, package_version  # noqa: E402

ROOT = HERE.parents[1]
SR = 16000
TEACHER_MIN_SCORE = 0.2  # a class at least this confident (mean over windows) names a pseudo-caption
TEACHER_SKIP = {"Silence"}
HUMAN_LABELLED = {"esc50", "fluidr3", "timgm6mb"}  # clean labels: no pseudo-caption (soft labels still used)
SPEECH_AND_RENDERS = ("asterisk", "espeak-ng", "fsdd", "esc50", "fluidr3", "timgm6mb", "ktuberling")  # counted here
TOOLS = {"fluidsynth": ["fluidsynth", "fluid-soundfont-gm", "timgm6mb-soundfont"], "espeak-ng": ["espeak-ng"]}


# ---------------------------------------------------------------------------------------------- one clip

_teacher = None


def _init_worker(yamnet: str) -> None:
    global _teacher
    from teacher import YamnetTeacher

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _teacher = YamnetTeacher(yamnet)


def fingerprint(wave: np.ndarray) -> np.ndarray:
    """Log energies in 16 bands of the clip cut into 32 equal time segments, centred and unit-norm (512-d):
    a file and its re-encoded or renamed copy have cosine ~1, two takes of the same sound clearly less."""
    n = max(len(wave) // 320, 32)
    frames = np.pad(wave, (0, max(0, n * 320 - len(wave))))[: n * 320].reshape(n, 320)
    spec = np.abs(np.fft.rfft(frames * np.hanning(320), axis=1)) ** 2
    edges = np.unique(np.geomspace(1, 161, 17).astype(int))
    bands = np.stack([spec[:, a:b].sum(1) for a, b in zip(edges[:-1], edges[1:])], 1)
    segments = np.stack([seg.mean(0) for seg in np.array_split(bands, 32)])
    x = np.log(segments + 1e-3 * segments.max() + 1e-12).ravel()  # 30 dB floor: silence does not dominate
    x = x - x.mean()
    return (x / (np.linalg.norm(x) + 1e-12)).astype(np.float32)


def process(job: dict) -> dict:
    """Decode, check, window, write (unless the file is used in place), fingerprint and teacher-score a clip."""
    import soundfile as sf
    import soxr

    data, out = job.pop("data"), job.get("out")
    try:
        if isinstance(data, tuple):
            wave, sr = data
            wave = np.asarray(wave, dtype=np.float32)
        else:
            wave, sr = sf.read(io.BytesIO(data) if isinstance(data, bytes) else data, dtype="float32", always_2d=True)
            wave = wave.mean(1)
    except Exception as e:  # noqa: BLE001 - any decoder error is a bad file
        return {**job, "problem": f"unreadable ({type(e).__name__})"}
    if wave.size == 0:
        return {**job, "problem": "empty"}
    if not np.isfinite(wave).all():
        return {**job, "problem": "NaN/inf samples"}
    if sr != SR:
        wave = soxr.resample(wave, sr, SR).astype(np.float32)
    seconds = len(wave) / SR
    if seconds < job["min_seconds"]:
        return {**job, "problem": "shorter than min_seconds"}
    if np.sqrt(np.mean(wave**2)) < 1e-4:
        return {**job, "problem": "silent"}
    peak = float(np.abs(wave).max())
    if peak > 1.0:
        wave = wave / peak
    n = int(job["max_seconds"] * SR)
    count = 1 if len(wave) <= n else max(1, min(job["max_windows"], len(wave) // n))
    # a long file gives `count` windows spread evenly over it (its start, ..., its end): distinct audio
    starts = [round(k * (len(wave) - n) / (count - 1)) for k in range(count)] if count > 1 else [0]
    windows = []
    for k, start in enumerate(starts):
        piece = wave[start:start + n]
        path = data if (out is None and isinstance(data, str) and len(starts) == 1 and sr == SR) else None
        if path is None:
            target = Path(out or job["fallback_out"])
            target = target.with_name(f"{target.stem}_w{k}.flac") if len(starts) > 1 else target
            target.parent.mkdir(parents=True, exist_ok=True)
            sf.write(target, piece, SR, format="FLAC", subtype="PCM_16")
            path = str(target)
        windows.append({"path": path, "seconds": round(len(piece) / SR, 3), "fp": fingerprint(piece),
                        "scores": _teacher.scores(piece)})
    return {**job, "windows": windows}


# ---------------------------------------------------------------------------------------------- gathering


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sources: dict[str, dict] = {}

    def log(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def source(self, name: str, **info) -> dict:
        entry = self.sources.setdefault(name, {"files": 0, "dropped": Counter(), "kept": 0, "seconds": 0.0})
        entry.update(info)
        return entry


def ensure_tools(install: bool, report: Report) -> set[str]:
    """The synthesis tools present (installing the missing ones with apt-get when allowed and root)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing and install and hasattr(os, "geteuid") and os.geteuid() == 0:
        packages = [p for t in missing for p in TOOLS[t]]
        report.log(f"installing {packages} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True)
    present = {t for t in TOOLS if shutil.which(t)}
    for tool in TOOLS:
        if tool not in present:
            report.log(f"{tool}: not installed: the sources that need it are skipped")
    return present


def library_jobs(args, report: Report, terms: dict[str, str], cache: Path, clips_dir: Path):
    """Jobs for every sound-effect library source that passes the download and licence checks."""
    for source in SOURCES:
        if (args.sources and source.name not in args.sources) or source.name in args.skip_sources:
            continue
        tree = fetch_package(source.package, cache, report.log)
        if tree is None:
            report.source(source.name, package=source.package, skipped="package unavailable")
            continue
        problem = licence_problem(source, tree)
        if problem:
            report.log(f"{source.name}: skipped: licence unclear: {problem}")
            report.source(source.name, package=source.package, skipped=f"licence unclear: {problem}")
            continue
        entry = report.source(source.name, package=source.package, version=package_version(tree),
                              licence=source.licence, description=source.description)
        music = re.compile(source.music) if source.music else None
        for i, (rel, data) in enumerate(audio_members(source, tree)):
            entry["files"] += 1
            hit = heldout_hit([rel], terms) if terms else None
            if hit:
                entry["dropped"][f"names held-out class {hit}"] += 1
                continue
            is_music = bool(music and music.search(rel))
            name = rel.rsplit("/", 1)[-1] if source.file_only else rel
            if source.fixed:
                phrase = source.fixed
            elif source.phrases:
                stem = rel.rsplit("/", 1)[-1]
                phrase = next((v for k, v in source.phrases.items() if stem.startswith(k)), "")
            else:
                phrase = " ".join(name_words(name, source.stopwords))
            if is_music:
                phrase = "game music"
            yield {"id": f"{source.name}/{i:05d}", "source": source.name, "kind": "music" if is_music else "sound",
                   "phrase": phrase, "rel": rel, "data": data, "out": str(clips_dir / source.name / f"{i:05d}.flac")}


def speech_jobs(args, report: Report, tools: set[str], cache: Path, clips_dir: Path, rng: random.Random):
    from speech import asterisk_prompts, espeak_sentences, export_fsdd, spoken_digits

    skip = args.skip_sources
    wav = text = None
    if "asterisk" not in skip:
        wav, text = (fetch_package(p, cache, report.log) for p in ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en"))
    if "asterisk" in skip:
        pass
    elif wav is not None and text is not None:
        problem = licence_problem(_licence_stub("asterisk-core-sounds-en-wav", ("CC-BY-SA-3.0",)), wav)
        if problem:
            report.log(f"asterisk: skipped: licence unclear: {problem}")
        else:
            report.source("asterisk", package="asterisk-core-sounds-en-wav", version=package_version(wav),
                          licence="CC-BY-SA-3.0 (Allison Smith's recordings, Digium)",
                          description="Asterisk telephony prompts with transcripts (a woman)")
            rng = random.Random(f"{args.seed}-asterisk")
            for i, (key, path, caps) in enumerate(asterisk_prompts(wav, text, rng, args.captions_per_clip)):
                yield {"id": key, "source": "asterisk", "kind": "speech", "captions": caps, "rel": key,
                       "data": path, "out": str(clips_dir / "asterisk" / f"{i:05d}.flac")}
    else:
        report.source("asterisk", skipped="package unavailable")
    if "espeak-ng" in skip:
        pass
    elif "espeak-ng" in tools:
        rng = random.Random(f"{args.seed}-espeak-ng")
        report.source("espeak-ng", package="espeak-ng", licence="GPL-3+ (the synthesiser; sentences written here)",
                      description="synthetic speech: English sentences in random voices, 8 other languages")
        for i, (key, data, caps) in enumerate(espeak_sentences(rng, args.captions_per_clip)):
            yield {"id": key, "source": "espeak-ng", "kind": "speech", "captions": caps, "rel": key, "data": data,
                   "out": str(clips_dir / "espeak" / f"{i:05d}.flac")}
    else:
        report.source("espeak-ng", skipped="espeak-ng not installed")
    from speech import ASTERISK_LANGUAGES, asterisk_language_prompts, ktuberling_words

    more = [(f"asterisk-{lang.lower()}", package, ("CC-BY-SA-3.0",), "CC-BY-SA-3.0 (Digium)",
             f"Asterisk telephony prompts in {lang} ({who})", lambda tree, p=package: asterisk_language_prompts(tree, p))
            for package, (_, lang, who) in ASTERISK_LANGUAGES.items()]
    more.append(("ktuberling", "ktuberling-data", ("CC0",), "CC0 / GPL-2+ (per file)",
                 "KTuberling's spoken object names in 23 languages", ktuberling_words))
    for name, package, markers, licence, description, generate in more:
        if name in skip:
            continue
        tree = fetch_package(package, cache, report.log)
        problem = licence_problem(_licence_stub(package, markers), tree) if tree is not None else "package unavailable"
        if problem:
            report.log(f"{name}: skipped: {problem}")
            report.source(name, package=package, skipped=problem)
            continue
        report.source(name, package=package, version=package_version(tree), licence=licence, description=description)
        for i, (key, path, caps) in enumerate(generate(tree)):
            yield {"id": key, "source": name, "kind": "speech", "captions": caps, "rel": key, "data": path,
                   "out": str(clips_dir / name / f"{i:05d}.flac")}
    if "fsdd" in skip:
        return
    rng = random.Random(f"{args.seed}-fsdd")
    folder = export_fsdd(Path(args.fsdd), cache / "fsdd") if args.fsdd else None
    if folder is None:
        report.log("fsdd: skipped: no --fsdd checkout or bare clone of Jakobovski/free-spoken-digit-dataset given")
        report.source("fsdd", skipped="not available (--fsdd)")
        return
    report.source("fsdd", package="github.com/Jakobovski/free-spoken-digit-dataset", licence="CC-BY-SA-4.0",
                  description="Free Spoken Digit Dataset (6 male speakers, 8 kHz)")
    for i, (key, path, caps) in enumerate(spoken_digits(folder, rng, args.captions_per_clip)):
        yield {"id": key, "source": "fsdd", "kind": "speech", "captions": caps, "rel": key, "data": path,
               "out": str(clips_dir / "fsdd" / f"{i:05d}.flac")}


def _licence_stub(package: str, markers: tuple[str, ...]):
    from sources import Source

    return Source(package, package, "", markers, "")


def gm_jobs(args, report: Report, tools: set[str], cache: Path, terms: dict[str, str], rng: random.Random):
    from gm_render import render_soundfont

    fonts = {"fluidr3": ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "MIT", "train"),
             "timgm6mb": ("/usr/share/sounds/sf2/TimGM6mb.sf2", "GPL-2", "test")}
    for name, (sf2, licence, split) in fonts.items():
        if name in args.skip_sources:
            continue
        if "fluidsynth" not in tools or not os.path.isfile(sf2):
            report.log(f"{name}: skipped: fluidsynth or {sf2} missing")
            report.source(name, skipped="fluidsynth or soundfont missing")
            continue
        report.source(name, package=Path(sf2).name, licence=licence,
                      description=f"General MIDI instruments and drums rendered with fluidsynth ({split})")
        rows = render_soundfont(sf2, cache / "gm" / name, random.Random(0 if split == "train" else 1),
                                args.gm_variants if split == "train" else 1)
        for i, row in enumerate(rows):
            hit = heldout_hit([row["label"]], terms) if terms else None
            if hit and split == "train":
                report.source(name)["dropped"][f"names held-out class {hit}"] += 1
                continue
            yield {"id": f"{name}/{i:05d}", "source": name, "kind": row["kind"], "phrase": row["label"],
                   "rel": Path(row["audio"]).name, "data": row["audio"], "out": None, "split": split}


def esc50_jobs(args, report: Report, heldout: list[str]):
    if "esc50" in args.skip_sources:
        return
    esc = Path(args.esc50)
    if not (esc / "manifest.csv").is_file():
        report.log(f"esc50: skipped: {esc}/manifest.csv not found")
        report.source("esc50", skipped="not found")
        return
    report.source("esc50", package="ESC-50 (40 of 50 classes, ../shared/data/esc50)", licence="CC BY-NC 3.0",
                  description="environmental recordings from freesound.org (Piczak 2015)")
    with open(esc / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            label, fold = row["label"], int(row["fold"])
            split = "unseen" if label in heldout else ("test" if fold == 5 else "train")
            yield {"id": f"esc50/{Path(row['audio']).stem}", "source": "esc50", "kind": "sound",
                   "phrase": ESC_NAMES[label], "label": label, "fold": fold, "rel": row["audio"],
                   "data": str(esc / row["audio"]), "out": None, "split": split}


def _save_source(folder: Path, name: str, clips: list[dict], entry: dict) -> None:
    """One source's processed clips, written atomically (the .json, written last, marks it complete)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = name.replace("/", "_")
    arrays = {"fp": np.stack([c["fp"] for c in clips]) if clips else np.zeros((0, 512), np.float32),
              "scores": (np.stack([c["scores"] for c in clips]) if clips else np.zeros((0, 521))).astype(np.float16)}
    tmp = folder / f".{key}.npz"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, folder / f"{key}.npz")
    meta = {"clips": [{k: v for k, v in c.items() if k not in ("fp", "scores")} for c in clips],
            "entry": {**entry, "dropped": dict(entry["dropped"])}}
    tmp = folder / f".{key}.json"
    tmp.write_text(json.dumps(meta) + "\n")
    os.replace(tmp, folder / f"{key}.json")


def _load_sources(folder: Path, report: Report) -> dict[str, list[dict]]:
    done = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        meta = json.loads(path.read_text())
        clips = meta["clips"]
        with np.load(path.with_suffix(".npz")) as z:
            for c, fp, sc in zip(clips, z["fp"], z["scores"]):
                c["fp"], c["scores"] = fp, sc.astype(np.float32)
        entry = dict(meta["entry"])
        name = entry.pop("name", None) or path.stem
        report.source(name, **{**entry, "dropped": Counter(entry["dropped"])})
        report.log(f"{name}: reusing {len(clips)} processed clips")
        done[name] = clips
    return done


def gather(args, report: Report, out: Path) -> list[dict]:
    """Every clip, processed; each source is cached in out/gather/ once complete, so a killed build resumes
    at the source it was in (delete out/gather/<source>.json to redo one)."""
    folder = out / "gather"
    done = _load_sources(folder, report)
    heldout = json.loads((HERE / "heldout_esc50.json").read_text())
    # the field's protocol (CLAP papers' zero-shot ESC-50): only the held-out classes' ESC-50 clips stay out of
    # training; --class-disjoint also drops every clip of another source whose name names one of those classes
    terms = {t: cls for cls, ts in heldout["terms"].items() for t in ts} if args.class_disjoint else {}
    cache, clips_dir = Path(args.cache), out / "clips"
    rng = random.Random(args.seed)
    tools = ensure_tools(not args.no_install, report)
    args.skip_sources = set(done)

    def jobs():
        for gen in (library_jobs(args, report, terms, cache, clips_dir),
                    speech_jobs(args, report, tools, cache, clips_dir, rng),
                    gm_jobs(args, report, tools, cache, terms, rng), esc50_jobs(args, report, heldout["classes"])):
            for job in gen:
                if job["source"] in done:
                    continue
                job.update(min_seconds=args.min_seconds, max_seconds=args.max_seconds, max_windows=args.max_windows,
                           fallback_out=str(clips_dir / job["id"]) + ".flac")
                yield job

    from tqdm.auto import tqdm

    current, buffer = None, []

    def flush() -> None:
        if current is not None:
            entry = report.source(current)
            entry["name"] = current
            _save_source(folder, current, buffer, entry)
            done[current] = list(buffer)

    with Pool(args.workers, initializer=_init_worker, initargs=(args.yamnet,)) as pool:
        for result in tqdm(pool.imap(process, jobs(), chunksize=4), desc="clips", unit="file", mininterval=10):
            if result["source"] != current:
                flush()
                current, buffer = result["source"], []
            entry = report.source(result["source"])
            if result["source"] in SPEECH_AND_RENDERS or result["source"].startswith("asterisk-"):
                entry["files"] += 1
            if "problem" in result:
                entry["dropped"][result["problem"]] += 1
                continue
            for k, w in enumerate(result.pop("windows")):
                buffer.append({**result, "id": result["id"] + (f"_w{k}" if k else ""), "path": w["path"],
                               "seconds": w["seconds"], "fp": w["fp"], "scores": w["scores"]})
        flush()
    return [c for clips in done.values() for c in clips]


def deduplicate(clips: list[dict], report: Report, threshold: float = 0.995) -> list[dict]:
    """Drop later copies of near-identical clips (same length within 3 %, fingerprint cosine >= threshold).
    ESC-50 and rendered clips are never dropped (each is a distinct recording or render by construction)."""
    order = sorted(range(len(clips)), key=lambda i: clips[i]["seconds"])
    fps = np.stack([clips[i]["fp"] for i in order])
    secs = np.array([clips[i]["seconds"] for i in order])
    protected = {"esc50", "fluidr3", "timgm6mb"}
    drop = set()
    lo = 0
    for pos in range(len(order)):
        while secs[lo] < secs[pos] * 0.97:
            lo += 1
        if pos == lo or clips[order[pos]]["source"] in protected:
            continue
        sims = fps[lo:pos] @ fps[pos]
        alive = [lo + j for j in np.nonzero(sims >= threshold)[0] if order[lo + j] not in drop]
        if alive:
            drop.add(order[pos])
            report.source(clips[order[pos]]["source"])["dropped"]["near-duplicate"] += 1
    return [c for i, c in enumerate(clips) if i not in drop]


def cap_sources(clips: list[dict], report: Report, seed: int, max_share: float) -> list[dict]:
    """Per-source clip caps (sources.py), then no training source above `max_share` of the training hours:
    a source over it keeps a seeded random subset of its clips (iterated, since the total shrinks too)."""
    caps = {s.name: s.cap for s in SOURCES} | {"asterisk": 600, "espeak-ng": 1500, "fsdd": 600}
    by_source, held = defaultdict(list), []
    for c in clips:  # evaluation clips (ESC-50 fold 5 and held-out classes, TimGM6mb) are never capped
        (by_source[c["source"]] if c.get("split", "train") == "train" else held).append(c)
    for name, items in by_source.items():
        random.Random(f"{seed}-{name}").shuffle(items)
        cap = caps.get(name)
        if cap is not None and len(items) > cap:
            report.source(name)["dropped"][f"over the source cap of {cap}"] += len(items) - cap
            del items[cap:]
    for _ in range(20):
        hours = {n: sum(c["seconds"] for c in items) for n, items in by_source.items()}
        total = sum(hours.values())
        over = {n: h for n, h in hours.items() if h > max_share * total * 1.001}
        if not over:
            break
        for name in over:
            items, budget, kept = by_source[name], max_share * total, 0.0
            keep = 0
            while keep < len(items) and kept + items[keep]["seconds"] <= budget:
                kept += items[keep]["seconds"]
                keep += 1
            report.source(name)["dropped"][f"over {max_share:.0%} of the hours"] += len(items) - keep
            del items[keep:]
    return sorted([c for items in by_source.values() for c in items] + held, key=lambda c: c["id"])


# ---------------------------------------------------------------------------------------------- writing


def teacher_captions(scores: np.ndarray, labels: list[str], kind: str) -> str | None:
    top = [j for j in np.argsort(-scores)[:3] if scores[j] >= TEACHER_MIN_SCORE and labels[j] not in TEACHER_SKIP]
    if not top:
        return None
    phrase = join_phrases([teacher_phrase(labels[j]) for j in top[:2]])
    return f"{phrase} music" if kind == "music" and "music" not in phrase else f"the sound of {phrase}"


def clip_captions(clip: dict, labels: list[str], rng: random.Random, n: int) -> list[str]:
    """Name-derived captions (several templates) plus one teacher pseudo-caption when the teacher is confident."""
    if clip.get("captions"):
        captions = list(clip["captions"])
    elif clip["phrase"]:
        kind = "sound" if clip["kind"] == "music" else clip["kind"]
        captions = captions_for(clip["phrase"], kind, rng, n)
    else:
        captions = []
    pseudo = teacher_captions(np.asarray(clip["scores"], dtype=np.float32), labels, clip["kind"])
    if pseudo and clip["kind"] != "speech" and clip["source"] not in HUMAN_LABELLED:
        captions.append(pseudo)
    return captions


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def relative(path: str, base: Path) -> str:
    p = Path(path).resolve()
    return os.path.relpath(p, base) if p.is_relative_to(base) else str(p)


def write_outputs(clips: list[dict], args, report: Report, out: Path, labels: list[str]) -> None:
    rng = random.Random(args.seed)
    train_rows, teacher_keys, teacher_scores = [], [], []
    val_rng = random.Random(f"{args.seed}-validation")
    evals = defaultdict(list)
    for clip in clips:
        split = clip.get("split", "train")
        audio = relative(clip["path"], out)
        if split != "train":
            if clip["source"] == "esc50":
                evals["esc50_unseen" if split == "unseen" else "esc50_fold5"].append(clip)
            elif clip["source"] == "timgm6mb" and clip["kind"] == "instrument":
                evals["timgm6mb_instruments"].append(clip)
            continue
        captions = clip_captions(clip, labels, rng, args.captions_per_clip)
        if not captions:
            report.source(clip["source"])["dropped"]["no caption (no name words, teacher unsure)"] += 1
            continue
        entry = report.source(clip["source"])
        entry["kept"] += 1
        entry["seconds"] += clip["seconds"]
        validation = clip["source"] != "esc50" and val_rng.random() < args.val_fraction
        for caption in captions[:1] if validation else captions:
            train_rows.append({"audio": audio, "caption": caption, "split": "validation" if validation else "train",
                               "source": clip["source"]})
        if not validation:
            teacher_keys.append(audio)
            teacher_scores.append(clip["scores"])
    write_csv(out / "train.csv", train_rows, ["audio", "caption", "split", "source"])
    np.savez_compressed(out / "teacher.npz", audio=np.array(teacher_keys), labels=np.array(labels),
                        scores=np.stack(teacher_scores).astype(np.float16),
                        teacher=np.array("YAMNet (AudioSet, 521 classes), mean sigmoid scores over 0.975 s windows"))
    ev = out / "eval"
    for name in ("esc50_unseen", "esc50_fold5"):
        rows = evals[name]
        write_csv(ev / f"{name}_zeroshot.csv", [{"audio": r["path"], "label": r["label"]} for r in rows],
                  ["audio", "label"])
        write_csv(ev / f"{name}_retrieval.csv",
                  [{"audio": r["path"], "caption": captions_for(r["phrase"], "sound", rng, 1)[0]} for r in rows],
                  ["audio", "caption"])
    write_csv(ev / "timgm6mb_instruments.csv",
              [{"audio": r["path"], "label": r["phrase"]} for r in evals["timgm6mb_instruments"]], ["audio", "label"])
    sounds = ROOT / "wavlink" / "assets" / "sounds"
    write_csv(ev / "animals_cc0.csv", [{"audio": str(p), "label": p.stem} for p in sorted(sounds.glob("*.flac"))],
              ["audio", "label"])
    counts = Counter(r["split"] for r in train_rows)
    report.log(f"train.csv: {counts['train']} training rows, {counts['validation']} validation rows; "
               f"teacher.npz: {len(teacher_keys)} clips; eval: " + ", ".join(f"{k} {len(v)}" for k, v in evals.items()))


def write_report(report: Report, out: Path, args) -> None:
    sources = {k: {**v, "dropped": dict(v["dropped"]), "hours": round(v["seconds"] / 3600, 3)}
               for k, v in report.sources.items()}
    (out / "build_report.json").write_text(json.dumps({"sources": sources, "log": report.lines,
                                                       "args": vars(args)}, indent=2, default=str) + "\n")
    lines = ["| source | package (version) | licence | files | training clips | hours | dropped |",
             "|---|---|---|---|---|---|---|"]
    for name, s in sorted(sources.items()):
        if "skipped" in s:
            lines.append(f"| {name} | {s.get('package', '-')} | - | - | 0 | 0 | skipped: {s['skipped']} |")
            continue
        dropped = "; ".join(f"{k}: {v}" for k, v in sorted(s["dropped"].items())) or "-"
        version = f" ({s['version']})" if s.get("version") else ""
        lines.append(f"| {name} | {s.get('package', '-')}{version} | {s.get('licence', '-')} | {s['files']} | "
                     f"{s['kept']} | {s['hours']:.2f} | {dropped} |")
    total = sum(s["kept"] for s in sources.values())
    hours = sum(s["hours"] for s in sources.values())
    lines.append(f"| **all** | | | | **{total}** | **{hours:.2f}** | |")
    (out / "build_report.md").write_text("\n".join(lines) + "\n\n" + "\n".join(f"- {x}" for x in report.lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "runs" / "data"))
    ap.add_argument("--cache", default=str(ROOT / "runs" / "cache"))
    ap.add_argument("--esc50", default=str(ROOT.parent / "shared" / "data" / "esc50"))
    ap.add_argument("--yamnet", default=str(ROOT.parent / "shared" / "models" / "yamnet"))
    ap.add_argument("--fsdd", default=None, help="checkout or bare git clone of free-spoken-digit-dataset")
    ap.add_argument("--sources", nargs="*", default=None, help="only these library sources (default: all)")
    ap.add_argument("--captions-per-clip", type=int, default=3)
    ap.add_argument("--gm-variants", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.3)
    ap.add_argument("--max-seconds", type=float, default=10.0)
    ap.add_argument("--max-windows", type=int, default=15,
                    help="windows of --max-seconds taken from a long file, spread evenly over it")
    ap.add_argument("--max-share", type=float, default=0.15, help="no source above this share of the hours")
    ap.add_argument("--class-disjoint", action="store_true",
                    help="also drop clips of other sources whose names name a held-out ESC-50 class (stricter "
                         "than the field's protocol)")
    ap.add_argument("--val-fraction", type=float, default=0.04)
    ap.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-install", action="store_true", help="never apt-get install missing synthesis tools")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    clips = gather(args, report, out)
    clips = deduplicate(clips, report)
    clips = cap_sources(clips, report, args.seed, args.max_share)
    with open(Path(args.yamnet) / "yamnet_class_map.csv", newline="") as f:
        labels = [row["display_name"] for row in csv.DictReader(f)]
    write_outputs(clips, args, report, out, labels)
    write_report(report, out, args)
    digest = hashlib.sha256((out / "train.csv").read_bytes()).hexdigest()[:16]
    print(f"train.csv sha256 {digest}")


if __name__ == "__main__":
    main()
