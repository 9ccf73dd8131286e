"""`wavlink --help`, every subcommand's --help and argument errors answer without importing torch,
transformers or numpy (each command imports its heavy dependencies in its run function), and `import wavlink`
stays light until a model class is used. Checked through `sys.modules` in fresh interpreters; the time it
saves is measured by scripts/bench_startup.py (docs/bench_startup.md), not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from helpers import REPO_ROOT

HEAVY = ("torch", "transformers", "numpy", "sentence_transformers", "peft", "accelerate", "gradio")


def _child(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_and_argument_errors_import_nothing_heavy():
    out = _child(f"""
        import contextlib, io, json, sys
        from wavlink.cli import build_parser, main
        codes = {{}}
        commands = sorted(build_parser()._subparsers._group_actions[0].choices)
        for argv in [["--help"], *[[c, "--help"] for c in commands], ["embed"], ["classify", "x.wav"],
                     ["create", "--family", "nope", "--preset", "p", "--out", "o"], ["nonsense"]]:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                try:
                    main(argv)
                except SystemExit as exit:
                    codes[" ".join(argv)] = exit.code
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        print(json.dumps({{"commands": commands, "codes": codes, "heavy": heavy}}))
    """)
    assert len(out["commands"]) >= 17 and {"embed", "search", "finetune", "build", "create"} <= set(out["commands"])
    assert out["codes"]["--help"] == 0 and all(out["codes"][f"{c} --help"] == 0 for c in out["commands"])
    assert out["codes"]["embed"] == out["codes"]["nonsense"] == out["codes"]["classify x.wav"] == 2
    assert out["codes"]["create --family nope --preset p --out o"] == 2
    assert out["heavy"] == []


def test_import_wavlink_is_light_and_a_model_class_registers_the_families():
    out = _child("""
        import json, sys
        import wavlink
        light = "torch" not in sys.modules and "transformers" not in sys.modules
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        before = "wavlink" in CONFIG_MAPPING
        model_class = wavlink.WavLinkModel
        after = sorted(t for t in ("wavlink", "omni_audio_embedder") if t in CONFIG_MAPPING)
        print(json.dumps({"light": light, "before": before, "after": after, "name": model_class.__name__,
                          "version": wavlink.__version__, "all": sorted(set(wavlink.__all__) - set(dir(wavlink)))}))
    """)
    assert out["light"] and out["version"]
    assert out["before"] is False and "wavlink" in out["after"] and len(out["after"]) == 2
    assert out["name"] == "WavLinkModel" and out["all"] == []


def test_light_constants_match_the_library():
    from wavlink.cli import build_parser
    from wavlink.families import FAMILIES
    from wavlink.training.finetune import BATCH_SIZE, EPOCHS, LORA_LR, MIN_STEPS

    args = build_parser().parse_args(["finetune", "--model", "m", "--data", "d.csv", "--out", "o"])
    assert (args.epochs, args.min_steps, args.lr, args.batch_size) == (EPOCHS, MIN_STEPS, LORA_LR, BATCH_SIZE)
    for command in ("create", "build"):
        action = next(a for a in build_parser()._subparsers._group_actions[0].choices[command]._actions
                      if a.dest == "family")
        assert tuple(action.choices) == tuple(sorted(FAMILIES))
