"""The saved-folder format every family shares: model + processor + remote code + sentence-transformers files.

A saved folder is one standard Hugging Face repo that serves three audiences at once: `AutoModel` /
`AutoProcessor` with `trust_remote_code=True` (the family's flat remote-code files travel with it),
sentence-transformers (`modules.json` + `sentence_bert_config.json`), and the transformers
`zero-shot-audio-classification` pipeline. The names of the files it consists of are kept here once, for
the builders, the Hub publisher and the LoRA adapter folders (which carry the same sentence-transformers
files, plus `ADAPTER_META`).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import shutil
from pathlib import Path
from typing import Any

from transformers.dynamic_module_utils import get_relative_import_files

from ..remote_code.pipeline_wavlink import CUSTOM_PIPELINES, TASK

# sentence-transformers' files at the folder root (plus the module folders `modules.json` lists)
ST_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")  # what peft writes
ADAPTER_META = "wavlink_adapter.json"  # `wavlink finetune`'s adapter metadata (base fingerprint, training facts)

SENTENCE_BERT_CONFIG = {
    "transformer_task": "feature-extraction",
    "modality_config": {
        "text": {"method": "get_text_features", "method_output_name": "pooler_output"},
        "audio": {"method": "get_audio_features", "method_output_name": "pooler_output"},
    },
    "module_output_name": "sentence_embedding",
}


def write_sentence_transformers_files(out_dir: str | os.PathLike) -> None:
    """modules.json & co. so `SentenceTransformer(out_dir, trust_remote_code=True)` uses get_*_features."""
    out = Path(out_dir)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Normalize",
         "type": "sentence_transformers.base.modules.normalize.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out / "sentence_bert_config.json").write_text(json.dumps(SENTENCE_BERT_CONFIG, indent=2) + "\n")
    st_config = {
        "model_type": "SentenceTransformer",
        "__version__": {"sentence_transformers": importlib.metadata.version("sentence-transformers")},
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    (out / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2) + "\n")
    (out / "1_Normalize").mkdir(exist_ok=True)


def add_custom_pipeline(folder: str | os.PathLike) -> None:
    """Name the folder's own zero-shot pipeline (remote_code/pipeline_wavlink.py: soundfile + soxr decoding, no
    ffmpeg) in its config.json, so `pipeline("zero-shot-audio-classification", model=folder,
    trust_remote_code=True)` builds it."""
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text())
    config["custom_pipelines"] = CUSTOM_PIPELINES
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def family_code_files(model: Any, processor: Any) -> list[Path]:
    """The remote-code files a folder of this model needs: the modules of its model, config, processor and
    feature-extractor classes and of the zero-shot pipeline, and every file they import (`from .x import y`),
    so a folder carries its own family's files plus the shared ones, never another family's."""
    roots = [type(model), type(model.config), type(processor), type(processor.feature_extractor)]
    files = {Path(inspect.getfile(cls)) for cls in roots}
    files.add(Path(inspect.getfile(type(model))).parent / (CUSTOM_PIPELINES[TASK]["impl"].split(".")[0] + ".py"))
    for file in list(files):
        files.update(Path(f) for f in get_relative_import_files(os.fspath(file)))
    return sorted(files)


def save_model_folder(model: Any, processor: Any, out_dir: str | os.PathLike) -> Path:
    """Write model + processor + remote code + sentence-transformers files (safetensors only), for any
    family. The remote code is `family_code_files`, copied from where the classes come from
    (`wavlink.remote_code` for the package's families): never build-time code."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    add_custom_pipeline(out)
    processor.save_pretrained(out)
    for source in family_code_files(model, processor):
        shutil.copyfile(source, out / source.name)
    write_sentence_transformers_files(out)
    return out


__all__ = ["ADAPTER_FILES", "ADAPTER_META", "SENTENCE_BERT_CONFIG", "ST_FILES", "add_custom_pipeline", "family_code_files",
           "save_model_folder", "write_sentence_transformers_files"]
