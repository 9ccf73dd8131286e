"""The bad-input catalogue of docs/reliability.md: every entry is a command a user could type, and each must be
refused clearly: a non-zero exit, a `wavlink <command>: error: ...` message naming the problem (and, for bad
clips, every one of them with its manifest line), no traceback, and nothing written or removed. The number of entries is the "bad inputs tried / rejected clearly" figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_clip

from wavlink.cli import main


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A tiny model, good and bad audio, manifests and folders; their paths by name."""
    root = tmp_path_factory.mktemp("bad-inputs")
    assert main(["create", "--preset", "tiny-random", "--out", str(root / "tiny")]) == 0
    (root / "clips").mkdir()
    for i in range(3):
        sf.write(root / "clips" / f"c{i}.wav", make_clip(0.4, seed=i), SR)
    (root / "empty.wav").write_bytes(b"")
    (root / "noise.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    sf.write(root / "cut.wav", make_clip(1.0), SR, subtype="PCM_16")
    (root / "cut.wav").write_bytes((root / "cut.wav").read_bytes()[: 44 + 478 * 2])
    wave = make_clip(1.0)
    wave[100] = np.nan
    sf.write(root / "nan.wav", wave, SR, subtype="FLOAT")
    (root / "no-audio").mkdir()
    (root / "no-audio" / "readme.txt").write_text("x")
    (root / "adapter").mkdir()
    (root / "adapter" / "adapter_config.json").write_text("{}")
    (root / "not-a-model").mkdir()
    other = root / "other-type"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "evilnet", "auto_map": {"AutoModel": "m.M"}}))
    (other / "m.py").write_text("raise SystemExit('this code must not run')\n")
    (root / "exists.npy").write_bytes(b"keep me")
    clips = root / "clips"
    good = "".join(f"{clips}/c{i}.wav,clip {i}\n" for i in range(3))
    manifests = {
        "latin.csv": b"audio,caption\n" + f"{clips}/c0.wav,caf".encode() + b"\xe9\n",
        "columns.csv": f"audio,description\n{clips}/c0.wav,x\n".encode(),
        "broken.jsonl": b'{"audio": "a.wav", "caption": "x"}\n{"audio": \n',
        "missing-clip.csv": f"audio,caption\n{good}{root}/gone.wav,gone\n".encode(),
        "nan-clip.csv": f"audio,caption\n{good}{root}/nan.wav,nan\n".encode(),
        "cut-clip.csv": f"audio,caption\n{good}{root}/cut.wav,cut\n".encode(),
        "good.csv": f"audio,caption\n{good}".encode(),
        "notes.txt": b"audio,caption\n",
    }
    for name, body in manifests.items():
        (root / name).write_bytes(body)
    (root / "finished").mkdir()
    (root / "finished" / "log.jsonl").write_text('{"step": 1}\n')
    assert main(["index", str(clips), "--out", str(root / "idx"), "--model", str(root / "tiny")]) == 0
    assert main(["create", "--preset", "tiny-random", "--seed", "1", "--out", str(root / "tiny1")]) == 0
    paths = {p.name: str(p) for p in root.iterdir()} | {"gone.wav": str(root / "gone.wav")}
    return {name.replace(".", "_").replace("-", "_"): path for name, path in paths.items()} | {"root": str(root)}


