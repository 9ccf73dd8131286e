"""The data layer: one table reader for training and evaluation, one decoder for processors, training,
evaluation and inference (the same clip decodes to the same samples through every path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_clip

from wavlink.data import decode_audio, probe_audio, read_table
from wavlink.data.sources import read_manifest_rows
from wavlink.data.tables import TableNotFoundError
from wavlink.remote_code.audio_utils import coerce_audio
from wavlink.training.dataset import decode_segment


def test_one_reader_for_every_manifest_format(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("\ufeffaudio , caption\nx.wav,a dog\ny.wav,rain\n")
    (tmp_path / "a.tsv").write_text("audio\tcaption\nx.wav\ta dog\n")
    (tmp_path / "b.csv").write_text("x.wav,dog,1\ny.wav,rain,2\n")
    (tmp_path / "a.jsonl").write_text('{"audio": "x.wav", "caption": "a dog"}\n\n{"audio": "y.wav", "tags": 1}\n')
    (tmp_path / "a.json").write_text(json.dumps({"data": [{"audio": "x.wav", "caption": "a dog"}]}))
    csv_table = read_table(tmp_path / "a.csv")
    assert csv_table.columns == ["audio", "caption"]  # BOM and padding stripped
    assert csv_table.rows[1] == {"audio": "y.wav", "caption": "rain"} and csv_table.origins[1] == "a.csv line 3"
    assert read_table(tmp_path / "a.tsv").rows == [{"audio": "x.wav", "caption": "a dog"}]
    headerless = read_table(tmp_path / "b.csv", header=False)
    assert headerless.columns == ["0", "1", "2"] and headerless.rows[1] == {"0": "y.wav", "1": "rain", "2": "2"}
    jsonl = read_table(tmp_path / "a.jsonl")
    assert jsonl.columns == ["audio", "caption", "tags"] and jsonl.origins == ["a.jsonl line 1", "a.jsonl line 3"]
    assert read_table(tmp_path / "a.json").rows == [{"audio": "x.wav", "caption": "a dog"}]
    # the data reader (training, evaluation, index, search) reads through it: the same rows, the same origins
    for name in ("a.csv", "a.jsonl", "a.json"):
        source = read_manifest_rows(tmp_path / name)
        table = read_table(tmp_path / name)
        assert [r.cells for r in source.rows] == table.rows and [r.origin for r in source.rows] == table.origins
    with pytest.raises(TableNotFoundError, match="manifest not found") as err:
        read_table(tmp_path / "missing.csv")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ValueError)
    with pytest.raises(ValueError, match="unsupported manifest type"):
        read_table(tmp_path / "a.txt")
    (tmp_path / "bad.jsonl").write_text('{"audio": 1}\n{oops\n')
    with pytest.raises(ValueError, match="bad.jsonl line 2: invalid JSON"):
        read_table(tmp_path / "bad.jsonl")


def test_one_decoder_gives_the_same_samples_on_every_path(tmp_path: Path) -> None:
    wave = make_clip(1.5, seed=4, sr=22050)
    path = tmp_path / "clip.flac"
    sf.write(path, np.stack([wave, 0.5 * wave], 1), 22050)
    reference = decode_audio(path, 16000)
    assert reference.dtype == np.float32 and abs(len(reference) - 24000) <= 1
    np.testing.assert_array_equal(decode_audio(path.read_bytes(), 16000), reference)  # bytes
    np.testing.assert_array_equal(coerce_audio(str(path), None, 16000), reference)  # the processors' input
    np.testing.assert_array_equal(coerce_audio({"bytes": path.read_bytes(), "path": "x.flac"}, None, 16000),
                                  reference)  # an undecoded `datasets` Audio cell
    np.testing.assert_array_equal(decode_segment(str(path), 16000), reference)  # training, no crop
    window = decode_audio(path, 16000, max_seconds=0.5)  # the deterministic window is the start
    assert abs(len(window) - 8000) <= 1
    late = decode_audio(path, 16000, max_seconds=0.5, start_fraction=1.0)  # a training crop at the end
    assert abs(len(late) - 8000) <= 1 and not np.allclose(late[:4000], window[:4000])
    assert probe_audio(str(path)) == (pytest.approx(1.5, abs=1e-3), None)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing.wav", "audio file not found"),
    (lambda tmp: _write(tmp / "empty.wav", b""), "empty"),
    (lambda tmp: _write(tmp / "bad.wav", b"RIFF0000WAVEjunk" * 8), "cannot decode"),
])
def test_decoder_errors_name_the_problem(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_audio(make(tmp_path), 16000)


def test_decoder_refuses_nan_samples_and_empty_bytes(tmp_path: Path) -> None:
    wave = make_clip(0.5, seed=1)
    wave[100] = np.nan
    sf.write(tmp_path / "nan.wav", wave, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN"):
        decode_audio(tmp_path / "nan.wav", 16000)
    with pytest.raises(ValueError, match="empty audio bytes"):
        decode_audio(b"", 16000)


def test_a_manifest_that_is_not_utf8_names_its_file_and_line(tmp_path) -> None:
    """Issue 25, item 12: this used to be `'utf-8' codec can't decode byte 0xff in position 40`, no file, no line."""
    for name, body in [("m.csv", b"audio,caption\na.wav,fine\nb.wav,caf\xe9 noir\n"),
                       ("m.tsv", b"audio\tcaption\na.wav\tfine\nb.wav\tcaf\xe9 noir\n"),
                       ("m.jsonl", b'{"audio": "a.wav", "caption": "fine"}\n\n{"audio": "b.wav", "caption": "\xff"}\n'),
                       ("m.json", b'[{"audio": "a.wav",\n "caption": "\xff"}]')]:
        (tmp_path / name).write_bytes(body)
        line = 2 if name == "m.json" else 3
        with pytest.raises(ValueError, match=rf"{name} line {line}: not UTF-8 text \(byte 0x(e9|ff) at column \d+\); "
                                             "save the manifest as UTF-8"):
            read_table(tmp_path / name)
    (tmp_path / "bom.csv").write_bytes("\ufeffaudio,caption\na.wav,café\n".encode())
    table = read_table(tmp_path / "bom.csv")
    assert table.columns == ["audio", "caption"] and table.rows[0]["caption"] == "café"
    assert table.origins == ["bom.csv line 2"]
