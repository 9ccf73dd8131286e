"""High-level embedding API shared by the CLI, evaluation and user code.

Works with any model folder or Hub id that follows the package contract (`get_audio_features` /
`get_text_features` returning the normalised embedding in `pooler_output`): WavLinkModel and
OmniAudioEmbedder alike. Batches are formed after sorting clips by duration so that each batch pads as
little as possible; results come back in input order.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import soundfile as sf
import torch
from tqdm.auto import tqdm

from .long_audio import embed_long_file, supports_streaming
from .optimize import int8_engine, quantize_int8
from .remote_code.modeling_common import check_truncate_dim
from .trust import read_config_dict, resolve_trust

# every suffix recognised as audio (a path ending so is audio, not text); what can be *decoded* is narrower,
# see `decodable_audio_suffixes`
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aac", ".m4a", ".opus", ".aiff", ".aif")
# libsndfile major format -> file suffixes; MP3 needs libsndfile >= 1.1, Ogg Opus the OPUS subtype
_SOUNDFILE_SUFFIXES = {"WAV": (".wav",), "FLAC": (".flac",), "OGG": (".ogg", ".oga"), "MP3": (".mp3",),
                       "AIFF": (".aiff", ".aif")}


DTYPES = ("float32", "float16", "bfloat16")


def trained_dims(config: Any) -> list[int]:
    dims = getattr(config, "matryoshka_dims", None)
    if dims:
        return list(dims)
    width = getattr(config, "projection_dim", None) or config.get_text_config().hidden_size
    return [int(width)]


def check_dim(config: Any, dim: int | None) -> None:
    """The models' own truncate_dim check, against the config's trained widths."""
    check_truncate_dim(dim, trained_dims(config))


def load_model_and_processor(source: str | os.PathLike, revision: str | None = None,
                             trust_remote_code: bool = False, **model_kwargs: Any) -> tuple[Any, Any]:
    """AutoModel + AutoProcessor from a folder or Hub id, with errors that name the problem.

    WavLink and OmniAudioEmbedder folders load with the package's own classes: the ``.py`` files the folder
    carries are never executed. Another model type that ships code of its own is refused unless
    `trust_remote_code` (`trust.resolve_trust`, decided from config.json before anything is imported).
    `revision` (branch, tag or commit of a Hub repo) is used for the model, its code and the processor
    alike; a local folder has no revisions, so giving one there is an error rather than silently ignored.
    transformers reports a mistyped folder as an invalid repo id and an unreachable Hub id as a network
    error deep in huggingface_hub; both become one ValueError here.
    """
    from transformers import AutoModel, AutoProcessor  # lazy: 2.5 s; the input checks before a load skip it

    source = os.path.expanduser(os.fspath(source))
    trust = check_model_source(source, revision, trust_remote_code)
    hub_kwargs = {"revision": revision} if revision is not None else {}
    try:
        model = AutoModel.from_pretrained(source, trust_remote_code=trust, **hub_kwargs, **model_kwargs)
        processor = AutoProcessor.from_pretrained(source, trust_remote_code=trust, **hub_kwargs)
    except OSError as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"cannot load model {source!r}: {first}") from err
    return model, processor


def check_model_source(source: str | os.PathLike, revision: str | None = None,
                       trust_remote_code: bool = False) -> bool:
    """The checks of `load_model_and_processor` that load nothing (folder there, a model and not an adapter,
    revision only for Hub ids, whose code may run); returns the ``trust_remote_code`` to load it with.
    Cheap, so callers run it before slower work (reading data) to report a mistyped model first."""
    source = os.path.expanduser(os.fspath(source))
    # a Hub id is "name" or "org/name"; anything else that is not a folder is a mistyped path
    looks_like_path = os.path.isabs(source) or source.startswith((".", "\\")) or source.count("/") > 1
    if looks_like_path and not os.path.isdir(source):
        raise ValueError(f"model folder not found: {source} (give a model folder or a Hub id like org/name)")
    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, "config.json")):
        if os.path.isfile(os.path.join(source, "adapter_config.json")):
            raise ValueError(f"{source} is a LoRA adapter folder, not a model: pass its merged model folder "
                             "(finetune --merge) or its base model")
        raise ValueError(f"{source} is not a model folder (no config.json)")
    if revision is not None and os.path.isdir(source):
        raise ValueError(f"a revision ({revision!r}) selects a version of a Hub repo, but {source} is a local folder")
    return resolve_trust(source, read_config_dict(source, revision), trust_remote_code)


def check_labels(labels: Sequence[str]) -> list[str]:
    """Candidate labels for zero-shot scoring (CLI and web app): non-empty and unique, since a duplicate would
    split one label's probability in two."""
    labels = list(labels)
    if not labels:
        raise ValueError("no labels given")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"duplicate labels: {dupes}")
    return labels


