"""Folders saved before `get_audio_features` defaulted to the fast pooled path (their modeling_wavlink.py is
the version of commit 96038c1, where `pooled_only` defaulted to False) still load and give the same vectors
through transformers' remote code, sentence-transformers and the package's Embedder."""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import numpy as np
import pytest
from helpers import REPO_ROOT, make_clip, run_child

OLD_COMMIT = "96038c1"  # the last commit whose modeling_wavlink.py defaulted to pooled_only=False


def _old_modeling_source() -> str:
    try:
        proc = subprocess.run(["git", "show", f"{OLD_COMMIT}:wavlink/remote_code/modeling_wavlink.py"],
                              capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    except OSError:
        proc = None
    if proc is None or proc.returncode != 0:
        pytest.skip(f"git history with commit {OLD_COMMIT} is not available here")
    assert "pooled_only: bool = False" in proc.stdout
    return proc.stdout


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    root = tmp_path_factory.mktemp("older")
    new = save_model_folder(*create_model("tiny-random", seed=3), root / "new")
    old = root / "old"
    shutil.copytree(new, old)
    (old / "modeling_wavlink.py").write_text(_old_modeling_source())
    return new, old


CHILD = """
    import json, sys
    import numpy as np, soundfile as sf, torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoProcessor
    folder, clips = sys.argv[1], [sf.read(p, dtype="float32")[0] for p in sys.argv[2:]]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    with torch.inference_mode():
        out = model.get_audio_features(**processor(audio=clips, sampling_rate=16000, return_tensors="pt"))
    st = SentenceTransformer(folder, trust_remote_code=True, device="cpu").encode(clips)
    print(json.dumps({"states": out.last_hidden_state is not None, "plain": out.pooler_output.tolist(),
                      "st": np.asarray(st).tolist()}))
"""


def test_an_older_folder_gives_the_same_vectors_everywhere(folders, tmp_path):
    """The folder's own code runs (in a child that cannot import wavlink), old and new give the same vectors."""
    import soundfile as sf

    from wavlink.inference import Embedder

    new, old = folders
    clips = [make_clip(s, seed=i) for i, s in enumerate([1.5, 0.7, 3.0])]
    paths = []
    for i, clip in enumerate(clips):
        sf.write(tmp_path / f"{i}.wav", clip, 16000, subtype="FLOAT")
        paths.append(str(tmp_path / f"{i}.wav"))
    script = CHILD.replace("sys.argv[1]", "FOLDER").replace("sys.argv[2:]", "PATHS")
    got = {name: run_child(f"FOLDER, PATHS = {str(folder)!r}, {paths!r}\n" + textwrap.dedent(script), tmp_path)
           for name, folder in (("new", new), ("old", old))}
    assert got["new"]["states"] is False and got["old"]["states"] is True  # the two codes really differ
    for key in ("plain", "st"):
        np.testing.assert_allclose(got["new"][key], got["old"][key], atol=1e-5)
    np.testing.assert_allclose(got["new"]["st"], got["new"]["plain"], atol=1e-5)
    for folder in (new, old):  # the package's Embedder on either folder (it asks for pooled_only itself)
        np.testing.assert_allclose(Embedder.load(folder, device="cpu").encode_audio(paths), got["new"]["plain"],
                                   atol=1e-5)
