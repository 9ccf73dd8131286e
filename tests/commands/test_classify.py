"""One score scale for zero-shot classification: `wavlink classify`, the web app and the folder's zero-shot pipeline
give the same probabilities, read off the model's trained logit scale (softmax over the labels for a CLIP-trained
model, one sigmoid per label for a SigLIP-trained one), checked against a hand computation; --scores cosine gives
the raw cosines. Also: labels ranked with the template ensemble, label errors, and --json as the only stdout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import SR, make_tone

from wavlink.app import AppEngine
from wavlink.cli import main
from wavlink.inference import Embedder
from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates

LABELS = ["dog", "rain", "church bells", "engine"]


def _make_model(root: Path, loss_type: str) -> Path:
    out = root / f"tiny-{loss_type}"
    assert main(["create", "--preset", "tiny-random", "--out", str(out)]) == 0
    if loss_type != "clip":
        config = json.loads((out / "config.json").read_text())
        config["loss_type"] = loss_type
        (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.fixture(scope="module", params=["clip", "siglip"])
def loss_model_dir(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny folder per trained loss (CLIP, SigLIP); the plain `model_dir` of conftest.py is CLIP-trained."""
    return _make_model(tmp_path_factory.mktemp("classify"), request.param)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("classify-clips")
    paths = []
    for name, freqs in [("low.wav", (220.0,)), ("high.wav", (3000.0, 4500.0))]:
        sf.write(folder / name, make_tone(1.3, SR, freqs), SR)
        paths.append(str(folder / name))
    return paths


def by_hand(model_dir: Path, clips: list[str], templates: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, probabilities) computed here from the embeddings and the model's parameters."""
    emb = Embedder.load(model_dir)
    classes = class_embeddings_from_templates(emb.encode_text, LABELS, templates)
    audio = emb.encode_audio(clips)
    cos = (audio / np.linalg.norm(audio, axis=1, keepdims=True)) @ (
        classes / np.linalg.norm(classes, axis=1, keepdims=True)).T
    model = emb.model
    if model.config.loss_type == "siglip":
        logits = np.exp(model.siglip_logit_scale.item()) * cos + model.siglip_logit_bias.item()
        return cos, 1 / (1 + np.exp(-logits))
    logits = min(np.exp(model.logit_scale.item()), 100.0) * cos
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return cos, e / e.sum(axis=1, keepdims=True)


def cli_scores(capsys, model_dir: Path, clips: list[str], *extra: str) -> np.ndarray:
    assert main(["classify", *clips, "--labels", ",".join(LABELS), "--model", str(model_dir),
                 "--top-k", str(len(LABELS)), "--json", *extra]) == 0
    rows = json.loads(capsys.readouterr().out)
    scale = "cosine" if "cosine" in extra else "sigmoid" if Embedder.load(model_dir).model.config.loss_type == "siglip" \
        else "softmax"
    assert all(r["scores"] == scale for r in rows)  # the JSON names its score scale
    return np.array([[{x["label"]: x["score"] for x in r["labels"]}[label] for label in LABELS] for r in rows])


def test_cli_prints_probabilities_on_the_trained_scale(loss_model_dir: Path, clips: list[str], capsys) -> None:
    _, want = by_hand(loss_model_dir, clips, list(DEFAULT_TEMPLATES))
    got = cli_scores(capsys, loss_model_dir, clips)
    np.testing.assert_allclose(got, want, atol=1e-5)
    if json.loads((loss_model_dir / "config.json").read_text()).get("loss_type") == "siglip":
        assert not np.allclose(got.sum(axis=1), 1.0, atol=1e-3)  # independent sigmoids
    else:
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_scores_cosine_prints_the_raw_cosines(loss_model_dir: Path, clips: list[str], capsys) -> None:
    cos, _ = by_hand(loss_model_dir, clips, list(DEFAULT_TEMPLATES))
    np.testing.assert_allclose(cli_scores(capsys, loss_model_dir, clips, "--scores", "cosine"), cos, atol=1e-5)


