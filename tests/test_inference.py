"""The embedding API (`wavlink/inference.py`) on a saved tiny-random folder: loading, the one-modality `encode`,
the sentence-transformers loader's truncate_dim check, and which audio files a folder holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_tone

from wavlink.builders.folder import save_model_folder
from wavlink.builders.wavlink import create_model
from wavlink.inference import Embedder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny-random WavLink folder (32-d, Matryoshka dims 32/16/8/4), as `wavlink create` writes it."""
    return save_model_folder(*create_model("tiny-random"), tmp_path_factory.mktemp("inference") / "tiny")


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sounds")
    (folder / "sub").mkdir()
    for name, freqs in [("low.wav", (220.0,)), ("mid.flac", (880.0, 1320.0)), ("sub/high.wav", (3000.0,))]:
        sf.write(folder / name, make_tone(1.0 + len(name) / 10, SR, freqs), SR)
    return folder


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