def is_audio_path(item: Any) -> bool:
    return isinstance(item, (str, os.PathLike)) and os.fspath(item).lower().endswith(AUDIO_SUFFIXES) and (
        os.path.isfile(item)
    )


def infer_modality(item: Any) -> str:
    if is_audio_path(item):
        return "audio"
    if isinstance(item, str):
        return "text"
    return "audio"


def _duration(item: Any) -> float:
    """Cheap length estimate used only for batching order."""
    if isinstance(item, (str, os.PathLike)):
        try:
            return float(sf.info(os.fspath(item)).duration)
        except Exception:  # errors are reported properly when the file is decoded
            return 0.0
    if isinstance(item, dict):
        item = item.get("array", [])
        return float(np.asarray(item).shape[-1]) if item is not None else 0.0
    shape = getattr(item, "shape", None)
    return float(max(shape)) if shape else float(len(item))


class Embedder:
    """Embed audio and text with a loaded model + processor."""

    def __init__(self, model: Any, processor: Any, device: str | torch.device | None = None,
                 batch_size: int = 16) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.batch_size = batch_size
        # what `load` was asked for beyond the source (revision, dtype, int8): part of the evaluation cache key
        self.load_options: dict[str, str] = {}
        # WavLink's `pooled_only`: skip the encoder states nothing here reads (the last layer then runs for the
        # global token alone); passed only to models whose code has the parameter (older saved folders do not)
        accepts = inspect.signature(model.get_audio_features).parameters if hasattr(model, "get_audio_features") \
            else {}
        self._audio_kwargs = {"pooled_only": True} if "pooled_only" in accepts else {}
        # files over one window: window by window (long_audio.py); False (or WAVLINK_STREAM_LONG_AUDIO=0): whole
        self.stream_long_audio = os.environ.get("WAVLINK_STREAM_LONG_AUDIO", "1") != "0"

    @classmethod
    def load(cls, source: str | os.PathLike | None = None, device: str | None = None, batch_size: int = 16,
             dtype: torch.dtype | str | None = None, revision: str | None = None, int8: bool = False,
             trust_remote_code: bool = False) -> Embedder:
        """Load a model folder or Hub id; `None` means the package's default model.

        WavLink / Omni folders load with the package's classes (their ``.py`` files are not run); another
        model type with code of its own needs `trust_remote_code` (see `load_model_and_processor`).

        `dtype` (a torch dtype or one of `DTYPES`) loads the weights in that precision (default: as saved;
        `bfloat16` is the fast CPU option on CPUs with AVX-512 BF16 / AMX); `revision` is a branch, tag or
        commit of a Hub repo (default: main); `int8` applies int8 dynamic quantisation to every Linear layer
        after loading (CPU only, fp32 weights; see `wavlink.optimize.quantize_int8`).
        """
        if source is None:
            from .builders.default_model import default_model_dir  # lazy: 2.7 s (builders)

            source = default_model_dir()
        if isinstance(dtype, str):
            if dtype not in DTYPES:
                raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
            dtype = getattr(torch, dtype)
        if int8:
            if dtype not in (None, torch.float32):
                raise ValueError(f"int8 quantises fp32 weights; it cannot be combined with dtype {dtype}")
            if device is not None and torch.device(device).type != "cpu":
                raise ValueError(f"int8 dynamic quantisation runs on the CPU only, not on {device}")
            device = "cpu"
        kwargs = {"dtype": dtype} if dtype is not None else {}
        model, processor = load_model_and_processor(source, revision=revision, trust_remote_code=trust_remote_code,
                                                    **kwargs)
        if int8:
            model = quantize_int8(model.float())
        embedder = cls(model, processor, device=device, batch_size=batch_size)
        if revision is not None:
            embedder.load_options["revision"] = revision
        if dtype is not None:
            embedder.load_options["dtype"] = str(dtype).removeprefix("torch.")
        if int8:
            embedder.load_options["int8"] = f"dynamic-{int8_engine(model)}"
        return embedder

    @property
    def dims(self) -> list[int]:
        return trained_dims(self.model.config)

    def _batched(self, items: Sequence[Any], keys: Iterable[float], fn, progress: bool, desc: str) -> np.ndarray:
        """`fn` over batches of `items` in descending `keys` order; rows back in input order. The progress bar
        counts items (clips or texts), as `wavlink index` and `wavlink eval` do, not batches."""
        order = np.argsort(-np.asarray(list(keys), dtype=float), kind="stable")
        out: list[np.ndarray | None] = [None] * len(items)
        bar = None
        if progress:
            bar = tqdm(total=len(items), desc=desc, unit="clip" if desc == "audio" else "text")
        for start in range(0, len(items), self.batch_size):
            idx = order[start : start + self.batch_size]
            emb = fn([items[i] for i in idx])
            for j, i in enumerate(idx):
                out[i] = emb[j]
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return np.stack(out)

    @torch.inference_mode()
    def encode_audio(self, audio: Sequence[Any], truncate_dim: int | None = None, sampling_rate: int | None = None,
                     progress: bool = False) -> np.ndarray:
        """(N, dim) float32 embeddings of clips given as paths, arrays, tensors or audio dicts."""
        check_dim(self.model.config, truncate_dim)
        if len(audio) == 0:
            raise ValueError("no audio given")

        def run(batch: list[Any]) -> np.ndarray:
            inputs = self.processor(audio=batch, sampling_rate=sampling_rate, return_tensors="pt").to(self.device)
            feats = self.model.get_audio_features(**inputs, truncate_dim=truncate_dim,
                                                  **self._audio_kwargs).pooler_output
            return feats.float().cpu().numpy()

        audio = list(audio)
        durations = [_duration(a) for a in audio]
        # files longer than one window: decoded and embedded window by window (bounded memory, long_audio.py)
        long = [i for i, (a, d) in enumerate(zip(audio, durations)) if self._streams(a, d)]
        if not long:
            return self._batched(audio, durations, run, progress, "audio")

        out: list[np.ndarray | None] = [None] * len(audio)
        for i in long:
            out[i] = embed_long_file(self.model, self.processor, audio[i], truncate_dim, self.device,
                                     self._audio_kwargs)
        rest = [i for i in range(len(audio)) if out[i] is None]
        if rest:
            for i, emb in zip(rest, self._batched([audio[i] for i in rest], [durations[i] for i in rest], run,
                                                  progress, "audio")):
                out[i] = emb
        return np.stack(out).astype(np.float32)

    def _streams(self, item: Any, duration: float) -> bool:
        """Whether a clip goes through `long_audio.embed_long_file`: a file path longer than the extractor's
        window, for a model + processor whose long-audio embedding that path reproduces."""
        if not isinstance(item, (str, os.PathLike)) or not self.stream_long_audio:
            return False
        fe = getattr(self.processor, "feature_extractor", None)
        if fe is None or duration <= float(getattr(fe, "max_audio_seconds", float("inf"))):
            return False

        return supports_streaming(self.model, self.processor)

    @torch.inference_mode()
    def encode_text(self, texts: Sequence[str], truncate_dim: int | None = None,
                    progress: bool = False) -> np.ndarray:
        """(N, dim) float32 embeddings of texts."""
        check_dim(self.model.config, truncate_dim)
        if isinstance(texts, str):
            texts = [texts]
        if len(texts) == 0:
            raise ValueError("no text given")

        def run(batch: list[str]) -> np.ndarray:
            inputs = self.processor(text=batch, return_tensors="pt").to(self.device)
            feats = self.model.get_text_features(**inputs, truncate_dim=truncate_dim).pooler_output
            return feats.float().cpu().numpy()

        return self._batched(list(texts), (len(t) for t in texts), run, progress, "text")

    def encode(self, inputs: Sequence[Any], truncate_dim: int | None = None, progress: bool = False) -> np.ndarray:
        """Embed a list of one modality (texts, or audio paths/arrays); mixing modalities is an error."""
        modalities = {infer_modality(x) for x in inputs}
        if len(modalities) > 1:
            raise ValueError("this call mixes text and audio inputs; encode each modality separately")
        if modalities == {"text"}:
            return self.encode_text(list(inputs), truncate_dim=truncate_dim, progress=progress)
        return self.encode_audio(list(inputs), truncate_dim=truncate_dim, progress=progress)


