"""`evaluation.cache`: the embedding cache's key (a model folder's fingerprint) follows the weights."""

from __future__ import annotations

from pathlib import Path


def test_folder_fingerprint_tracks_weights(model_dir: Path, tmp_path: Path) -> None:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model
    from wavlink.evaluation.cache import folder_fingerprint

    other = save_model_folder(*create_model("tiny-random", seed=1), tmp_path / "other")
    same = save_model_folder(*create_model("tiny-random"), tmp_path / "same")
    assert folder_fingerprint(other) != folder_fingerprint(model_dir)
    assert folder_fingerprint(same) == folder_fingerprint(model_dir)
