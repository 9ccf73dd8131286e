"""`WavLinkMTEBEncoder` run by mteb itself (`mteb.evaluate`, mteb 2.x) on a local zero-shot task built from a
label manifest (`local_zero_shot_task`): nothing is downloaded, and MTEB's scores and saved predictions must
equal what the package's Embedder computes directly. Skipped when mteb is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_tone

mteb = pytest.importorskip("mteb")

CLIPS = [("hum", 150.0), ("hum", 170.0), ("whistle", 3000.0), ("whistle", 3300.0), ("chord", 600.0),
         ("chord", 640.0), ("hum", 190.0)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random", seed=1)
    return save_model_folder(model, processor, tmp_path_factory.mktemp("mteb") / "tiny")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    rows = ["audio,label"]
    for i, (label, f) in enumerate(CLIPS):  # 22.05 kHz stereo: the encoder must resample and mix down
        wave = make_tone(1.0 + 0.1 * i, 22050, (f, 2 * f))
        sf.write(folder / f"{i}.wav", np.stack([wave, 0.5 * wave], axis=1), 22050)
        rows.append(f"{i}.wav,{label}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder / "labels.csv"


def test_encoder_satisfies_the_protocol_and_brings_audio_metadata(model_dir: Path) -> None:
    from mteb.models.models_protocols import EncoderProtocol

    from wavlink.evaluation.mteb_wrapper import WavLinkMTEBEncoder

    enc = WavLinkMTEBEncoder(str(model_dir))
    assert isinstance(enc, EncoderProtocol)
    meta = enc.mteb_model_meta  # filled from the loaded model when none is given
    assert meta.modalities == ["audio", "text"] and meta.embed_dim == [32, 16, 8, 4]
    assert meta.n_parameters == sum(p.numel() for p in enc.embedder.model.parameters())


def test_mteb_evaluate_on_a_local_manifest_task(model_dir: Path, manifest: Path, tmp_path: Path) -> None:
    from wavlink.evaluation.mteb_wrapper import WavLinkMTEBEncoder, local_zero_shot_task
    from wavlink.inference import Embedder

    task = local_zero_shot_task(manifest, name="LocalTones", template="the sound of a {}")
    assert task.get_candidate_labels() == ["the sound of a chord", "the sound of a hum", "the sound of a whistle"]
    enc = WavLinkMTEBEncoder(str(model_dir))
    result = mteb.evaluate(enc, tasks=[task], cache=None, prediction_folder=tmp_path, show_progress_bar=False)
    assert not result.exceptions
    scores = result.task_results[0].scores["test"][0]

    # the same task computed directly with the package's own API
    embedder = Embedder.load(model_dir)
    files = [str(manifest.parent / f"{i}.wav") for i in range(len(CLIPS))]
    audio = embedder.encode_audio(files)
    text = embedder.encode_text(task.get_candidate_labels())
    sims = (audio / np.linalg.norm(audio, axis=1, keepdims=True)) @ (text / np.linalg.norm(text, axis=1,
                                                                                             keepdims=True)).T
    truth = np.array([["chord", "hum", "whistle"].index(label) for label, _ in CLIPS])
    saved = json.loads((tmp_path / "LocalTones_predictions.json").read_text())["default"]["test"]
    np.testing.assert_allclose(np.array(saved), sims, atol=1e-5)
    assert scores["accuracy"] == pytest.approx(float((sims.argmax(1) == truth).mean()))
    assert scores["main_score"] == scores["accuracy"]
