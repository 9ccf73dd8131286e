"""Every code block of README.md, run the way a reader runs it, on a tiny model.

A reader replaces the README's names with their own; this test makes the same replacements, and only these:

* the model: ``wavlink-default`` (the default model's folder), ``org/wavlink-base`` and ``M`` become TINY, a
  tiny random WavLink whose projection is 384-d like the default model's (Matryoshka dims 384/192/96/48, so
  ``--dim 96`` and ``truncate_dim=96`` run unchanged); a command that uses the default model (no ``--model``:
  ``index``, ``app``) gets ``--model TINY`` appended. The quick start alone runs the real default model.
* files and folders: ``dog.wav`` and ``rain.flac`` (44.1 kHz stereo) are synthetic clips in the block's working
  folder; ``~/`` is a scratch home holding ``sounds/`` and ``Music/samples/`` (synthetic clips) and ``data/``,
  the tests' tiny copies of each public set in its published layout (tests/public_fixtures.py);
  ``data/<set>`` for ``wavlink eval`` are tiny copies of the layouts docs/evaluation.md describes;
  ``my_sounds/captions.csv`` is 24 synthetic clips with captions.
* ``.venv/bin/`` is the interpreter running the tests (the venv ``.ci/run`` makes with the same commands),
  except in the quick start, which makes a fresh venv in a scratch folder; ``sudo`` is dropped when the
  machine has none (CI runs as root).
* ``wavlink app`` also gets ``--port <a free port>``; it must serve its page, then it is stopped.

Lines that need what no machine of this project has are checked as far as possible instead of run, each with
its reason in ``CHECK_ONLY``: their arguments are parsed by the real command-line parser (training configs are
resolved with ``--dry-run``). ``bash .ci/run`` is the runner of this very test and is not run inside it.
A README block this file does not know fails `test_every_block_is_known`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import REPO_ROOT, make_clip, make_tone

pytestmark = pytest.mark.slow

README = REPO_ROOT / "README.md"
BIN = Path(sys.executable).parent
TINY_DIMS = [384, 192, 96, 48]


# ------------------------------------------------------------------------------------------- the blocks
def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block with a language, in order."""
    return re.findall(r"^```(python|bash)\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def block_key(text: str) -> str:
    """A block's name: its first line that is not blank, a comment or an import."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "import ", "from ")):
            return stripped.split("  #")[0].strip()[:40]
    raise AssertionError(f"empty block: {text!r}")


def block(key: str) -> str:
    found = [text for _, text in readme_blocks() if block_key(text) == key[:40]]
    assert len(found) == 1, f"README block {key!r}: found {len(found)}"
    return found[0]


KEYS = {
    "quick_start": "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0",
    "tests": "bash .ci/run",
    "automodel": 'model = AutoModel.from_pretrained("wavlink-default", trust_r',
    "sentence_transformers": 'st = SentenceTransformer("wavlink-default", trust_remote_c',
    "pipeline": 'clf = pipeline("zero-shot-audio-classification", model="wav',
    "app": '.venv/bin/pip install -e ".[app]" && .venv/bin/wavlink app --',
    "browser": "sudo apt-get install -y chromium && .venv/bin/pip install p",
    "omni_build": "wavlink build --family omni --audio-encoder Qwen/Qwen2.5-Om",
    "prepare": "wavlink prepare audioset-strong ~/data/audioset_strong --on",
    "finetune": "wavlink finetune --model org/wavlink-base --data my_sounds/",
    "peft": 'model = PeftModel.from_pretrained(AutoModel.from_pretrained("',
    "train": "wavlink train --stage 1 --config scripts/configs/wavlink-base",
    "eval_intro": "wavlink eval --model org/wavlink-base --task clotho --data d",
    "eval_tables": "wavlink eval --model M --task audiocaps --data data/audioca",
    "index": "wavlink index ~/sounds --out sounds.idx",
    "push": "wavlink push --model out/base --repo my-org/wavlink-base --re",
}

# line prefix -> why the line is checked (parsed, or resolved with --dry-run) instead of run
CHECK_ONLY = {
    "wavlink build --family omni": "downloads 1-60 GB Qwen checkpoints from the Hub (none reachable here)",
    "wavlink train --stage": "the base preset's Whisper/CLIP checkpoints and the stage's datasets are not here; "
                             "the config is resolved with --dry-run",
    "accelerate launch --num-processes 8 scripts/train.py": "8 GPUs and the large preset's checkpoints; the same "
                                                            "arguments are resolved by scripts/train.py --dry-run",
    "wavlink push --model out/base": "uploads to the Hub (no network; tests/hub/ drive it against a mocked Hub)",
    "wavlink push --all-sizes --org my-org --from-pretrained": "downloads every preset's checkpoints",
    "wavlink push --model adapter": "uploads to the Hub",
    "wavlink push --all-sizes --org my-org --tokenizer": "each 7B Omni preset needs ~31 GB of RAM (this machine: 24)",
}


def test_every_block_is_known():
    keys = [block_key(text) for _, text in readme_blocks()]
    assert sorted(keys) == sorted(k[:40] for k in KEYS.values()), "a README block was added or changed: teach tests/test_readme.py"


# ------------------------------------------------------------------------------------------- the setting
@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random", seed=5, projection_dim=384)
    assert list(model.config.matryoshka_dims) == TINY_DIMS
    return save_model_folder(model, processor, tmp_path_factory.mktemp("readme") / "tiny")


def write_clips(folder: Path, n: int, sr: int = 16000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        paths.append(folder / f"clip{i:02d}.wav")
        sf.write(paths[-1], make_clip(0.6 + 0.1 * (i % 4), seed=40 + i, sr=sr), sr)
    return paths


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """The reader's ~: sounds, samples and the public sets' published layouts under data/."""
    import public_fixtures as fx

    root = tmp_path_factory.mktemp("home")
    write_clips(root / "sounds", 6)
    write_clips(root / "Music" / "samples", 5)
    data = root / "data"
    fx.ontology(data)
    for build in (fx.audioset_strong, fx.fsd50k, fx.clotho, fx.urbansound8k, fx.audiocaps):
        build(data)
    tau = fx.macs(data) / "TAU-urban-acoustic-scenes-2019-development"
    shutil.move(str(tau), str(data / tau.name))  # where the README expects TAU's audio
    shutil.move(str(data / "audiocaps" / "audio"), str(data / "audiocaps_audio"))
    return root


def workdir(tmp_path: Path) -> Path:
    """A reader's working folder with dog.wav and rain.flac."""
    sf.write(tmp_path / "dog.wav", make_clip(1.2, seed=1), 16000)
    tone = make_tone(1.5, 44100, (300.0, 900.0))
    sf.write(tmp_path / "rain.flac", np.stack([tone, 0.5 * tone], axis=1), 44100)
    return tmp_path


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1", **extra}


def shell_lines(text: str) -> list[str]:
    """The block's commands: continuations joined, comments dropped."""
    text = text.replace("\\\n", " ")
    lines = []
    for line in text.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def substitute(line: str, tiny: Path, home: Path | None = None) -> str:
    line = re.sub(r"--model (org/wavlink-base|M|wavlink-default)(?=\s|$)", f"--model {tiny}", line)
    line = line.replace(".venv/bin/", f"{BIN}/")
    if home is not None:
        line = line.replace("~/", f"{home}/")
    if re.search(r"(^|\s|/)wavlink (index|app|demo)\b|-m wavlink index\b", line) and "--model" not in line:
        line += f" --model {tiny}"
    return line


def run_shell(line: str, cwd: Path, timeout: float = 600, **extra: str) -> str:
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", line], cwd=cwd, env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{line}\n-> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout


def run_python(code: str, cwd: Path, tiny: Path, check: str = "") -> str:
    code = code.replace('"wavlink-default"', repr(str(tiny))).replace('"org/wavlink-base"', repr(str(tiny)))
    script = cwd / "readme_block.py"
    script.write_text(code + "\n" + check)
    proc = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"{code}\n-> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout


def check_only(line: str) -> str:
    """Parse a line that cannot run here with the real parser; returns the reason it is not run."""
    reason = next((why for prefix, why in CHECK_ONLY.items() if line.startswith(prefix)), None)
    assert reason, f"{line!r} is neither run nor listed in CHECK_ONLY"
    from wavlink.cli import build_parser

    argv = shlex.split(line)
    if argv[0] == "wavlink":
        build_parser().parse_args(argv[1:])
    return reason


# ------------------------------------------------------------------------------------------- the tests
def test_quick_start_on_a_fresh_venv(tmp_path):
    """The first block as written, with .venv in a scratch folder (pip really installs, the default model is
    really assembled, in a scratch cache, and the demo really runs)."""
    venv = tmp_path / "venv"
    (line,) = shell_lines(block(KEYS["quick_start"]))
    line = line.replace("python3 -m venv .venv", f"python3 -m venv {venv}").replace(".venv/bin/", f"{venv}/bin/")
    out = run_shell(line, REPO_ROOT, timeout=1500, WAVLINK_CACHE=str(tmp_path / "cache"), PYTHONPATH="")
    assert "[ok]" in out or "[missed]" in out, out[-2000:]


def test_the_test_command_is_ci_run():
    assert shell_lines(block(KEYS["tests"])) == ["bash .ci/run"]
    script = (REPO_ROOT / ".ci" / "run").read_text()
    subprocess.run(["bash", "-n", str(REPO_ROOT / ".ci" / "run")], check=True)
    assert "pytest" in script and '-m "not slow"' not in script  # the whole suite: slow and browser tests too


def test_automodel_block(tiny, tmp_path):
    run_python(block(KEYS["automodel"]), workdir(tmp_path), tiny, check=(
        "assert a.shape == (2, 384) and t.shape == (2, 384) and scores.shape == (2, 2)\n"
        "with torch.inference_mode():  # the example's call is the fast path: no encoder states computed\n"
        "    assert model.get_audio_features(**audio).last_hidden_state is None\n"))


def test_sentence_transformers_block(tiny, tmp_path):
    code = block(KEYS["sentence_transformers"])
    # the three encode calls, kept, so their shapes can be checked
    lines = code.splitlines()
    kept = [re.sub(r"^st\.encode", f"r{i} = st.encode", line) for i, line in enumerate(lines)]
    out = run_python("\n".join(kept), workdir(tmp_path), tiny,
                     check="print(sorted(v.shape for k, v in dict(globals()).items() if k[:1] == 'r' and k[1:].isdigit()))")
    assert out.strip().splitlines()[-1] == "[(1, 96), (1, 384), (2, 384)]", out


def test_pipeline_block(tiny, tmp_path):
    code = block(KEYS["pipeline"])
    code = code.replace('clf("dog.wav"', 'first = clf("dog.wav"').replace('clf({"raw"', 'second = clf({"raw"')
    out = run_python(code, workdir(tmp_path), tiny, check=(
        "for r in (first, second):\n"
        "    assert sorted(x['label'] for x in r) == ['cat', 'dog', 'rain'], r\n"
        "    assert abs(sum(x['score'] for x in r) - 1) < 1e-5\n"
        "print(type(clf).__name__)"))
    assert out.strip().splitlines()[-1] == "WavLinkZeroShotAudioClassificationPipeline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_block(tiny, home, tmp_path):
    pytest.importorskip("gradio", reason="the app extras are installed by .ci/run")
    (line,) = shell_lines(block(KEYS["app"]))
    install, serve = (part.strip() for part in line.split("&&"))
    run_shell(substitute(install, tiny, home), REPO_ROOT, timeout=900)
    port = free_port()
    serve = substitute(serve, tiny, home) + f" --port {port}"
    proc = subprocess.Popen(shlex.split(serve), cwd=tmp_path, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 300, None
        while time.monotonic() < deadline and proc.poll() is None and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode("utf-8", "replace")
            except OSError:
                time.sleep(1)
        assert page is not None, f"the app never served its page (exit {proc.poll()})"
        assert "gradio" in page.lower()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_browser_block(tmp_path):
    """Installs chromium and the browser-test tools as written and runs the browser test."""
    lines = shell_lines(block(KEYS["browser"]))
    assert len(lines) == 2
    install, run = lines
    if shutil.which("sudo") is None:
        install = install.replace("sudo ", "")
    if shutil.which("chromium") is None:
        run_shell("apt-get update -qq", tmp_path, timeout=600)
    run_shell(substitute(install, Path("unused")), REPO_ROOT, timeout=900)
    out = run_shell(substitute(run, Path("unused")), REPO_ROOT, timeout=900)
    assert re.search(r"\b[1-9]\d* passed", out) and "failed" not in out, out[-2000:]
    assert "test_app_browser" not in out, out[-2000:]  # a skip or a failure would name it


def test_omni_build_block():
    lines = shell_lines(block(KEYS["omni_build"]))
    assert len(lines) == 3
    from wavlink import OMNI_PRESETS

    assert "omni-7b-l10" in OMNI_PRESETS
    for line in lines:
        check_only(line)


def test_prepare_block(home, tmp_path):
    lines = shell_lines(block(KEYS["prepare"]))
    assert len(lines) == 6
    for line in lines:
        run_shell(substitute(line, Path("unused"), home), tmp_path)
    for name in ("audioset_strong", "fsd50k", "clotho", "urbansound8k", "macs", "audiocaps"):
        assert (tmp_path / "data" / name / "prepare_report.json").is_file(), name


@pytest.fixture(scope="module")
def finetuned(tiny, tmp_path_factory) -> Path:
    cwd = workdir(tmp_path_factory.mktemp("finetune"))
    clips = write_clips(cwd / "my_sounds", 24)
    words = ["a low hum", "a bright whistle", "a soft click"]
    rows = ["audio,caption"] + [f"{p.name},{words[i % 3]} number {i}" for i, p in enumerate(clips)]
    (cwd / "my_sounds" / "captions.csv").write_text("\n".join(rows) + "\n")
    (line,) = shell_lines(block(KEYS["finetune"]))
    run_shell(substitute(line, tiny), cwd, timeout=1200)
    return cwd


def test_finetune_block(finetuned):
    assert (finetuned / "my-adapter" / "adapter_config.json").is_file()
    assert (finetuned / "my-adapter" / "merged" / "config.json").is_file()


def test_peft_block(tiny, finetuned):
    out = run_python(block(KEYS["peft"]), finetuned, tiny, check="print(type(model).__name__)")
    assert out.strip().splitlines()[-1] == "PeftModel"


def test_train_block(tmp_path):
    lines = shell_lines(block(KEYS["train"]))
    assert len(lines) == 4
    for line in lines:
        reason = check_only(line)
        assert reason
        argv = shlex.split(line)
        if argv[:2] == ["accelerate", "launch"]:
            argv = [sys.executable] + argv[argv.index("scripts/train.py"):]
        out = run_shell(shlex.join(argv + ["--dry-run"]), REPO_ROOT)
        assert '"stage"' in out or '"learning_rate"' in out, out[-1500:]


def write_eval_layouts(root: Path) -> None:
    """Tiny copies of the layouts docs/evaluation.md describes, under root/data."""
    from wavlink.evaluation import benchmarks

    data = root / "data"

    def clip(path: Path, i: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, make_clip(0.5 + 0.1 * i, seed=60 + i), 16000)

    def csv(path: Path, rows: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n")

    rows = ["file_name," + ",".join(f"caption_{k}" for k in range(1, 6))]
    for i in range(3):
        clip(data / "clotho" / "evaluation" / f"clip {i}.wav", i)
        rows.append(f"clip {i}.wav," + ",".join(f"caption {k} of clip {i}" for k in range(1, 6)))
    csv(data / "clotho" / "clotho_captions_evaluation.csv", rows)
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for i in range(6):
        name = f"{1 + i % 2}-1000{i}-A-{i % 3}.wav"
        clip(data / "ESC-50-master" / "audio" / name, i)
        rows.append(f"{name},{1 + i % 2},{i % 3},{['dog', 'rain', 'siren'][i % 3]},False,{1000 + i},A")
    csv(data / "ESC-50-master" / "meta" / "esc50.csv", rows)
    rows = ["audiocap_id,youtube_id,start_time,caption"]
    for i, ytid in enumerate(["abcDEF12345", "x-y_z000001", "gone0000000"]):
        rows += [f"{100 + 2 * i},{ytid},30,caption one of clip {i}", f"{101 + 2 * i},{ytid},30,caption two of clip {i}"]
        if ytid != "gone0000000":  # one clip missing: --skip-missing
            clip(data / "audiocaps" / "audio" / "test" / f"{ytid}_30.wav", i)
    csv(data / "audiocaps" / "test.csv", rows)
    rows = []
    for i, label in enumerate(["dog barking", "people marching, crowd", "rain on surface", "dog barking"]):
        rows.append(f'vid{i:08d},{10 * i},"{label}",test')
        clip(data / "vggsound" / "audio" / "test" / f"vid{i:08d}_{10 * i}.wav", i)
    csv(data / "vggsound" / "vggsound.csv", rows)
    names = list(benchmarks.US8K_CLASSES)
    rows = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for i in range(4):
        fold, cid = 1 + i % 2, [3, 8][i % 2]
        name = f"{100 + i}-{cid}-0-{i}.wav"
        clip(data / "UrbanSound8K" / "audio" / f"fold{fold}" / name, i)
        rows.append(f"{name},{100 + i},0.0,0.5,1,{fold},{cid},{names[cid]}")
    csv(data / "UrbanSound8K" / "metadata" / "UrbanSound8K.csv", rows)


@pytest.mark.parametrize("key", ["eval_intro", "eval_tables"])
def test_eval_blocks(tiny, tmp_path, key):
    write_eval_layouts(tmp_path)
    lines = shell_lines(block(KEYS[key]))
    for line in lines:
        run_shell(substitute(line, tiny), tmp_path, WAVLINK_CACHE=str(tmp_path / "cache"))
    outputs = [shlex.split(line)[shlex.split(line).index("--output") + 1] for line in lines]
    assert all((tmp_path / out).is_file() for out in outputs), outputs
    if key == "eval_intro":
        assert (tmp_path / "esc50_confusion.png").is_file()  # a zero-shot task without --matryoshka: the confusion matrix


def test_index_block(tiny, home, tmp_path):
    pytest.importorskip("faiss")
    lines = shell_lines(block(KEYS["index"]))
    assert len(lines) == 5
    for line in lines:
        out = run_shell(substitute(line, tiny, home), tmp_path, timeout=900)
    assert (tmp_path / "sounds.idx" / "index.faiss").is_file() and (tmp_path / "sounds-96.idx" / "meta.json").is_file()
    import json

    results = json.loads(out)
    assert len(results) == 2 and "a dog barking" in json.dumps(results)


def test_push_block(tmp_path):
    """The dry run with tiny stand-ins runs (every repo staged and verified offline); the others upload."""
    lines = shell_lines(block(KEYS["push"]))
    assert len(lines) == 5
    for line in lines:
        if "--tiny-standins --dry-run" in line:
            out = run_shell(line, tmp_path, timeout=1200)
            assert "nothing was uploaded" in out and (tmp_path / "hub_out" / "my-org" / "wavlink-base").is_dir(), out
        else:
            check_only(line)
