"""An MTEB encoder for this package's models (audio and text), usable without installing mteb.

MTEB (>= 2.0) accepts any object that satisfies its ``EncoderProtocol`` (structural typing): a constructor
``(model_name, revision, **kwargs)``, ``encode(inputs, *, task_metadata, hf_split, hf_subset,
prompt_type=None, **kwargs)`` over a ``DataLoader`` whose batches are dicts (``batch["audio"]``: a list of
``{"array", "sampling_rate"}`` items, ``batch["text"]``: a list of strings), ``similarity``,
``similarity_pairwise`` and the ``mteb_model_meta`` property. :class:`WavLinkMTEBEncoder` implements it
on top of :class:`wavlink.inference.Embedder`; resampling is done by the package's processor (soxr), so
MTEB's torchaudio-based ``AudioCollator`` is never needed. The recipe is in ``docs/mteb.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

import numpy as np
import soundfile as sf
from transformers import AutoModel

from ..inference import Embedder, load_model_and_processor, trained_dims
from ..trust import read_config_dict, resolve_trust
from .generic_sets import load_classification_set
from .sets import ClassificationSet


def _audio_item(item: Any, default_rate: int) -> Any:
    """An MTEB/datasets audio item as something the processor accepts."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if hasattr(item, "get_all_samples"):  # torchcodec AudioDecoder (datasets >= 4 decoded Audio)
        samples = item.get_all_samples()
        return {"array": samples.data.float().cpu().numpy(), "sampling_rate": int(samples.sample_rate)}
    if isinstance(item, Mapping) or (hasattr(item, "__getitem__") and hasattr(item, "keys")):
        array = item["array"]
        if hasattr(array, "detach"):
            array = array.detach().float().cpu().numpy()
        return {"array": np.asarray(array, dtype=np.float32), "sampling_rate": int(item.get("sampling_rate")
                                                                                  or default_rate)}
    if hasattr(item, "detach"):
        item = item.detach().float().cpu().numpy()
    return {"array": np.asarray(item, dtype=np.float32), "sampling_rate": default_rate}


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


