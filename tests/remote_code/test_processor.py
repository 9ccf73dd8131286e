"""WavLinkFeatureExtractor / WavLinkProcessor: input forms, resampling, mono mixing, padding, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
import torch.nn.functional as F
from helpers import SR, make_clip, make_tone, tiny_config, tiny_model, tiny_processor

from wavlink import WavLinkFeatureExtractor, WavLinkProcessor


@pytest.fixture(scope="module")
def processor() -> WavLinkProcessor:
    return tiny_processor(tiny_config())


@pytest.fixture(scope="module")
def fe(processor: WavLinkProcessor) -> WavLinkFeatureExtractor:
    return processor.feature_extractor


def feats(fe: WavLinkFeatureExtractor, audio: object, **kwargs: object) -> np.ndarray:
    kwargs.setdefault("sampling_rate", SR)
    return fe(audio, **kwargs)["input_features"]


def test_array_tensor_and_list_inputs_agree(fe: WavLinkFeatureExtractor) -> None:
    wave = make_clip(1.5)
    ref = feats(fe, wave)
    assert ref.shape == (1, 80, 150)
    np.testing.assert_allclose(feats(fe, torch.from_numpy(wave)), ref, atol=1e-6)
    np.testing.assert_allclose(feats(fe, wave.tolist()), ref, atol=1e-6)
    np.testing.assert_allclose(feats(fe, [wave]), ref, atol=1e-6)
    np.testing.assert_allclose(feats(fe, {"array": wave, "sampling_rate": SR}), ref, atol=1e-6)
    pcm = np.round(wave * 32767).astype(np.int16)  # integer PCM is scaled to [-1, 1]
    np.testing.assert_allclose(feats(fe, pcm), feats(fe, pcm.astype(np.float32) / 32768), atol=1e-6)


def test_48khz_dict_is_resampled() -> None:
    cfg = tiny_config()
    processor, model = tiny_processor(cfg), tiny_model()
    at16 = processor(audio=make_tone(2.0, SR), return_tensors="pt")
    at48 = processor(audio={"array": make_tone(2.0, 48000), "sampling_rate": 48000}, return_tensors="pt")
    assert at48["input_features"].shape == at16["input_features"].shape == (1, 80, 200)
    # Interior frames agree closely (the edges differ by the resampler's filter transient).
    inner = slice(5, 195)
    assert (at48["input_features"][..., inner] - at16["input_features"][..., inner]).abs().max() < 0.05
    with torch.no_grad():
        e16 = model.get_audio_features(**at16).pooler_output
        e48 = model.get_audio_features(**at48).pooler_output
    assert F.cosine_similarity(e16, e48).item() > 0.999
    # The same through the top-level sampling_rate argument.
    via_arg = processor(audio=make_tone(2.0, 48000), sampling_rate=48000, return_tensors="pt")
    assert torch.allclose(via_arg["input_features"], at48["input_features"], atol=1e-6)


@pytest.mark.parametrize(("fmt", "subtype", "rate"), [
    ("wav", "FLOAT", SR), ("flac", "PCM_24", SR), ("flac", "PCM_16", 48000), ("wav", "PCM_16", 44100),
])
def test_file_paths(fe: WavLinkFeatureExtractor, tmp_path: Path, fmt: str, subtype: str, rate: int) -> None:
    path = tmp_path / f"clip.{fmt}"
    sf.write(path, make_tone(1.0, rate), rate, subtype=subtype)
    from_file = feats(fe, str(path))
    # Exactly what decoding + soxr HQ resampling by hand gives ...
    decoded, file_rate = sf.read(path, dtype="float32")
    assert file_rate == rate
    if rate != SR:
        decoded = soxr.resample(decoded, rate, SR, quality="HQ")
    np.testing.assert_allclose(from_file, feats(fe, decoded), atol=1e-5)
    # ... and close to the same signal generated at 16 kHz (quantisation and resampling aside).
    ref = feats(fe, make_tone(1.0, SR))
    assert from_file.shape == ref.shape == (1, 80, 100)
    assert np.abs(from_file[..., 3:-3] - ref[..., 3:-3]).mean() <= 0.02
    np.testing.assert_array_equal(feats(fe, path), from_file)  # pathlib.Path too
    np.testing.assert_array_equal(feats(fe, {"path": str(path), "array": None}), from_file)


def test_stereo_files_are_mixed_to_mono(fe: WavLinkFeatureExtractor, tmp_path: Path) -> None:
    left, right = make_clip(1.0, seed=1), make_clip(1.0, seed=2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    np.testing.assert_allclose(feats(fe, str(path)), feats(fe, (left + right) / 2), atol=1e-5)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last", "tensor"])
def test_stereo_arrays_are_mixed_to_mono(fe: WavLinkFeatureExtractor, layout: str) -> None:
    left, right = make_clip(1.0, seed=1), make_clip(1.0, seed=2)
    stereo = np.stack([left, right])  # (2, N)
    if layout == "channels_last":
        stereo = stereo.T  # (N, 2)
    elif layout == "tensor":
        stereo = torch.from_numpy(stereo)
    np.testing.assert_allclose(feats(fe, stereo), feats(fe, (left + right) / 2), atol=1e-6)


def test_pads_to_longest_with_frame_mask(fe: WavLinkFeatureExtractor) -> None:
    short, long = make_clip(1.0, seed=1), make_clip(2.5, seed=2)
    out = fe([short, long], sampling_rate=SR, return_tensors="pt")
    assert out["input_features"].shape == (2, 80, 250)  # not 3000 (30 s)
    assert out["feature_attention_mask"].sum(-1).tolist() == [100, 250]
    assert out["feature_attention_mask"].dtype == torch.long
    # A clip's features do not depend on its batch (each clip is normalised on its own).
    alone = fe(short, sampling_rate=SR, return_tensors="pt")["input_features"]
    assert torch.equal(out["input_features"][0, :, :100], alone[0])
    assert torch.all(out["input_features"][0, :, 100:] == 0)
    # Tiny clips are padded to one STFT window.
    tiny = fe(np.ones(100, dtype=np.float32) * 0.1, sampling_rate=SR)
    assert tiny["input_features"].shape == (1, 80, 2)


def test_max_length_padding(fe: WavLinkFeatureExtractor) -> None:
    out = fe([make_clip(1.0), make_clip(2.0)], sampling_rate=SR, padding="max_length", return_tensors="pt")
    assert out["input_features"].shape == (2, 80, 3000)
    assert out["feature_attention_mask"].sum(-1).tolist() == [3000, 3000]  # paper style: silence is attended
    fixed = WavLinkFeatureExtractor(audio_padding="max_length")
    assert fixed(make_clip(1.0), sampling_rate=SR)["input_features"].shape == (1, 80, 3000)
    # ST passes padding=True: that keeps the configured mode.
    assert fixed(make_clip(1.0), sampling_rate=SR, padding=True)["input_features"].shape == (1, 80, 3000)
    assert fe(make_clip(1.0), sampling_rate=SR, padding=True)["input_features"].shape == (1, 80, 100)
    # An explicit choice wins over the configured mode.
    assert fixed(make_clip(1.0), sampling_rate=SR, padding="longest")["input_features"].shape == (1, 80, 100)
    assert fixed(make_clip(1.0), sampling_rate=SR, padding=False)["input_features"].shape == (1, 80, 100)


def test_long_audio_policies_in_the_extractor() -> None:
    wave = make_clip(3.0)
    chunk = WavLinkFeatureExtractor(max_audio_seconds=2.0)
    assert chunk(wave, sampling_rate=SR)["input_features"].shape[-1] == 300  # the model chunks it
    trunc = WavLinkFeatureExtractor(max_audio_seconds=2.0, long_audio_policy="truncate")
    assert trunc(wave, sampling_rate=SR)["input_features"].shape[-1] == 200
    strict = WavLinkFeatureExtractor(max_audio_seconds=2.0, long_audio_policy="error")
    with pytest.raises(ValueError, match="long_audio_policy"):
        strict(wave, sampling_rate=SR)


def _corrupt(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


@pytest.mark.parametrize(("make_audio", "match"), [
    (lambda tmp: str(_corrupt(tmp / "noise.wav")), "cannot decode"),
    (lambda tmp: str((tmp / "empty.wav").touch() or tmp / "empty.wav"), "empty"),
    (lambda tmp: str(tmp / "missing.wav"), "not found"),
    (lambda tmp: np.zeros(0, dtype=np.float32), "zero-length"),
    (lambda tmp: np.array([0.1, np.nan, 0.2] * 200, dtype=np.float32), "NaN or inf"),
    (lambda tmp: np.array([0.1, np.inf, 0.2] * 200, dtype=np.float32), "NaN or inf"),
    (lambda tmp: np.zeros((2, 2, 1000), dtype=np.float32), "3-D"),
    (lambda tmp: np.zeros((100, 100), dtype=np.float32), "multi-channel"),
    (lambda tmp: [], "empty list"),
    (lambda tmp: {"sampling_rate": SR}, "'array'"),
    (lambda tmp: np.array(["a", "b"]), "numeric"),
])
def test_bad_audio_raises_value_error(fe: WavLinkFeatureExtractor, tmp_path: Path, make_audio, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fe(make_audio(tmp_path), sampling_rate=SR)


def test_wrong_sampling_rate_without_resampling(fe: WavLinkFeatureExtractor, processor: WavLinkProcessor) -> None:
    wave = make_tone(1.0, 22050)
    with pytest.raises(ValueError, match="resampling is disabled"):
        fe(wave, sampling_rate=22050, resample=False)
    with pytest.raises(ValueError, match="resampling is disabled"):
        WavLinkFeatureExtractor(resample=False)({"array": wave, "sampling_rate": 22050})
    with pytest.raises(ValueError, match="resampling is disabled"):
        processor(audio=wave, sampling_rate=22050, resample=False)
    assert fe(wave, sampling_rate=22050)["input_features"].shape == (1, 80, 100)  # resampled by default


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"), ("   \n\t", "empty"), (["ok", ""], r"text\[1\] is empty"), ([], "empty list"),
    ([3], "must be a string"),
])
def test_bad_text_raises_value_error(processor: WavLinkProcessor, text: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        processor(text=text)


def test_nothing_given(processor: WavLinkProcessor) -> None:
    with pytest.raises(ValueError, match="text"):
        processor()


def test_text_and_audio_in_one_call(processor: WavLinkProcessor) -> None:
    out = processor(text=["a dog barks", "rain"], audio=[make_clip(1.0), make_clip(2.0), make_clip(0.5)],
                    return_tensors="pt")
    assert out["input_ids"].shape[0] == 2
    assert out["attention_mask"].shape == out["input_ids"].shape  # the text mask, not overwritten by audio
    assert out["attention_mask"].sum(-1).tolist() == [13, 6]  # BOS + bytes + EOS
    assert out["input_features"].shape == (3, 80, 200)
    assert out["feature_attention_mask"].sum(-1).tolist() == [100, 200, 50]
    text_only = processor(text=["a dog barks", "rain"], return_tensors="pt")
    assert torch.equal(text_only["input_ids"], out["input_ids"])
    assert "input_features" not in text_only
    assert set(processor.model_input_names) >= {"input_ids", "attention_mask", "input_features",
                                                "feature_attention_mask"}


def test_sentence_transformers_style_call(processor: WavLinkProcessor) -> None:
    """ST passes per-modality kwargs and padding=True; features match a plain call."""
    wave = make_clip(1.2)
    out = processor(audio=[wave], audio_kwargs={"padding": True, "sampling_rate": SR},
                    text_kwargs={"padding": True, "truncation": "longest_first"},
                    common_kwargs={"return_tensors": "pt"})
    plain = processor(audio=wave, return_tensors="pt")
    assert torch.equal(out["input_features"], plain["input_features"])
    assert torch.equal(out["feature_attention_mask"], plain["feature_attention_mask"])


def test_processor_save_load_round_trip(processor: WavLinkProcessor, tmp_path: Path) -> None:
    custom = tiny_processor(tiny_config(max_audio_seconds=10, long_audio_policy="truncate",
                                        audio_padding="max_length"))
    custom.save_pretrained(tmp_path)
    back = WavLinkProcessor.from_pretrained(tmp_path)
    assert isinstance(back.feature_extractor, WavLinkFeatureExtractor)
    fe = back.feature_extractor
    assert (fe.max_audio_seconds, fe.long_audio_policy, fe.audio_padding, fe.resample) == (
        10.0, "truncate", "max_length", True)
    wave = make_clip(1.0)
    assert np.array_equal(back(audio=wave)["input_features"], custom(audio=wave)["input_features"])
    assert back(text="hello")["input_ids"] == custom(text="hello")["input_ids"]


def test_long_text_is_truncated_to_the_text_tower(processor: WavLinkProcessor) -> None:
    out = processor(text=["word " * 100, "short"], return_tensors="pt")
    assert out["input_ids"].shape == (2, 77)  # CLIP's context length
    model = tiny_model()
    with torch.no_grad():
        emb = model.get_text_features(**out).pooler_output
    assert torch.isfinite(emb).all() and emb.shape == (2, 32)


def test_3d_tensor_is_rejected(fe: WavLinkFeatureExtractor) -> None:
    with pytest.raises(ValueError, match="3-D"):
        fe(torch.zeros(2, 2, 1000), sampling_rate=SR)