def load_sentence_transformer(source: str | os.PathLike, truncate_dim: int | None = None,
                              trust_remote_code: bool = False, **kwargs: Any):
    """`SentenceTransformer(source)` whose `truncate_dim` (here and in every `encode` call) must be a trained
    Matryoshka dim: plain sentence-transformers slices any width without complaint. WavLink / Omni folders
    load with the package's classes; another model type with code of its own needs `trust_remote_code`."""
    from sentence_transformers import SentenceTransformer  # lazy: 4 s (sklearn, pandas)

    source = os.fspath(source)
    trust = resolve_trust(source, read_config_dict(source, kwargs.get("revision")), trust_remote_code)
    st = SentenceTransformer(source, trust_remote_code=trust, **kwargs)
    config = st[0].model.config
    check_dim(config, truncate_dim)
    st.truncate_dim = truncate_dim
    plain_encode = st.encode

    @functools.wraps(plain_encode)
    def encode(*args: Any, truncate_dim: int | None = None, **encode_kwargs: Any) -> Any:
        check_dim(config, truncate_dim)
        return plain_encode(*args, truncate_dim=truncate_dim, **encode_kwargs)

    st.encode = encode  # encode_query / encode_document call self.encode, so they are checked too
    return st


def decodable_audio_suffixes() -> tuple[str, ...]:
    """The audio suffixes the installed libsndfile decodes (audio is decoded with soundfile only: no ffmpeg,
    so AAC / M4A never, MP3 only with libsndfile >= 1.1)."""
    formats = sf.available_formats()
    suffixes = [s for fmt, names in _SOUNDFILE_SUFFIXES.items() if fmt in formats for s in names]
    if "OGG" in formats and "OPUS" in sf.available_subtypes("OGG"):
        suffixes.append(".opus")
    return tuple(suffixes)


