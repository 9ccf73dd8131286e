"""`wavlink build`: a model assembled from local audio and text checkpoints, and the options each family
takes."""

from __future__ import annotations

from pathlib import Path

import torch
from helpers import tiny_clip_text_config, tiny_whisper_config
from transformers import CLIPTextModelWithProjection, WhisperModel

from wavlink.cli import main
from wavlink.inference import Embedder


def test_build_from_local_checkpoints(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    WhisperModel(tiny_whisper_config()).save_pretrained(tmp_path / "whisper")
    CLIPTextModelWithProjection(tiny_clip_text_config()).save_pretrained(tmp_path / "clip")
    from wavlink.builders.tokenization import byte_level_tokenizer

    byte_level_tokenizer(model_max_length=77).save_pretrained(tmp_path / "clip")
    out = tmp_path / "built"
    assert main(["build", "--whisper", str(tmp_path / "whisper"), "--text", str(tmp_path / "clip"),
                 "--out", str(out)]) == 0
    assert "built wavlink model" in capsys.readouterr().out
    emb = Embedder.load(out)
    assert emb.encode_text(["a dog"]).shape == (1, emb.model.config.projection_dim)
    assert main(["build", "--whisper", str(tmp_path / "whisper"), "--out", str(out)]) == 2
    assert "needs --whisper and --text" in capsys.readouterr().err
    assert main(["build", "--whisper", "w", "--text", "t", "--llm", "x", "--out", str(out)]) == 2
    assert "--llm: not an option of --family wavlink" in capsys.readouterr().err
