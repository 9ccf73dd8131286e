"""The embedding API (`wavlink/inference.py`) on a saved tiny-random folder: loading (and what a wrong source is
told), batching that changes no vector, Matryoshka truncation and its check, the one-modality `encode`, the
sentence-transformers loader, and which audio files a folder holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import SR, make_clip

from wavlink.builders.folder import save_model_folder
from wavlink.builders.wavlink import create_model
from wavlink.inference import (
    Embedder,
    check_dim,
    check_labels,
    infer_modality,
    list_audio_files,
    load_model_and_processor,
    trained_dims,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny-random WavLink folder (32-d, Matryoshka dims 32/16/8/4), as `wavlink create` writes it."""
    return save_model_folder(*create_model("tiny-random"), tmp_path_factory.mktemp("inference") / "tiny")


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> Embedder:
    return Embedder.load(model_dir, device="cpu")


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


def test_decodable_suffixes_follow_libsndfile() -> None:
    from wavlink.inference import decodable_audio_suffixes

    suffixes = decodable_audio_suffixes()
    assert {".wav", ".flac"} <= set(suffixes) and not {".m4a", ".aac"} & set(suffixes)
    assert (".mp3" in suffixes) == ("MP3" in sf.available_formats())


# ------------------------------------------------------------------------------------------------ loading
def test_load_model_and_processor_reads_the_saved_folder(model_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file

    from wavlink import WavLinkModel

    model, processor = load_model_and_processor(model_dir)
    assert isinstance(model, WavLinkModel) and model.config.matryoshka_dims == [32, 16, 8, 4]
    state = model.state_dict()
    saved = load_file(str(model_dir / "model.safetensors"))
    assert saved and set(saved) <= set(state)
    for name, tensor in saved.items():
        assert torch.equal(state[name], tensor), name
    assert processor.feature_extractor.sampling_rate == SR
    assert processor.tokenizer("a dog")["input_ids"]
    # a folder under ~ is found; model keyword arguments (dtype) reach from_pretrained
    shutil.copytree(model_dir, tmp_path / "tiny")
    monkeypatch.setenv("HOME", str(tmp_path))
    half, _ = load_model_and_processor("~/tiny", dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16


def test_a_wrong_source_is_one_clear_error(model_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    cases = [(tmp_path / "missing", {}, f"model folder not found: {tmp_path / 'missing'}"),
             (empty, {}, f"{empty} is not a model folder (no config.json)"),
             (adapter, {}, f"{adapter} is a LoRA adapter folder, not a model"),
             (model_dir, {"revision": "v1"}, "a revision ('v1') selects a version of a Hub repo"),
             ("no-such-org/no-such-model", {}, "cannot load model 'no-such-org/no-such-model'")]
    for source, kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            load_model_and_processor(source, **kwargs)


def test_load_refuses_bad_options_before_loading(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wavlink.inference

    monkeypatch.setattr(wavlink.inference, "load_model_and_processor", lambda *a, **k: pytest.fail("loaded"))
    cases = [({"dtype": "float64"}, "unknown dtype 'float64'; choose one of float32, float16, bfloat16"),
             ({"int8": True, "dtype": "bfloat16"}, "int8 quantises fp32 weights"),
             ({"int8": True, "device": "cuda"}, "int8 dynamic quantisation runs on the CPU only")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            Embedder.load(model_dir, **kwargs)


# ------------------------------------------------------------------------------------------------ embedding
def test_a_clip_embeds_the_same_alone_and_padded_in_a_batch(embedder: Embedder) -> None:
    """Batches are formed longest first (two per batch here) and padded; every row comes back in input order
    and equal to the clip embedded on its own."""
    clips = [make_clip(seconds, seed=i) for i, seconds in enumerate((0.6, 2.5, 1.3, 0.4, 1.9))]
    batched = Embedder(embedder.model, embedder.processor, device="cpu", batch_size=2).encode_audio(
        clips, sampling_rate=SR)
    alone = np.concatenate([embedder.encode_audio([clip], sampling_rate=SR) for clip in clips])
    assert batched.shape == (5, 32) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.abs(alone[:, None] - alone[None]).max(axis=-1)[~np.eye(5, dtype=bool)].min() > 1e-3  # all distinct


def test_a_text_embeds_the_same_alone_and_padded_in_a_batch(embedder: Embedder) -> None:
    texts = ["a dog", "rain falling on a tin roof, then a long roll of thunder", "bells", "an engine idling"]
    batched = Embedder(embedder.model, embedder.processor, device="cpu", batch_size=3).encode_text(texts)
    alone = np.concatenate([embedder.encode_text([text]) for text in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    assert np.abs(alone[:, None] - alone[None]).max(axis=-1)[~np.eye(4, dtype=bool)].min() > 1e-3  # all distinct
    np.testing.assert_allclose(embedder.encode_text("a dog"), alone[:1], atol=1e-6)  # one string is one text


def test_truncate_dim_is_the_renormalised_prefix_and_only_a_trained_width(embedder: Embedder) -> None:
    assert embedder.dims == [32, 16, 8, 4]
    full = embedder.encode_text(["a dog barking"])
    for dim in (16, 8, 4):
        prefix = full[:, :dim] / np.linalg.norm(full[:, :dim], axis=1, keepdims=True)
        np.testing.assert_allclose(embedder.encode_text(["a dog barking"], truncate_dim=dim), prefix, atol=1e-5)
    untrained = re.escape("truncate_dim=12 was not trained; choose one of [4, 8, 16, 32]")
    with pytest.raises(ValueError, match=untrained):
        embedder.encode_text(["a dog"], truncate_dim=12)
    with pytest.raises(ValueError, match=untrained):
        embedder.encode_audio([make_clip(0.5)], truncate_dim=12, sampling_rate=SR)
    with pytest.raises(ValueError, match="no audio given"):
        embedder.encode_audio([])
    with pytest.raises(ValueError, match="no text given"):
        embedder.encode_text([])


def test_trained_dims_of_a_config_without_matryoshka_is_its_width() -> None:
    nested = SimpleNamespace(matryoshka_dims=[64, 32], projection_dim=64)
    plain = SimpleNamespace(matryoshka_dims=None, projection_dim=48)
    assert trained_dims(nested) == [64, 32] and trained_dims(plain) == [48]
    check_dim(plain, None)
    check_dim(plain, 48)
    with pytest.raises(ValueError, match=re.escape("truncate_dim=32 was not trained; choose one of [48]")):
        check_dim(plain, 32)


def test_a_string_is_audio_only_when_it_names_an_audio_file(sounds: Path, tmp_path: Path) -> None:
    assert infer_modality(str(sounds / "low.wav")) == "audio" and infer_modality(sounds / "mid.flac") == "audio"
    assert infer_modality(str(tmp_path / "missing.wav")) == "text"  # no such file: a sentence that ends so
    assert infer_modality("a dog barking") == "text"
    assert infer_modality(np.zeros(SR, np.float32)) == "audio"
    assert infer_modality({"array": np.zeros(SR, np.float32), "sampling_rate": SR}) == "audio"


def test_check_labels_refuses_none_and_duplicates() -> None:
    assert check_labels(("dog", "rain")) == ["dog", "rain"]
    with pytest.raises(ValueError, match="no labels given"):
        check_labels([])
    with pytest.raises(ValueError, match=re.escape("duplicate labels: ['cat', 'dog']")):
        check_labels(["dog", "cat", "rain", "dog", "cat"])


# ------------------------------------------------------------------------------------------------ audio files
def _touch(folder: Path, names: list[str]) -> Path:
    for name in names:  # listing reads suffixes only: empty files will do
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")
    return folder


def test_list_audio_files_recurses_sorts_and_skips_what_cannot_be_decoded(tmp_path: Path, capsys) -> None:
    folder = _touch(tmp_path / "clips", ["z.flac", "b.wav", "A.WAV", "sub/c.flac", "sub/deeper/d.wav", "notes.txt",
                                         "cover.jpg", "sub/phone.m4a", "radio.aac"])
    notes: list[str] = []
    files = list_audio_files(folder, log=notes.append)
    assert [Path(f).relative_to(folder).as_posix() for f in files] == [
        "A.WAV", "b.wav", "sub/c.flac", "sub/deeper/d.wav", "z.flac"]
    assert len(notes) == 1 and notes[0].startswith(f"skipped 2 audio file(s) under {folder}"), notes
    assert "(1 .aac, 1 .m4a)" in notes[0]  # not-audio files (.txt, .jpg) are left out without a word
    list_audio_files(folder)  # the default log: one note on stderr
    assert capsys.readouterr().err.startswith("note: skipped 2 audio file(s)")
    clean = _touch(tmp_path / "clean", ["one.wav", "two.flac"])
    assert len(list_audio_files(clean, log=lambda msg: pytest.fail(msg))) == 2  # nothing skipped, nothing said


def test_list_audio_files_errors(tmp_path: Path) -> None:
    undecodable = _touch(tmp_path / "phone", ["memo.m4a", "notes.txt"])
    with pytest.raises(ValueError, match=r"no decodable audio files \(.*\) under .*; skipped 1 audio file\(s\)"):
        list_audio_files(undecodable)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no decodable audio files") as err:
        list_audio_files(empty)
    assert "skipped" not in str(err.value)
    with pytest.raises(ValueError, match="not a folder"):
        list_audio_files(undecodable / "memo.m4a")
