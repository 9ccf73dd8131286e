"""A saved model folder works for users without the package: AutoModel/AutoProcessor with remote code,
sentence-transformers and the zero-shot-audio-classification pipeline, in a fresh interpreter where
`import wavlink` fails. One child process runs all three checks; the parent compares with in-process results.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from helpers import SR, make_clip, make_tone, run_child

from wavlink.builders.folder import save_model_folder
from wavlink.builders.wavlink import create_model
from wavlink.remote_code import remote_code_files

TEXTS = ["a dog barks twice", "rain on a tin roof", "an orchestra tuning"]
LABELS = ["dog", "rain", "orchestra"]
# a WavLink folder's code: its own family's files and the shared ones (forward(return_loss) needs losses.py)
REMOTE_FILES = sorted({"configuration_wavlink.py", "modeling_wavlink.py", *{"audio_utils.py", "input_checks.py", "losses.py", "modeling_common.py", "pipeline_wavlink.py", "processing_wavlink.py"}})

CHILD = """
import json, sys
import numpy as np
import torch
from transformers import AutoModel, AutoProcessor, pipeline
from sentence_transformers import SentenceTransformer

spec = json.load(open("spec.json"))
d = spec["model_dir"]
clips = [np.load(p) for p in spec["clips"]]
tone48 = np.load(spec["tone48"])
result = {}