M = ["--model", "{tiny}"]
FT = ["finetune", "--model", "{tiny}", "--out", "{root}/ft-out", "--max-steps", "1", "--num-workers", "0", "--data"]
CATALOGUE = [
    # (what, argv, fragment of the one-line error)
    ("audio file missing", ["embed", "{gone_wav}", *M, "--out", "{root}/o.npy"], "audio file not found"),
    ("audio file empty", ["embed", "{empty_wav}", *M, "--out", "{root}/o.npy"], "empty (0 bytes)"),
    ("audio file not audio", ["embed", "{noise_wav}", *M, "--out", "{root}/o.npy"], "cannot decode audio"),
    ("WAV cut short", ["embed", "{cut_wav}", *M, "--out", "{root}/o.npy"], "truncated file"),
    ("NaN samples", ["embed", "{nan_wav}", *M, "--out", "{root}/o.npy"], "NaN or inf"),
    ("output exists", ["embed", "--text", "a", *M, "--out", "{exists_npy}"], "already exists; pass --overwrite"),
    ("output suffix", ["embed", "--text", "a", *M, "--out", "{root}/o.csv"], "--out must end with .npy"),
    ("output folder missing", ["embed", "--text", "a", *M, "--out", "{root}/no/o.npy"], "folder of --out does not"),
    ("untrained --dim", ["embed", "--text", "a", *M, "--dim", "12", "--out", "{root}/o.npy"], "was not trained"),
    ("blank text", ["embed", "--text", "  ", *M, "--out", "{root}/o.npy"], "is empty"),
    ("--top-k -1", ["classify", "{clips}", "--labels", "a,b", *M, "--top-k", "-1"], "must be an integer >= 1"),
    ("duplicate labels", ["classify", "{clips}", "--labels", "a,a", *M], "duplicate labels"),
    ("no labels", ["classify", "{clips}", "--labels", " , ", *M], "no labels"),
    ("search folder missing", ["search", "{root}/nowhere", "q", *M], "no such folder or index"),
    ("search folder without audio", ["search", "{no_audio}", "q", *M], "no decodable audio"),
    ("search without a query", ["search", "{clips}", *M], "at least one text query or --query-audio"),
    ("--index not an index", ["search", "--index", "{clips}", "q"], "is not a wavlink index"),
    ("--index with another model", ["search", "--index", "{idx}", "q", "--model", "{tiny1}"],
     "is not the model this index was built with"),
    ("--index with another --dim", ["search", "--index", "{idx}", "q", "--dim", "16"], "holds 32-d embeddings"),
    ("--model path missing", ["embed", "--text", "a", "--model", "{root}/nope/m", "--out", "{root}/o.npy"],
     "model folder not found"),
    ("--model is an adapter", ["embed", "--text", "a", "--model", "{adapter}", "--out", "{root}/o.npy"],
     "is a LoRA adapter folder"),
    ("--model without config.json", ["embed", "--text", "a", "--model", "{not_a_model}", "--out", "{root}/o.npy"],
     "not a model folder"),
    ("--model with foreign code", ["embed", "--text", "a", "--model", "{other_type}", "--out", "{root}/o.npy"],
     "pass --trust-remote-code"),
    ("--revision of a folder", ["embed", "--text", "a", *M, "--revision", "v1", "--out", "{root}/o.npy"],
     "selects a version of a Hub repo"),
    ("--batch-size 0", ["embed", "--text", "a", *M, "--batch-size", "0", "--out", "{root}/o.npy"], "must be"),
    ("--port 70000", ["app", *M, "--port", "70000"], "must be an integer >= 1 and <= 65535"),
    ("--lr nan", [*FT, "{good_csv}", "--lr", "nan"], "must be a number > 0"),
    ("--val-fraction 1", [*FT, "{good_csv}", "--val-fraction", "1"], "must be a number >= 0 and < 1"),
    ("manifest missing", [*FT, "{root}/none.csv"], "manifest not found"),
    ("manifest type", [*FT, "{notes_txt}"], "unsupported manifest type"),
    ("manifest not UTF-8", [*FT, "{latin_csv}"], "line 2: not UTF-8 text"),
    ("manifest column", [*FT, "{columns_csv}"], "missing column(s) 'caption'"),
    ("manifest JSON", [*FT, "{broken_jsonl}"], "line 2: invalid JSON"),
    ("manifest clip missing", [*FT, "{missing_clip_csv}"], "gone.wav: file not found"),
    ("manifest clip NaN", [*FT, "{nan_clip_csv}"], "audio contains NaN or inf"),
    ("manifest clip cut short", [*FT, "{cut_clip_csv}"], "cut.wav: truncated file"),
    ("finetune into a used folder", ["finetune", "--model", "{tiny}", "--data", "{good_csv}", "--out", "{finished}"],
     "is not empty"),
    ("finetune --targets", [*FT, "{good_csv}", "--targets", "video"], "LoRA targets"),
    ("train config missing", ["train", "--config", "{root}/none.yaml"], "config file not found"),
    ("eval task unknown", ["eval", *M, "--task", "nope", "--data", "{clips}"], "unknown task"),
    ("push without --repo", ["push", "--model", "{tiny}"], "--model needs --repo"),
]


@pytest.mark.parametrize(("what", "argv", "fragment"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_input_is_refused_clearly(w, capsys, what, argv, fragment) -> None:
    args = [a.format(**w) for a in argv]
    before = sorted(Path(w["root"]).rglob("*"))
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exit_info:  # argparse: a usage error
        code = exit_info.code
    err = capsys.readouterr().err
    assert code not in (0, None), what
    assert "Traceback" not in err, err
    head = f"wavlink {args[0]}: error: "
    assert head in err and fragment in err[err.index(head):], (what, err)  # after any progress bar
    assert sorted(Path(w["root"]).rglob("*")) == before  # nothing written, nothing removed
    assert Path(w["exists_npy"]).read_bytes() == b"keep me"