class WavLinkMTEBEncoder:
    """MTEB ``EncoderProtocol`` for WavLink / OmniAudioEmbedder folders or Hub ids.

    Args:
        model_name: folder or Hub id. revision: Hub revision (commit) to load.
        truncate_dim: a trained Matryoshka width (``None``: full width).
        meta: an ``mteb.ModelMeta`` to expose as ``mteb_model_meta`` (see :func:`wavlink_model_meta`).
    """

    def __init__(self, model_name: str, revision: str | None = None, device: str | None = None,
                 batch_size: int = 16, truncate_dim: int | None = None, meta: Any = None,
                 trust_remote_code: bool = False, **kwargs: Any) -> None:
        # wavlink / omni folders load with the package's classes; other model code runs only when trusted
        model, processor = load_model_and_processor(model_name, revision=revision or None,
                                                    trust_remote_code=trust_remote_code)
        self.embedder = Embedder(model, processor, device=device, batch_size=batch_size)
        self.model_name = model_name
        self.revision = revision
        self.truncate_dim = truncate_dim
        self.sampling_rate = int(getattr(processor.feature_extractor, "sampling_rate", 16000))
        self._meta = meta

    @classmethod
    def from_embedder(cls, embedder: Any, model_name: str = "local", truncate_dim: int | None = None,
                      meta: Any = None) -> WavLinkMTEBEncoder:
        """Wrap an already loaded :class:`~wavlink.inference.Embedder` (tests, notebooks)."""
        self = cls.__new__(cls)
        self.embedder, self.model_name, self.revision = embedder, model_name, None
        self.truncate_dim, self._meta = truncate_dim, meta
        self.sampling_rate = int(getattr(embedder.processor.feature_extractor, "sampling_rate", 16000))
        return self

    @property
    def mteb_model_meta(self) -> Any:
        """The given ``meta``; without one, when mteb is installed, one filled from the loaded model (MTEB's
        fallback for a model without metadata is text-only, and it refuses to run audio tasks on it)."""
        if self._meta is None:
            try:
                import mteb  # noqa: F401
            except ImportError:
                return None
            self._meta = wavlink_model_meta(self.model_name, revision=self.revision, model=self.embedder.model)
        return self._meta

    def encode(self, inputs: Iterable[Mapping[str, Any]], *, task_metadata: Any = None, hf_split: str | None = None,
               hf_subset: str | None = None, prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
        """Embed every batch of ``inputs``: ``audio`` and/or ``text`` columns (both: the normalised sum, as
        MTEB's CLAP wrapper does for fused inputs). Returns ``(n, dim)`` float32, L2-normalised."""
        out = []
        for batch in inputs:
            audio = batch.get("audio") if isinstance(batch, Mapping) else None
            text = batch.get("text") if isinstance(batch, Mapping) else None
            if audio is None and text is None:
                raise ValueError(f"MTEB batch has neither 'audio' nor 'text' (keys: {list(batch)})")
            emb = None
            if audio is not None:
                items = [_audio_item(x, self.sampling_rate) for x in audio]
                emb = self.embedder.encode_audio(items, truncate_dim=self.truncate_dim)
            if text is not None:
                t = self.embedder.encode_text([str(x) for x in text], truncate_dim=self.truncate_dim)
                emb = t if emb is None else emb + t
            out.append(_to_numpy(emb))
        if not out:
            raise ValueError("no inputs to encode (empty DataLoader)")
        emb = np.concatenate(out)
        return emb / np.linalg.norm(emb, axis=1, keepdims=True)

    def similarity(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        a, b = _to_numpy(embeddings1), _to_numpy(embeddings2)
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return a @ b.T

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        a, b = np.atleast_2d(_to_numpy(embeddings1)), np.atleast_2d(_to_numpy(embeddings2))
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return (a * b).sum(axis=1)


def wavlink_model_meta(name: str, revision: str | None = None, release_date: str | None = None,
                       model_dir: str | None = None, license: str | None = "apache-2.0", model: Any = None,
                       **overrides: Any) -> Any:
    """An ``mteb.ModelMeta`` for a model of this package (needs mteb). Parameter count, Matryoshka dims and
    memory are read from ``model`` (an already loaded model) or else from ``model_dir`` (default: ``name``)
    when it can be loaded."""
    from mteb.models.model_meta import ModelMeta

    n_params = embed_dim = memory = None
    try:
        if model is None:
            source = model_dir or name
            model = AutoModel.from_pretrained(source, trust_remote_code=resolve_trust(source, read_config_dict(source)))
        n_params = int(sum(p.numel() for p in model.parameters()))
        dims = trained_dims(model.config)
        embed_dim = dims if len(dims) > 1 else dims[0]
        memory = round(n_params * 4 / 2**20)
    except Exception:  # metadata only: leave unknown fields as None
        pass
    fields: dict[str, Any] = dict(
        loader=partial(WavLinkMTEBEncoder),
        name=name,
        revision=revision,
        release_date=release_date,
        languages=["eng-Latn"],
        n_parameters=n_params,
        memory_usage_mb=memory,
        max_tokens=77,
        embed_dim=embed_dim,
        license=license,
        open_weights=True,
        public_training_code=None,
        public_training_data=None,
        framework=["PyTorch", "Sentence Transformers", "Transformers"],
        reference=f"https://huggingface.co/{name}",
        similarity_fn_name="cosine",
        use_instructions=False,
        training_datasets=None,
        modalities=["audio", "text"],
        citation=("@inproceedings{wavlink2026, title={WavLink: Compact Audio-Text Embeddings with a Global "
                  "Whisper Token}, author={Kumar and Lepauloux and Hacid}, booktitle={ICASSP}, year={2026}, "
                  "note={arXiv:2601.15118}}"),
    )
    fields.update(overrides)
    return ModelMeta(**fields)


def local_zero_shot_task(data: Any, name: str = "LocalZeroshot", template: str = "This is a sound of {}.",
                         split: str = "test") -> Any:
    """An MTEB ``AbsTaskZeroShotClassification`` task over local clips (needs mteb), in the form of MTEB's own
    audio zero-shot tasks (e.g. ``ESC50_Zeroshot``): decoded ``{"array", "sampling_rate"}`` items in an
    ``audio`` column, integer targets, one candidate text per class (``template`` filled with the class name).

    ``data`` is a label manifest (``audio`` + ``label`` columns; see ``wavlink eval --task zero-shot``) or an
    already loaded :class:`~wavlink.evaluation.sets.ClassificationSet`. Nothing is downloaded: ``load_data``
    builds the dataset from the files. Run it with ``mteb.evaluate(encoder, tasks=[task], cache=None)``.
    """
    from datasets import Dataset, DatasetDict
    from mteb.abstasks import AbsTaskZeroShotClassification
    from mteb.abstasks.task_metadata import TaskMetadata

    clips = data if isinstance(data, ClassificationSet) else load_classification_set(data)
    candidates = [template.format(c) for c in clips.class_names]

    class LocalZeroShot(AbsTaskZeroShotClassification):
        metadata = TaskMetadata(
            name=name, description=f"local zero-shot audio classification ({clips.name})",
            reference=None, dataset={"path": f"local/{name}", "revision": "local"},
            type="AudioZeroshotClassification", category="a2t", eval_splits=[split], eval_langs=["zxx-Zxxx"],
            main_score="accuracy", date=None, domains=None, task_subtypes=None, license=None,
            annotations_creators=None, dialect=[], modalities=["audio", "text"], sample_creation=None,
            bibtex_citation="",
        )
        input_column_name = "audio"
        label_column_name = "target"

        def get_candidate_labels(self) -> list[str]:
            return list(candidates)

        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            if self.data_loaded:
                return
            audio = []
            for item in clips.audio:
                if isinstance(item, (str, os.PathLike)):
                    wave, rate = sf.read(os.fspath(item), dtype="float32", always_2d=True)
                    item = {"array": wave.mean(axis=1), "sampling_rate": int(rate)}
                audio.append(item)
            self.dataset = DatasetDict({split: Dataset.from_dict({"audio": audio, "target": list(clips.labels)})})
            self.data_loaded = True

    return LocalZeroShot()


__all__ = ["WavLinkMTEBEncoder", "local_zero_shot_task", "wavlink_model_meta"]
