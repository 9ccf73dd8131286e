"""Converters from the published layouts of public audio-text and sound-event datasets to the package's caption
manifests (``wavlink prepare NAME SRC --out DIR``): one module per dataset, each citing the layout it follows.

=================  ===========================================================================================
name               what it reads (``SRC`` is the dataset's folder as downloaded)
=================  ===========================================================================================
fsd50k             ``FSD50K.ground_truth/{dev,eval,vocabulary}.csv`` + ``FSD50K.{dev,eval}_audio/``; labels
                   -> "The sounds of A, B and C" (LAION's template; ontology names with ``--ontology``)
macs               ``MACS.yaml`` (+ ``MACS_competence.csv``) + TAU Urban Acoustic Scenes 2019 audio
audioset-strong    ``audioset_{train,eval}_strong.tsv`` + ``ontology.json`` / ``mid_to_display_name.tsv``;
                   events -> "Speech and dog, then car horn" (onset order, overlapping events grouped)
urbansound8k       ``metadata/UrbanSound8K.csv`` + ``audio/fold*/``; labels -> "The sound of dog bark."
clotho             ``clotho_captions_<split>.csv`` (+ ``clotho_metadata_<split>.csv``) + ``<split>/``
audiocaps          ``{train,val,test}.csv`` + downloaded YouTube audio
auto-acd           ``train.csv`` / ``test.csv`` (youtube_id, caption) + downloaded YouTube audio
audiosetcaps       ``Dataset/*_AudioSetCaps_caption.csv`` (id, caption) + downloaded YouTube audio
=================  ===========================================================================================

Every converter yields `common.Row` records; `common.write_prepared` writes one manifest per split
(``train.csv`` / ``validation.csv`` / ``test.csv``: ``audio`` relative to the output folder, ``caption``,
``source``, ``license``, ``clip_id`` and dataset columns), ``missing.csv`` (clips the metadata lists whose
audio is not there: counted, listed, never silently dropped) and ``prepare_report.json``. The manifests are
read by training (``train_data`` / ``eval_data``), ``wavlink finetune --data`` and ``wavlink eval --task
retrieval`` like any other manifest. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from . import audiocaps, audioset_strong, audiosetcaps, auto_acd, clotho, fsd50k, macs, urbansound8k
from .common import LayoutError, PrepareOptions, PrepareResult, Row, write_prepared

CONVERTERS: dict[str, ModuleType] = {
    m.NAME: m for m in (fsd50k, macs, audioset_strong, urbansound8k, clotho, audiocaps, auto_acd, audiosetcaps)
}
ALIASES = {"us8k": "urbansound8k", "audioset_strong": "audioset-strong", "audiosetstrong": "audioset-strong",
           "autoacd": "auto-acd", "auto_acd": "auto-acd"}


def converter(name: str) -> ModuleType:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in CONVERTERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(CONVERTERS)}")
    return CONVERTERS[key]


def prepare(name: str, src: str | os.PathLike, out_dir: str | os.PathLike,
            options: PrepareOptions | None = None, **kwargs) -> PrepareResult:
    """Convert dataset `name` found in `src` into caption manifests in `out_dir` (see the module docstring).

    `options` (or keyword arguments of `PrepareOptions`) select splits, the audio folder, caption templates...
    """
    module = converter(name)
    options = options or PrepareOptions(**kwargs)
    src = Path(src)
    if not src.is_dir():
        raise LayoutError(f"{module.NAME}: source folder not found: {src}\nexpected layout: {module.LAYOUT}")
    stats: dict[str, int] = {}
    return write_prepared(module.NAME, module.convert(src, options, stats), out_dir, options, stats)


__all__ = ["ALIASES", "CONVERTERS", "LayoutError", "PrepareOptions", "PrepareResult", "Row", "converter", "prepare"]
