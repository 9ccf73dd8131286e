"""Long files are embedded window by window with bounded memory (issue 25, item 15), giving the vector the
whole-file processor path gives (wavlink/long_audio.py)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_tone

from wavlink.inference import Embedder


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random")
    return Embedder.load(save_model_folder(model, processor, tmp_path_factory.mktemp("long") / "tiny"), device="cpu")


def _write(path: Path, seconds: float, rate: int, channels: int) -> Path:
    wave = make_tone(seconds, rate, (310.0, 1234.0, 2900.0))
    wave = wave * (1.0 + 0.5 * np.sin(np.linspace(0, 40, wave.size))).astype(np.float32)
    sf.write(path, np.stack([wave, 0.3 * wave], 1) if channels == 2 else wave, rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize(("seconds", "rate", "channels"), [
    (70.0, 44100, 2),     # resampled stereo, a 10 s last window
    (60.00625, 16000, 1),  # 16 kHz mono: the last window is a single frame, inside the end reflection
    (90.0, 22050, 1),     # exactly three windows
])
def test_streamed_embedding_equals_the_whole_file_path(embedder, tmp_path, monkeypatch, seconds, rate,
                                                       channels) -> None:
    import wavlink.inference as inference

    path = str(_write(tmp_path / "long.wav", seconds, rate, channels))
    calls = []
    original = inference.embed_long_file  # the streamed path, as `Embedder.encode_audio` calls it
    monkeypatch.setattr(inference, "embed_long_file", lambda *a, **k: calls.append(1) or original(*a, **k))
    for dim in (None, 16):
        embedder.stream_long_audio = False
        whole = embedder.encode_audio([path], truncate_dim=dim)
        embedder.stream_long_audio = True
        streamed = embedder.encode_audio([path], truncate_dim=dim)
        np.testing.assert_allclose(streamed, whole, atol=1e-6)
    assert calls == [1, 1]  # really the streamed path


def test_a_long_file_is_never_held_whole(embedder, tmp_path) -> None:
    """Four minutes of 44.1 kHz stereo is 85 MB of float32 samples: the whole-file path allocates them (and
    more); the streamed one holds a 10 s block and one window's samples (tracemalloc sees numpy's buffers)."""
    path = str(_write(tmp_path / "four.wav", 240.0, 44100, 2))
    peaks = {}
    for stream in (False, True):
        embedder.stream_long_audio = stream
        tracemalloc.start()
        try:
            embedder.encode_audio([path])
            peaks[stream] = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    embedder.stream_long_audio = True
    assert peaks[False] > 85, peaks  # what the streamed path avoids
    assert peaks[True] < 20, peaks


def test_bad_long_files_are_clear_errors(embedder, tmp_path) -> None:
    path = _write(tmp_path / "cut.wav", 45.0, 16000, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still declares 45 s
    with pytest.raises(ValueError, match="cut.wav: truncated file"):
        embedder.encode_audio([str(path)])
    nan = tmp_path / "nan.wav"
    wave = make_tone(40.0, 16000)
    wave[500_000] = np.nan
    sf.write(nan, wave, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN or inf"):
        embedder.encode_audio([str(nan)])
