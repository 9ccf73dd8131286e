"""Create (random), build (from pretrained parts) and save complete WavLink model folders.

A saved folder is one standard Hugging Face repo that serves three audiences at once: `AutoModel` /
`AutoProcessor` with `trust_remote_code=True` (the package's flat remote-code files travel with it),
sentence-transformers (`modules.json` + `sentence_bert_config.json`), and the transformers
`zero-shot-audio-classification` pipeline.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from ..remote_code import remote_code_files
from ..remote_code.configuration_wavlink import WavLinkConfig
from ..remote_code.modeling_wavlink import WavLinkModel
from ..remote_code.pipeline_wavlink import CUSTOM_PIPELINES
from ..remote_code.processing_wavlink import WavLinkFeatureExtractor, WavLinkProcessor
from .components import build_from_components
from .presets import PRESETS, preset_config
from .tokenization import byte_level_tokenizer

BYTE_LEVEL = "byte-level"


def feature_extractor_for(config: WavLinkConfig) -> WavLinkFeatureExtractor:
    """The feature extractor that matches a model config (mel bins, window, long-audio policy)."""
    return WavLinkFeatureExtractor(
        feature_size=config.audio_config.num_mel_bins,
        sampling_rate=config.sampling_rate,
        max_audio_seconds=config.max_audio_seconds,
        long_audio_policy=config.long_audio_policy,
        audio_padding=config.audio_padding,
    )


def load_tokenizer(source: str, max_length: int | None = None):
    """A tokenizer from a folder/Hub id, or the built-in byte-level one; capped at the text tower's positions."""
    if source == BYTE_LEVEL:
        tok = byte_level_tokenizer()
    else:
        try:
            tok = AutoTokenizer.from_pretrained(source)
        except OSError as err:
            raise ValueError(
                f"cannot load the tokenizer {source!r} ({err.__class__.__name__}). Offline? Pass a local "
                f"folder, or tokenizer='{BYTE_LEVEL}' for a randomly initialised model."
            ) from err
    if max_length is not None and (tok.model_max_length is None or tok.model_max_length > max_length):
        tok.model_max_length = max_length
    return tok


def processor_for(config: WavLinkConfig, tokenizer: Any) -> WavLinkProcessor:
    return WavLinkProcessor(feature_extractor=feature_extractor_for(config), tokenizer=tokenizer)


def create_model(
    preset: str, tokenizer: str | None = None, seed: int = 0, **config_overrides: Any
) -> tuple[WavLinkModel, WavLinkProcessor]:
    """A randomly initialised model of a preset and its processor.

    `tokenizer=None` uses the preset's real tokenizer (a Hub id: needs the network or the HF cache), except
    for `tiny-random`, which uses the built-in byte-level tokenizer. `tokenizer="byte-level"` also shrinks
    the text vocabulary to 259 tokens, so the parameter count is then below the paper's.
    """
    import torch

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if tokenizer is None:
        tokenizer = BYTE_LEVEL if preset == "tiny-random" else PRESETS[preset].tokenizer or PRESETS[preset].text
    config = preset_config(preset, byte_level_vocab=tokenizer == BYTE_LEVEL, **config_overrides)
    tok = load_tokenizer(tokenizer, config.text_config.max_position_embeddings)
    torch.manual_seed(seed)
    return WavLinkModel(config), processor_for(config, tok)


def build_model(
    whisper: str, text: str, projection_dim: int | None = None, seed: int = 0, **config_overrides: Any
) -> tuple[WavLinkModel, WavLinkProcessor]:
    """A model from real Whisper and text checkpoints, with the text checkpoint's tokenizer."""
    import torch

    torch.manual_seed(seed)
    model = build_from_components(whisper, text, projection_dim=projection_dim, **config_overrides)
    tok = load_tokenizer(os.fspath(text), model.config.text_config.max_position_embeddings)
    return model, processor_for(model.config, tok)


def build_from_sources(audio: str | os.PathLike | None, text: str | os.PathLike | None, seed: int = 0,
                       **options: Any) -> tuple[WavLinkModel, WavLinkProcessor]:
    """The family's `build` (`wavlink build --family wavlink`): a Whisper and a text encoder checkpoint."""
    if not (audio and text):
        raise ValueError("a WavLink build needs --whisper and --text (a Whisper and a text encoder checkpoint)")
    return build_model(os.fspath(audio), os.fspath(text), seed=seed, **options)


def build_preset(name: str, seed: int = 0) -> tuple[WavLinkModel, WavLinkProcessor]:
    """A preset from its own pretrained sources (its Whisper and text checkpoints)."""
    p = PRESETS[name]
    return build_model(p.audio, p.text, projection_dim=p.projection_dim, seed=seed, **p.config_overrides)


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
    import sentence_transformers

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
        "__version__": {"sentence_transformers": sentence_transformers.__version__},
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


def save_model_folder(model: Any, processor: WavLinkProcessor, out_dir: str | os.PathLike) -> Path:
    """Write model + processor + remote code + sentence-transformers files (safetensors only), for any
    family. The remote code is every file of the folder the model class comes from (`wavlink.remote_code`
    for the package's families): one folder layout for every saved model, never build-time code."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    add_custom_pipeline(out)
    processor.save_pretrained(out)
    for source in remote_code_files(Path(inspect.getfile(type(model))).parent):
        shutil.copyfile(source, out / source.name)
    write_sentence_transformers_files(out)
    return out
