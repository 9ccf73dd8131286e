"""Evaluation: benchmark loaders, the cached runner behind `wavlink eval`, quantisation and plug-ins.

* :mod:`.loaders` - AudioCaps, Clotho, ESC-50, UrbanSound8K, VGGSound, manifests and `datasets` folders
  to :class:`RetrievalSet` / :class:`ClassificationSet`.
* :mod:`.runner` - :func:`evaluate` (embedding cache, Matryoshka and int8/binary sweeps, tables, JSON).
* :mod:`.hear` - the HEAR 2021 API (`load_model`, `get_scene_embeddings`, `get_timestamp_embeddings`).
* :mod:`.mteb_wrapper` - an MTEB encoder wrapper (mteb itself is optional; see docs/mteb.md).
"""

from .loaders import ClassificationSet, RetrievalSet, load_task_data
from .quantization import bytes_per_clip, quantize
from .runner import evaluate, format_table

__all__ = [
    "ClassificationSet",
    "RetrievalSet",
    "bytes_per_clip",
    "evaluate",
    "format_table",
    "load_task_data",
    "quantize",
]