def _skipped_note(skipped: dict[str, int], folder: str) -> str:
    total = sum(skipped.values())
    kinds = ", ".join(f"{n} {ext}" for ext, n in sorted(skipped.items()))
    return (f"skipped {total} audio file(s) under {folder} that soundfile (libsndfile) cannot decode ({kinds}); "
            "convert them to .wav or .flac to include them")


def list_audio_files(folder: str | os.PathLike, log: Callable[[str], None] | None = None) -> list[str]:
    """The decodable audio files under a folder, recursively, sorted (deterministic order).

    Files with an audio suffix the installed soundfile cannot decode (e.g. .aac, .m4a) are left out and
    reported in one line through `log` (default: printed to stderr), rather than failing one by one later.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"not a folder: {folder}")
    decodable = decodable_audio_suffixes()
    found: list[str] = []
    skipped: dict[str, int] = {}
    for root, _, files in os.walk(folder):
        for name in files:
            lower = name.lower()
            if lower.endswith(decodable):
                found.append(os.path.join(root, name))
            elif lower.endswith(AUDIO_SUFFIXES):
                ext = os.path.splitext(lower)[1]
                skipped[ext] = skipped.get(ext, 0) + 1
    if not found:
        note = f"; {_skipped_note(skipped, folder)}" if skipped else ""
        raise ValueError(f"no decodable audio files ({', '.join(decodable)}) under {folder}{note}")
    if skipped:
        (log or (lambda msg: print(f"note: {msg}", file=sys.stderr)))(_skipped_note(skipped, folder))
    return sorted(found)
