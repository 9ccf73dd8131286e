"""Audio files cut short (issue 25, item 6): libsndfile reports and decodes only the samples that are there,
so a WAV whose header declares 16,000 samples but holds 478 was embedded from the 478 without a word."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavlink.cli import main
from wavlink.data import decode_audio, probe_audio
from wavlink.remote_code.audio_utils import truncation_problem


def _cut(path: Path, keep: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    return path


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, Path]:
    wave = (0.3 * np.sin(np.linspace(0, 900, 16000))).astype(np.float32)
    out = {}
    for name, subtype in [("full.wav", "PCM_16"), ("cut.wav", "PCM_16"), ("cut24.wav", "PCM_24"),
                          ("full.aiff", "PCM_16"), ("cut.aiff", "PCM_16"), ("float.wav", "FLOAT")]:
        sf.write(tmp_path / name, wave, 16000, subtype=subtype)
        out[name] = tmp_path / name
    _cut(out["cut.wav"], 44 + 478 * 2)  # the file: the header says 16,000 samples, 478 are there
    _cut(out["cut24.wav"], 44 + 3 * 5000 + 1)  # cut inside a frame
    _cut(out["cut.aiff"], out["cut.aiff"].stat().st_size - 4000)
    return out


def test_libsndfile_alone_does_not_notice(clips) -> None:
    assert sf.info(str(clips["cut.wav"])).frames == 478  # why the check reads the header itself


def test_truncated_files_are_reported_by_decode_and_probe(clips) -> None:
    for name in ("cut.wav", "cut24.wav", "cut.aiff"):
        problem = truncation_problem(str(clips[name]))
        assert problem and problem.startswith("truncated file"), name
        with pytest.raises(ValueError, match=f"{name}: truncated file"):
            decode_audio(str(clips[name]), 16000)
        with pytest.raises(ValueError, match="truncated file"):
            decode_audio(clips[name].read_bytes(), 16000)  # encoded bytes (datasets, shards) too
        assert probe_audio(str(clips[name]))[1].startswith("truncated file")
    assert "32,000 bytes of audio but only 956" in truncation_problem(str(clips["cut.wav"]))
    for name in ("full.wav", "full.aiff", "float.wav"):
        assert truncation_problem(str(clips[name])) is None
        assert probe_audio(str(clips[name])) == (1.0, None)
        assert decode_audio(str(clips[name]), 16000).shape == (16000,)


def test_streamed_wav_with_unknown_size_is_not_a_false_alarm(tmp_path) -> None:
    """Writers that stream (size fields 0 or 0xFFFFFFFF) declare no size to compare with."""
    path = tmp_path / "stream.wav"
    sf.write(path, np.zeros(1600, np.float32), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[40:44] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert truncation_problem(str(path)) is None


def test_embed_refuses_a_truncated_file(clips, tmp_path, capsys) -> None:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random")
    folder = save_model_folder(model, processor, tmp_path / "tiny")
    assert main(["embed", str(clips["cut.wav"]), "--model", str(folder), "--out", str(tmp_path / "e.npy")]) == 2
    err = capsys.readouterr().err
    assert "cut.wav: truncated file" in err and "Traceback" not in err
    assert not (tmp_path / "e.npy").exists()
