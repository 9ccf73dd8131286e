"""The everyday commands (`create`, `build`, `embed`, `classify`, `search`, `demo`) on a tiny model folder:
outputs equal the Python API's, and bad arguments end with a one-line error (exit 2), not a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import SR, make_tone, tiny_clip_text_config, tiny_whisper_config
from safetensors import safe_open
from transformers import CLIPTextModelWithProjection, WhisperModel

from wavlink.cli import main
from wavlink.inference import Embedder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tiny"
    assert main(["create", "--preset", "tiny-random", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sounds")
    (folder / "sub").mkdir()
    for name, freqs in [("low.wav", (220.0,)), ("mid.flac", (880.0, 1320.0)), ("sub/high.wav", (3000.0,))]:
        sf.write(folder / name, make_tone(1.0 + len(name) / 10, SR, freqs), SR)
    return folder


def test_create_writes_a_loadable_folder(model_dir: Path) -> None:
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "modules.json", "processor_config.json"} <= names
    assert Embedder.load(model_dir).model.config.projection_dim == 32


def test_embed_audio_npy_matches_the_api(model_dir: Path, sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio.npy"
    assert main(["embed", str(sounds), "--model", str(model_dir), "--out", str(out), "--dim", "16"]) == 0
    vectors = np.load(out)
    names = [json.loads(line) for line in (tmp_path / "audio.npy.inputs.jsonl").read_text().splitlines()]
    assert vectors.shape == (3, 16) and len(names) == 3
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = Embedder.load(model_dir).encode_audio(names, truncate_dim=16)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_embed_text_safetensors_keeps_inputs_and_modality(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "text.safetensors"
    texts = ["a dog barking", "rain on a roof"]
    assert main(["embed", "--text", *texts, "--model", str(model_dir), "--out", str(out)]) == 0
    with safe_open(str(out), "np") as f:
        vectors, meta = f.get_tensor("embeddings"), f.metadata()
    assert meta["modality"] == "text" and meta["inputs_format"] == "json" and json.loads(meta["inputs"]) == texts
    np.testing.assert_allclose(vectors, Embedder.load(model_dir).encode_text(texts), atol=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "a dog", "--dim", "12"], "truncate_dim=12 was not trained"),
        (["--text", "   "], "text\\[0\\] is empty"),
        (["missing.wav"], "missing.wav"),
    ],
)
def test_embed_errors_are_one_line(model_dir: Path, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert main(["embed", *args, "--model", str(model_dir), "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err, err


def test_embed_rejects_an_unknown_output_suffix(model_dir: Path, capsys) -> None:
    assert main(["embed", "--text", "a", "--model", str(model_dir), "--out", "x.csv"]) == 2
    assert "--out must end with .npy or .safetensors" in capsys.readouterr().err


def test_embed_never_overwrites_a_file_it_did_not_create(model_dir: Path, tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    """Issue 25, item 4: `--out notes.npy` used to replace notes.txt (its sidecar) silently."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    out = tmp_path / "notes.npy"
    texts = ["a dog\nbarking", "rain\u2028on a roof", "plain"]  # inputs with line breaks round-trip
    assert main(["embed", "--text", *texts, "--model", str(model_dir), "--out", str(out)]) == 0
    assert notes.read_text() == "my notes\n"
    sidecar = tmp_path / "notes.npy.inputs.jsonl"
    assert [json.loads(line) for line in sidecar.read_text(encoding="utf-8").splitlines()] == texts
    first = out.read_bytes()
    # a second run into the same file is refused before the model loads, and leaves both files alone
    import wavlink.inference

    monkeypatch.setattr(wavlink.inference.Embedder, "load", lambda *a, **k: pytest.fail("model loaded"))
    for existing in (out, sidecar):
        capsys.readouterr()
        assert main(["embed", "--text", "x", "--model", str(model_dir), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "already exists" in err and "--overwrite" in err and "Traceback" not in err
        out.unlink() if existing is out else None  # the sidecar alone is protected as well
    sidecar.unlink()
    out.write_bytes(first)
    monkeypatch.undo()
    assert main(["embed", "--text", "x", "--model", str(model_dir), "--out", str(out), "--overwrite"]) == 0
    assert np.load(out).shape[0] == 1 and sidecar.read_text() == '"x"\n'
    assert main(["embed", "--text", "x", "--model", str(model_dir), "--out", str(tmp_path / "no" / "x.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_model_folder_and_unreachable_hub_id(tmp_path: Path, capsys) -> None:
    assert main(["embed", "--text", "a", "--model", str(tmp_path / "nowhere"), "--out", "x.npy"]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert main(["embed", "--text", "a", "--model", "no-such-org/no-such-model", "--out", "x.npy"]) == 2
    err = capsys.readouterr().err
    assert "cannot load model 'no-such-org/no-such-model'" in err and "Traceback" not in err


def test_classify_ranks_labels_with_the_template_ensemble(model_dir: Path, sounds: Path, capsys) -> None:
    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates

    labels = ["dog", "rain", "church bells"]
    assert main(["classify", str(sounds / "low.wav"), "--labels", ",".join(labels), "--model", str(model_dir),
                 "--top-k", "3"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("low.wav")][0]
    printed = [label for label in labels if label in row]
    emb = Embedder.load(model_dir)
    classes = class_embeddings_from_templates(emb.encode_text, labels, list(DEFAULT_TEMPLATES))
    scores = emb.encode_audio([str(sounds / "low.wav")]) @ classes.T
    ranked = [labels[i] for i in np.argsort(-scores[0])]
    assert sorted(printed, key=row.index) == ranked


def test_classify_label_errors(model_dir: Path, sounds: Path, capsys) -> None:
    assert main(["classify", str(sounds), "--labels", "dog,cat,dog", "--model", str(model_dir)]) == 2
    assert "duplicate labels: ['dog']" in capsys.readouterr().err
    assert main(["classify", str(sounds), "--labels", " , ", "--model", str(model_dir)]) == 2
    assert "no labels given" in capsys.readouterr().err


def test_search_ranks_the_folder_recursively(model_dir: Path, sounds: Path, capsys) -> None:
    assert main(["search", str(sounds), "a high whistle", "--model", str(model_dir), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    files = [line.split()[-1] for line in out.splitlines() if line[:1].isdigit()]
    assert sorted(Path(f).relative_to(sounds).as_posix() for f in files) == ["low.wav", "mid.flac", "sub/high.wav"]
    emb = Embedder.load(model_dir)
    scores = (emb.encode_text(["a high whistle"]) @ emb.encode_audio(files).T)[0]  # printed paths open as they are
    assert list(scores) == sorted(scores, reverse=True)


def test_demo_runs_on_a_given_model(model_dir: Path, capsys) -> None:
    assert main(["demo", "--model", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "text-to-audio search" in out and "top-1 correct:" in out


def test_build_from_local_checkpoints(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    WhisperModel(tiny_whisper_config()).save_pretrained(tmp_path / "whisper")
    CLIPTextModelWithProjection(tiny_clip_text_config()).save_pretrained(tmp_path / "clip")
    from wavlink.builders.tokenization import byte_level_tokenizer

    byte_level_tokenizer(model_max_length=77).save_pretrained(tmp_path / "clip")
    out = tmp_path / "built"
    assert main(["build", "--whisper", str(tmp_path / "whisper"), "--text", str(tmp_path / "clip"),
                 "--out", str(out)]) == 0
    assert "built wavlink model" in capsys.readouterr().out
    emb = Embedder.load(out)
    assert emb.encode_text(["a dog"]).shape == (1, emb.model.config.projection_dim)
    assert main(["build", "--whisper", str(tmp_path / "whisper"), "--out", str(out)]) == 2
    assert "needs --whisper and --text" in capsys.readouterr().err
    assert main(["build", "--whisper", "w", "--text", "t", "--llm", "x", "--out", str(out)]) == 2
    assert "--llm: not an option of --family wavlink" in capsys.readouterr().err


def test_sentence_transformer_loader_refuses_untrained_dims(model_dir: Path, sounds: Path) -> None:
    from wavlink.inference import load_sentence_transformer

    with pytest.raises(ValueError, match="truncate_dim=12 was not trained"):
        load_sentence_transformer(model_dir, truncate_dim=12)
    st = load_sentence_transformer(model_dir, truncate_dim=16)
    emb = Embedder.load(model_dir)
    np.testing.assert_allclose(st.encode(["a dog"], normalize_embeddings=True),
                               emb.encode_text(["a dog"], truncate_dim=16), atol=1e-5)
    for call in (st.encode, st.encode_query, st.encode_document):
        with pytest.raises(ValueError, match="truncate_dim=20 was not trained"):
            call(["a dog"], truncate_dim=20)
    audio = st.encode([str(sounds / "low.wav")], truncate_dim=8, normalize_embeddings=True)
    np.testing.assert_allclose(audio, emb.encode_audio([str(sounds / "low.wav")], truncate_dim=8), atol=1e-5)


def test_one_call_one_modality(model_dir: Path, sounds: Path) -> None:
    emb = Embedder.load(model_dir)
    with pytest.raises(ValueError, match="mixes text and audio"):
        emb.encode(["a dog barking", str(sounds / "low.wav")])
    np.testing.assert_allclose(emb.encode(["a dog"]), emb.encode_text(["a dog"]), atol=0)
    np.testing.assert_allclose(emb.encode([str(sounds / "low.wav")]), emb.encode_audio([str(sounds / "low.wav")]),
                               atol=0)


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """A real .wav next to files soundfile cannot decode (a fake .m4a and .aac) and a non-audio file."""
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "real.wav", make_tone(1.0, SR, (440.0,)), SR)
    (folder / "phone.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    (folder / "sub" / "radio.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    (folder / "sub" / "clip.aac").write_bytes(b"\xff\xf1" + bytes(64))
    (folder / "notes.txt").write_text("not audio")
    return folder


def test_search_and_embed_skip_undecodable_files_with_one_note(model_dir: Path, mixed_folder: Path,
                                                               tmp_path: Path, capsys) -> None:
    assert main(["search", str(mixed_folder), "a tone", "--model", str(model_dir)]) == 0
    captured = capsys.readouterr()
    files = [line.split()[-1] for line in captured.out.splitlines() if line[:1].isdigit()]
    assert files == [str(mixed_folder / "real.wav")]  # a path that opens from the current directory
    notes = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(notes) == 1 and "skipped 3 audio file(s)" in notes[0] and "1 .aac, 2 .m4a" in notes[0], captured.err
    out = tmp_path / "mixed.npy"
    assert main(["embed", str(mixed_folder), "--model", str(model_dir), "--out", str(out)]) == 0
    assert np.load(out).shape[0] == 1
    assert (tmp_path / "mixed.npy.inputs.jsonl").read_text() == json.dumps(str(mixed_folder / "real.wav")) + "\n"
    assert "skipped 3 audio file(s)" in capsys.readouterr().err


def test_a_folder_of_only_undecodable_audio_is_a_one_line_error(model_dir: Path, mixed_folder: Path,
                                                                capsys) -> None:
    (mixed_folder / "real.wav").unlink()
    assert main(["search", str(mixed_folder), "a tone", "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert "no decodable audio files" in err and "2 .m4a" in err and "Traceback" not in err, err


def test_decodable_suffixes_follow_libsndfile() -> None:
    from wavlink.inference import decodable_audio_suffixes

    suffixes = decodable_audio_suffixes()
    assert {".wav", ".flac"} <= set(suffixes) and not {".m4a", ".aac"} & set(suffixes)
    assert (".mp3" in suffixes) == ("MP3" in sf.available_formats())


def _loud_load(monkeypatch) -> None:
    """Make model loading print to stdout, as assembling the default model on first use does."""
    plain = Embedder.load.__func__

    def load(cls, *args, **kwargs):
        print("assembling the default model in /somewhere (first use only) ...")
        return plain(cls, *args, **kwargs)

    monkeypatch.setattr(Embedder, "load", classmethod(load))


def test_classify_json_is_the_only_stdout(model_dir: Path, sounds: Path, capsys, monkeypatch) -> None:
    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates

    labels = ["dog", "rain", "church bells"]
    files = [str(sounds / "low.wav"), str(sounds / "mid.flac")]
    emb = Embedder.load(model_dir)
    classes = class_embeddings_from_templates(emb.encode_text, labels, list(DEFAULT_TEMPLATES))
    scores = emb.encode_audio(files) @ classes.T
    _loud_load(monkeypatch)
    assert main(["classify", *files, "--labels", ",".join(labels), "--model", str(model_dir), "--top-k", "2",
                 "--json", "--scores", "cosine"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # nothing but the JSON document on stdout
    assert "assembling" in captured.err
    assert [r["path"] for r in result] == files
    for r, row in zip(result, scores):
        best = np.argsort(-row)[:2]
        assert [x["label"] for x in r["labels"]] == [labels[i] for i in best]
        np.testing.assert_allclose([x["score"] for x in r["labels"]], row[best], atol=1e-5)


def test_search_json_is_the_only_stdout(model_dir: Path, mixed_folder: Path, sounds: Path, capsys,
                                        monkeypatch) -> None:
    emb = Embedder.load(model_dir)
    _loud_load(monkeypatch)
    queries = ["a high whistle", "a low hum"]
    assert main(["search", str(sounds), *queries, "--model", str(model_dir), "--top-k", "2", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert [r["query"] for r in result] == queries and "assembling" in captured.err
    for r, query in zip(result, queries):
        assert [x["rank"] for x in r["results"]] == [1, 2]
        paths = [x["path"] for x in r["results"]]
        assert all(Path(p).is_file() and Path(p).is_relative_to(sounds) for p in paths)
        expected = (emb.encode_text([query]) @ emb.encode_audio(paths).T)[0]
        np.testing.assert_allclose([x["score"] for x in r["results"]], expected, atol=1e-5)
        assert expected[0] >= expected[1]
    # the skipped-files note of a mixed folder stays off stdout too
    assert main(["search", str(mixed_folder), "a tone", "--model", str(model_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert [x["path"] for x in json.loads(captured.out)[0]["results"]] == [str(mixed_folder / "real.wav")]
    assert "skipped 3 audio file(s)" in captured.err


MODEL_COMMANDS = ["embed", "classify", "search", "eval"]


def test_every_model_loading_command_takes_revision_and_dtype() -> None:
    from wavlink.cli import build_parser

    parser = build_parser()
    required = {"embed": ["x.wav", "--out", "x.npy"], "classify": ["x.wav", "--labels", "a"],
                "search": ["folder", "q"], "eval": ["--task", "esc50", "--data", "d"]}
    for command in MODEL_COMMANDS:
        args = parser.parse_args([command, *required[command], "--model", "org/name", "--revision", "v1",
                                  "--dtype", "bfloat16"])
        assert (args.revision, args.dtype) == ("v1", "bfloat16"), command
        with pytest.raises(SystemExit):
            parser.parse_args([command, *required[command], "--dtype", "float64"])


def test_dtype_loads_the_weights_in_that_precision(model_dir: Path, tmp_path: Path) -> None:
    texts = ["a dog barking", "rain on a roof"]
    out = tmp_path / "bf16.npy"
    assert main(["embed", "--text", *texts, "--model", str(model_dir), "--out", str(out), "--dtype", "bfloat16"]) == 0
    bf16 = Embedder.load(model_dir, dtype=torch.bfloat16)
    assert bf16.model.dtype == torch.bfloat16 and bf16.load_options == {"dtype": "bfloat16"}
    np.testing.assert_allclose(np.load(out), bf16.encode_text(texts), atol=1e-6)
    full = Embedder.load(model_dir).encode_text(texts)
    assert not np.allclose(np.load(out), full, atol=1e-4)  # really computed in bfloat16 ...
    np.testing.assert_allclose(np.load(out), full, atol=0.05)  # ... and still the same model


def test_revision_and_dtype_reach_from_pretrained_for_hub_ids(model_dir: Path, sounds: Path, capsys,
                                                               monkeypatch) -> None:
    import transformers

    calls: list[tuple[str, str, dict]] = []

    def fake(cls_name: str, real):
        def from_pretrained(source, **kwargs):  # records the call, then loads the local tiny folder
            calls.append((cls_name, source, dict(kwargs)))
            kwargs.pop("revision", None)
            return real(str(model_dir), **kwargs)
        return from_pretrained

    for name in ("AutoModel", "AutoProcessor"):
        cls = getattr(transformers, name)
        monkeypatch.setattr(cls, "from_pretrained", fake(name, cls.from_pretrained))
    import wavlink.trust

    real_config = wavlink.trust.read_config_dict

    def config_dict(source, revision=None):  # the trust decision reads config.json at the same revision
        calls.append(("config.json", source, {"revision": revision}))
        return real_config(model_dir)

    monkeypatch.setattr(wavlink.trust, "read_config_dict", config_dict)
    assert main(["search", str(sounds), "a tone", "--model", "some-org/tiny", "--revision", "v1.0",
                 "--dtype", "float16", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["results"]) == 3
    assert calls.pop(0) == ("config.json", "some-org/tiny", {"revision": "v1.0"})
    assert [(n, s) for n, s, _ in calls] == [("AutoModel", "some-org/tiny"), ("AutoProcessor", "some-org/tiny")]
    assert calls[0][2]["revision"] == calls[1][2]["revision"] == "v1.0"
    assert calls[0][2]["dtype"] == torch.float16 and "dtype" not in calls[1][2]


def test_revision_of_a_local_folder_is_an_error(model_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["embed", "--text", "a", "--model", str(model_dir), "--revision", "v1",
                 "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "selects a version of a Hub repo" in err and "local folder" in err and "Traceback" not in err


def test_eval_dtype_is_part_of_the_cache_key(model_dir: Path, tmp_path: Path) -> None:
    import csv

    rows = []
    for i in range(3):
        sf.write(tmp_path / f"{i}.wav", make_tone(0.5, SR, (300.0 + 500 * i,)), SR)
        rows.append([f"{i}.wav", f"tone number {i}"])
    with open(tmp_path / "captions.csv", "w", newline="") as f:
        csv.writer(f).writerows([["audio", "caption"], *rows])
    results = {}
    for dtype in (None, "bfloat16", None):
        out = tmp_path / f"{dtype}.json"
        extra = ["--dtype", dtype] if dtype else []
        assert main(["eval", "--model", str(model_dir), "--task", "retrieval", "--data", str(tmp_path / "captions.csv"),
                     "--output", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet", *extra]) == 0
        results.setdefault(dtype, []).append(json.loads(out.read_text()))
    plain, bf16 = results[None][0], results["bfloat16"][0]
    assert bf16["model_dtype"] == "bfloat16" and "model_dtype" not in plain
    assert bf16["model_fingerprint"] != plain["model_fingerprint"]
    assert results[None][1]["model_fingerprint"] == plain["model_fingerprint"]  # plain runs keep their key