model = AutoModel.from_pretrained(d, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained(d, trust_remote_code=True)
result["model_module"] = type(model).__module__
result["processor_module"] = type(processor).__module__
with torch.no_grad():
    t = processor(text=spec["texts"], return_tensors="pt")
    result["auto_text"] = model.get_text_features(**t).pooler_output.tolist()
    a = processor(audio=clips, return_tensors="pt")
    result["auto_audio"] = model.get_audio_features(**a).pooler_output.tolist()

st = SentenceTransformer(d, trust_remote_code=True)
result["st_dim"] = st.get_embedding_dimension()
result["st_text"] = st.encode(spec["texts"]).tolist()
result["st_audio"] = st.encode(clips).tolist()
result["st_dict"] = st.encode([{"array": tone48, "sampling_rate": 48000}]).tolist()
result["st_path"] = st.encode([spec["wav"]]).tolist()
result["st_text_8"] = st.encode(spec["texts"], truncate_dim=8, normalize_embeddings=True).tolist()

clf = pipeline("zero-shot-audio-classification", model=d, trust_remote_code=True)
result["pipeline"] = clf(clips[0], candidate_labels=spec["labels"])
result["pipeline_class"] = type(clf).__name__
# the folder's own pipeline decodes with soundfile + soxr: paths and {"raw"/"array", "sampling_rate"} dicts
# work without ffmpeg (which this machine does not have: the stock pipeline fails on both)
result["pipeline_path"] = clf(spec["wav"], candidate_labels=spec["labels"])
result["pipeline_raw48"] = clf({"raw": tone48, "sampling_rate": 48000}, candidate_labels=spec["labels"])
result["pipeline_array48"] = clf({"array": tone48, "sampling_rate": 48000}, candidate_labels=spec["labels"])
result["wavlink_loaded"] = any(m == "wavlink" or m.startswith("wavlink.") for m in sys.modules)
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("remote")
    model, processor = create_model("tiny-random", seed=3)
    model.eval()
    model_dir = save_model_folder(model, processor, root / "wavlink-tiny")
    clips = [make_clip(2.5, seed=1), make_clip(1.0, seed=2)]
    clip_paths = []
    for i, clip in enumerate(clips):
        np.save(root / f"clip{i}.npy", clip)
        clip_paths.append(str(root / f"clip{i}.npy"))
    np.save(root / "tone48.npy", make_tone(1.5, 48000))
    sf.write(root / "clip.wav", make_clip(1.7, seed=4), SR, subtype="FLOAT")
    spec = {
        "model_dir": str(model_dir), "clips": clip_paths, "tone48": str(root / "tone48.npy"),
        "wav": str(root / "clip.wav"), "texts": TEXTS, "labels": LABELS,
    }
    (root / "spec.json").write_text(json.dumps(spec))
    return {"root": root, "model": model, "processor": processor, "model_dir": model_dir, "clips": clips,
            "spec": spec}


@pytest.fixture(scope="module")
def child(saved: dict[str, Any]) -> dict[str, Any]:
    """Everything the fresh, wavlink-free interpreter computed (it reads spec.json from its cwd)."""
    return run_child(CHILD, cwd=saved["root"])


def embed(saved: dict[str, Any], text: Any = None, audio: Any = None, **kwargs: Any) -> torch.Tensor:
    model, processor = saved["model"], saved["processor"]
    with torch.no_grad():
        if text is not None:
            return model.get_text_features(**processor(text=text, return_tensors="pt"), **kwargs).pooler_output
        return model.get_audio_features(**processor(audio=audio, return_tensors="pt"), **kwargs).pooler_output


def assert_close(got: list, expected: torch.Tensor, atol: float = 1e-5) -> None:
    got_t = torch.tensor(got, dtype=torch.float32)
    assert got_t.shape == expected.shape
    diff = (got_t - expected).abs().max().item()
    print(f"max abs diff {diff:.2e}")
    assert diff <= atol, diff


def test_folder_has_flat_remote_code(saved: dict[str, Any]) -> None:
    names = {p.name for p in saved["model_dir"].iterdir()}
    assert {n for n in names if n.endswith(".py")} == set(REMOTE_FILES)  # no other family's code, no build code
    assert set(REMOTE_FILES) <= {p.name for p in remote_code_files()}
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "modules.json",
            "sentence_bert_config.json"} <= names
    assert not any(n.endswith((".bin", ".pt")) for n in names)  # safetensors only
    config = json.loads((saved["model_dir"] / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_wavlink.WavLinkConfig",
                                  "AutoModel": "modeling_wavlink.WavLinkModel"}
    for name in REMOTE_FILES:
        tree = ast.parse((saved["model_dir"] / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                # Hub remote code follows only same-folder `from .module import name`.
                assert node.level == 1 and node.module, f"{name}:{node.lineno}: from {'.' * node.level}{node.module}"
                assert (saved["model_dir"] / f"{node.module}.py").exists(), f"{name} imports missing .{node.module}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(m.split(".")[0] == "wavlink" for m in modules), f"{name}:{node.lineno}"


def test_child_could_not_import_wavlink(child: dict[str, Any]) -> None:
    assert child["wavlink_loaded"] is False
    assert child["model_module"].startswith("transformers_modules.")
    assert child["processor_module"].startswith("transformers_modules.")


def test_automodel_remote_code_reproduces_embeddings(saved: dict[str, Any], child: dict[str, Any]) -> None:
    assert_close(child["auto_text"], embed(saved, text=TEXTS))
    assert_close(child["auto_audio"], embed(saved, audio=saved["clips"]))


def test_sentence_transformers(saved: dict[str, Any], child: dict[str, Any]) -> None:
    assert child["st_dim"] == saved["model"].config.projection_dim
    assert_close(child["st_text"], embed(saved, text=TEXTS))
    assert_close(child["st_audio"], embed(saved, audio=saved["clips"]))
    tone = {"array": np.load(saved["spec"]["tone48"]), "sampling_rate": 48000}
    assert_close(child["st_dict"], embed(saved, audio=[tone]))
    assert_close(child["st_path"], embed(saved, audio=[saved["spec"]["wav"]]))
    assert_close(child["st_text_8"], embed(saved, text=TEXTS, truncate_dim=8))
    # The 48 kHz dict was resampled: it matches the same tone generated at 16 kHz.
    cos = F.cosine_similarity(torch.tensor(child["st_dict"]), embed(saved, audio=[make_tone(1.5, SR)]))
    assert cos.item() > 0.999


def test_the_folders_own_pipeline_decodes_paths_and_dicts(saved: dict[str, Any], child: dict[str, Any]) -> None:
    assert child["pipeline_class"] == "WavLinkZeroShotAudioClassificationPipeline"
    model, processor = saved["model"], saved["processor"]
    prompts = [f"This is a sound of {label}." for label in LABELS]
    expected = {}
    for key, audio in (("pipeline_path", [sf.read(saved["spec"]["wav"], dtype="float32")[0]]),
                       ("pipeline_raw48", [{"array": make_tone(1.5, 48000), "sampling_rate": 48000}])):
        with torch.no_grad():
            logits = model(**processor(text=prompts, audio=audio, return_tensors="pt")).logits_per_audio
        expected[key] = dict(zip(LABELS, logits[0].softmax(-1).tolist()))
    expected["pipeline_array48"] = expected["pipeline_raw48"]
    for key, want in expected.items():
        assert sorted(r["label"] for r in child[key]) == sorted(LABELS)
        for r in child[key]:
            assert abs(r["score"] - want[r["label"]]) <= 1e-5, (key, r)


def test_zero_shot_pipeline(saved: dict[str, Any], child: dict[str, Any]) -> None:
    result = child["pipeline"]
    scores = [r["score"] for r in result]
    assert sorted(r["label"] for r in result) == sorted(LABELS)
    assert scores == sorted(scores, reverse=True)
    assert abs(sum(scores) - 1) <= 1e-5
    model, processor = saved["model"], saved["processor"]
    prompts = [f"This is a sound of {label}." for label in LABELS]
    with torch.no_grad():
        logits = model(**processor(text=prompts, audio=saved["clips"][0], return_tensors="pt")).logits_per_audio
    expected = dict(zip(LABELS, logits[0].softmax(-1).tolist()))
    for r in result:
        assert abs(r["score"] - expected[r["label"]]) <= 1e-5, r