def test_cli_app_and_pipeline_agree(loss_model_dir: Path, clips: list[str], capsys) -> None:
    """One template ("{}") so that the pipeline's single hypothesis template is the same prompt."""
    from transformers import pipeline

    cli = cli_scores(capsys, loss_model_dir, clips, "--template", "{}")
    engine = AppEngine(Embedder.load(loss_model_dir), folder=str(Path(clips[0]).parent), templates=["{}"])
    app = np.array([[engine.classify(clip, LABELS)[label] for label in LABELS] for clip in clips])
    clf = pipeline("zero-shot-audio-classification", model=str(loss_model_dir), trust_remote_code=True)
    piped = np.array([[{d["label"]: d["score"] for d in clf(clip, candidate_labels=LABELS,
                                                            hypothesis_template="{}")}[label] for label in LABELS]
                      for clip in clips])
    np.testing.assert_allclose(app, cli, atol=1e-5)
    np.testing.assert_allclose(piped, cli, atol=1e-4)


def test_the_table_shows_the_same_numbers(loss_model_dir: Path, clips: list[str], capsys) -> None:
    _, want = by_hand(loss_model_dir, clips, list(DEFAULT_TEMPLATES))
    assert main(["classify", clips[0], "--labels", ",".join(LABELS), "--model", str(loss_model_dir), "--top-k", "1"]) == 0
    best = int(np.argmax(want[0]))
    assert f"{LABELS[best]} ({want[0, best]:.3f})" in capsys.readouterr().out


def test_a_model_without_a_trained_scale_is_told_to_use_cosines() -> None:
    from wavlink.remote_code.losses import zero_shot_probabilities

    class Plain(torch.nn.Module):
        config = None

    with pytest.raises(ValueError, match="--scores cosine"):
        zero_shot_probabilities(np.ones((1, 4), np.float32), np.ones((2, 4), np.float32), Plain())


def test_help_names_both_scales(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--scores {probability,cosine}" in out and "sigmoid per label for SigLIP-trained" in out


def test_classify_ranks_labels_with_the_template_ensemble(model_dir: Path, sounds: Path, capsys) -> None:
    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates

    labels = ["dog", "rain", "church bells"]
    assert main(["classify", str(sounds / "low.wav"), "--labels", ",".join(labels), "--model", str(model_dir),
                 "--top-k", "3"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("low.wav")][0]
    printed = [label for label in labels if label in row]
    emb = Embedder.load(model_dir)
    classes = class_embeddings_from_templates(emb.encode_text, labels, list(DEFAULT_TEMPLATES))
    scores = emb.encode_audio([str(sounds / "low.wav")]) @ classes.T
    ranked = [labels[i] for i in np.argsort(-scores[0])]
    assert sorted(printed, key=row.index) == ranked


def test_classify_label_errors(model_dir: Path, sounds: Path, capsys) -> None:
    assert main(["classify", str(sounds), "--labels", "dog,cat,dog", "--model", str(model_dir)]) == 2
    assert "duplicate labels: ['dog']" in capsys.readouterr().err
    assert main(["classify", str(sounds), "--labels", " , ", "--model", str(model_dir)]) == 2
    assert "no labels given" in capsys.readouterr().err


def test_classify_json_is_the_only_stdout(model_dir: Path, sounds: Path, capsys, loud_load) -> None:
    from wavlink.metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates

    labels = ["dog", "rain", "church bells"]
    files = [str(sounds / "low.wav"), str(sounds / "mid.flac")]
    emb = Embedder.load(model_dir)
    classes = class_embeddings_from_templates(emb.encode_text, labels, list(DEFAULT_TEMPLATES))
    scores = emb.encode_audio(files) @ classes.T
    loud_load()
    assert main(["classify", *files, "--labels", ",".join(labels), "--model", str(model_dir), "--top-k", "2",
                 "--json", "--scores", "cosine"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # nothing but the JSON document on stdout
    assert "assembling" in captured.err
    assert [r["path"] for r in result] == files
    for r, row in zip(result, scores):
        best = np.argsort(-row)[:2]
        assert [x["label"] for x in r["labels"]] == [labels[i] for i in best]
        np.testing.assert_allclose([x["score"] for x in r["labels"]], row[best], atol=1e-5)
