"""The HEAR 2021 API (`wavlink.evaluation.hear`) on a tiny random model with generated audio: shapes,
timestamps, determinism, batch invariance and long-sound windowing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wavlink.evaluation import hear

SR = 16000


def noise_and_tones(n: int, seconds: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SR)) / SR
    tones = torch.stack([0.3 * torch.sin(2 * torch.pi * (300 + 200 * i) * t) for i in range(n)])
    return (tones + 0.02 * torch.randn(n, t.numel(), generator=g)).float()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    # a 2 s encoder window, so that the long-sound path is exercised with short (fast) audio
    model, processor = create_model("tiny-random", max_audio_seconds=2.0)
    return save_model_folder(model, processor, tmp_path_factory.mktemp("hear") / "tiny")


@pytest.fixture(scope="module")
def model(model_dir: Path) -> hear.HearModel:
    return hear.load_model(str(model_dir))


def test_attributes(model: hear.HearModel) -> None:
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == 32 and model.timestamp_embedding_size == 32  # projection / d_model
    assert model.timestamp_mode == "frames" and isinstance(model, torch.nn.Module)


def test_scene_embeddings(model: hear.HearModel) -> None:
    audio = noise_and_tones(3, 1.0)
    emb = hear.get_scene_embeddings(audio, model)
    assert emb.shape == (3, model.scene_embedding_size) and emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(hear.get_scene_embeddings(audio, model), emb)  # deterministic
    torch.testing.assert_close(hear.get_scene_embeddings(audio[1:2], model), emb[1:2], atol=1e-5, rtol=0)


def test_timestamp_embeddings_frames(model: hear.HearModel) -> None:
    audio = noise_and_tones(2, 1.0)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    # 1 s = 100 mel frames -> 50 encoder positions, one per 20 ms, centred at 0, 20, ..., 980 ms
    assert emb.shape == (2, 50, model.timestamp_embedding_size) and ts.shape == (2, 50)
    torch.testing.assert_close(ts[0], torch.arange(50, dtype=torch.float32) * 20.0)
    torch.testing.assert_close(ts[0], ts[1])
    emb2, ts2 = hear.get_timestamp_embeddings(audio, model)
    torch.testing.assert_close(emb2, emb)
    torch.testing.assert_close(ts2, ts)
    alone, _ = hear.get_timestamp_embeddings(audio[1:2], model)
    torch.testing.assert_close(alone, emb[1:2], atol=1e-5, rtol=0)


def test_long_sounds_are_windowed(model: hear.HearModel) -> None:
    audio = noise_and_tones(2, 4.5)  # encoder window 2 s -> windows of 2 + 2 + 0.5 s
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (2, 100 + 100 + 25, 32)
    diffs = torch.diff(ts[0])
    torch.testing.assert_close(diffs, torch.full_like(diffs, 20.0))  # contiguous across window borders
    assert ts[0, -1].item() == pytest.approx(4480.0)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (2, 32) and torch.isfinite(scene).all()


def test_window_mode(model_dir: Path) -> None:
    model = hear.load_model(str(model_dir), timestamp_mode="windows", hop_ms=250, window_ms=500)
    assert model.timestamp_embedding_size == model.scene_embedding_size == 32
    audio = noise_and_tones(2, 1.0)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (2, 4, 32)
    torch.testing.assert_close(ts[0], torch.tensor([0.0, 250.0, 500.0, 750.0]))
    emb2, _ = hear.get_timestamp_embeddings(audio, model)
    torch.testing.assert_close(emb2, emb)
    # the window centred at 500 ms covers [250, 750) ms: its embedding is that excerpt's scene embedding
    excerpt = hear.get_scene_embeddings(audio[:, 4000:12000], model)
    torch.testing.assert_close(emb[:, 2], excerpt, atol=1e-5, rtol=0)


def test_bad_audio(model: hear.HearModel) -> None:
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(torch.zeros(16000), model)
    with pytest.raises(ValueError, match="NaN"):
        hear.get_timestamp_embeddings(torch.full((1, 16000), float("nan")), model)
    with pytest.raises(ValueError, match="timestamp_mode"):
        hear.HearModel(model.model, model.processor, timestamp_mode="tokens")


def test_numpy_input_accepted(model: hear.HearModel) -> None:
    audio = noise_and_tones(1, 0.5)
    torch.testing.assert_close(hear.get_scene_embeddings(audio.numpy().astype(np.float64), model),
                               hear.get_scene_embeddings(audio, model))


def test_omni_model(tmp_path: Path) -> None:
    """An OmniAudioEmbedder (no per-frame encoder states): windowed timestamp embeddings by default."""
    from wavlink.builders.omni import create_omni, save_omni_folder

    folder = save_omni_folder(*create_omni("tiny-random"), tmp_path / "omni")
    model = hear.load_model(str(folder), hop_ms=500, window_ms=500)
    assert model.sample_rate == SR and model.timestamp_mode == "windows"
    assert model.scene_embedding_size == model.timestamp_embedding_size == 32
    audio = noise_and_tones(2, 1.0)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (2, 32) and torch.isfinite(scene).all()
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (2, 2, 32)
    torch.testing.assert_close(ts, torch.tensor([[0.0, 500.0], [0.0, 500.0]]))
    # the window centred at 500 ms covers [250, 750) ms
    torch.testing.assert_close(emb[:, 1], hear.get_scene_embeddings(audio[:, 4000:12000], model), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="needs a WavLink model"):
        hear.load_model(str(folder), timestamp_mode="frames")
