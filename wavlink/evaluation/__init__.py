"""Evaluation: benchmark loaders, the cached runner behind `wavlink eval`, quantisation and plug-ins.

* :mod:`.sets` - :class:`RetrievalSet` / :class:`ClassificationSet`, what every loader returns.
* :mod:`.generic_sets` - any layout the data reader reads (manifests, folders, datasets, shards) to those sets.
* :mod:`.benchmarks` - AudioCaps, Clotho, ESC-50, UrbanSound8K, VGGSound and :func:`load_task_data`.
* :mod:`.runner` - :func:`evaluate` (embedding cache, Matryoshka and int8/binary sweeps, tables, JSON).
* :mod:`.hear` - the HEAR 2021 API (`load_model`, `get_scene_embeddings`, `get_timestamp_embeddings`).
* :mod:`.mteb_wrapper` - an MTEB encoder wrapper (mteb itself is optional; see docs/mteb.md).
"""

from .benchmarks import load_task_data
from .quantization import bytes_per_clip, quantize
from .runner import evaluate, format_table
from .sets import ClassificationSet, RetrievalSet

__all__ = [
    "ClassificationSet",
    "RetrievalSet",
    "bytes_per_clip",
    "evaluate",
    "format_table",
    "load_task_data",
    "quantize",
]
