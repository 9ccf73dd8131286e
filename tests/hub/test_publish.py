"""`wavlink push` end to end (`hub/publish.py`, behind `commands/push.py`): dry runs of one folder, of an
adapter and of every preset, uploads against the patched `HfApi` (see `hub_helpers.FakeHub`), the
upload options on every call, and what a failure in the middle reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hub_helpers import OMNI_REPO_FILES, ORG, WAVLINK_REPO_FILES, FakeHub, expected_presets, push, tree
from huggingface_hub import ModelCard


def test_all_sizes_dry_run_writes_one_verified_repo_per_preset(all_sizes: tuple[Path, int]) -> None:
    out, rc = all_sizes
    assert rc == 0
    expected = expected_presets()
    assert sorted(p.name for p in (out / ORG).iterdir()) == sorted(name for _, name in expected)
    for family, name in expected:
        folder = out / ORG / name
        files = tree(folder)
        assert files == (WAVLINK_REPO_FILES if family == "wavlink" else OMNI_REPO_FILES), (name, files)
        assert not [f for f in files if (folder / f).is_dir()], "empty folders cannot be uploaded; none staged"
        assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl"))]
        card = ModelCard.load(folder / "README.md")
        assert card.data.library_name == "transformers"
        assert card.data.pipeline_tag == ("zero-shot-audio-classification" if family == "wavlink"
                                          else "feature-extraction")
        assert "sentence-transformers" in card.data.tags and card.data.license == "apache-2.0"
        assert f"{ORG}/{name}" in card.text and "truncate_dim" in card.text and "```bibtex" in card.text
        modules = json.loads((folder / "modules.json").read_text())
        assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Normalize"]


def test_push_to_hub_script_is_the_push_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts" / "push_to_hub.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--all-sizes", "--org", ORG, "--family", "wavlink", "--presets",
                                      "wavlink-tiny-random", "--dry-run", str(tmp_path), "--no-verify"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    assert tree(tmp_path / ORG / "wavlink-tiny-random") == WAVLINK_REPO_FILES


def test_contradictory_or_incomplete_arguments_are_refused(tiny_folder: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    dry = str(tmp_path / "d")
    cases = [(["--model", str(tiny_folder), "--all-sizes", "--org", ORG], "either --model DIR"),
             ([], "either --model DIR"),
             (["--model", str(tiny_folder)], "--model needs --repo"),
             (["--all-sizes"], "--all-sizes needs --org"),
             (["--all-sizes", "--org", ORG, "--presets", "base,huge"], "unknown preset(s) ['huge']"),
             (["--model", str(tiny_folder), "--repo", f"{ORG}/x", "--verify-remote"],
              "--verify-remote checks an uploaded commit")]
    for args, message in cases:
        assert push(*args, "--dry-run", dry) == 2, args
        assert message in capsys.readouterr().err, args
    with pytest.raises(SystemExit) as exit_info:  # numbers are checked when the command line is parsed
        push("--model", str(tiny_folder), "--repo", f"{ORG}/x", "--retries", "0", "--dry-run", dry)
    assert exit_info.value.code == 2 and "argument --retries: must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything was written


def test_push_folder_uploads_exactly_the_dry_run_files_in_one_commit(
        tiny_folder: Path, tmp_path: Path, token: str, capsys: pytest.CaptureFixture) -> None:
    retrieval = tmp_path / "clotho.json"
    retrieval.write_text(json.dumps({
        "task": "Clotho", "model": "x", "text_to_audio": {"R@1": 0.25, "R@5": 0.5, "R@10": 0.625, "mAP@10": 0.3,
                                                          "cvR@5": 0.5},
        "audio_to_text": {"R@1": 0.3, "R@5": 0.55, "R@10": 0.7}, "per_dim": {"16": {"text_to_audio": {"R@1": 0.2}}}}))
    esc = tmp_path / "esc50.json"
    esc.write_text(json.dumps({"dataset": "ESC-50", "top1": 0.8, "top5": 0.95}))
    hub = FakeHub()
    with hub.patch():
        rc = push("--model", str(tiny_folder), "--repo", f"{ORG}/wavlink-mine", "--results", str(retrieval),
                  "--results", str(esc), "--private", "--revision", "v1", "--commit-message", "first")
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert hub.repos == [{"repo_id": f"{ORG}/wavlink-mine", "token": token, "private": True, "exist_ok": True}]
    assert hub.branches == ["v1"] and not hub.create_commit_calls
    (call,) = hub.upload_folder_calls
    assert call["repo_id"] == f"{ORG}/wavlink-mine" and call["revision"] == "v1" and call["token"] == token
    assert call["delete_patterns"] == "*" and call["commit_message"] == "first"
    (commit,) = hub.commits
    assert commit["commit_message"] == "first" and commit["revision"] == "v1" and commit["token"] == token
    assert hub.listed == [{"repo_id": f"{ORG}/wavlink-mine", "revision": "v1", "token": token},  # leftovers
                          {"repo_id": f"{ORG}/wavlink-mine", "revision": "a" * 40, "token": token}]  # the commit
    assert commit["deleted"] == []  # a new repo: only the Hub's .gitattributes, which is kept
    assert commit["paths"] == WAVLINK_REPO_FILES
    assert all(size > 0 for name, size in commit["sizes"].items() if name != "1_Normalize")
    assert "ok " in out.out and f"pushed {ORG}/wavlink-mine" in out.out

    # the dry run of the same folder writes exactly the uploaded file list
    dry = tmp_path / "dry"
    assert push("--model", str(tiny_folder), "--repo", f"{ORG}/wavlink-mine", "--results", str(retrieval),
                "--results", str(esc), "--dry-run", str(dry), "--no-verify", "--weights", "trained",
                "--component", "openai/whisper-tiny.en", "--dataset", f"{ORG}/captions", "--license", "mit") == 0
    staged = dry / ORG / "wavlink-mine"
    assert tree(staged) == commit["paths"]
    card = ModelCard.load(staged / "README.md")
    assert card.data.datasets == [f"{ORG}/captions"] and card.data.license == "mit"
    assert card.data.base_model == ["openai/whisper-tiny.en"] and "trained contrastively" in card.text
    metrics = {(r.task_type, r.dataset_name, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert metrics[("text-to-audio-retrieval", "Clotho", "T2A R@1")] == 25.0
    assert metrics[("text-to-audio-retrieval", "Clotho", "T2A R@1 (dim 16)")] == 20.0
    assert metrics[("zero-shot-audio-classification", "ESC-50", "top1")] == 80.0
    assert "| Clotho | T2A | 25.00 | 50.00 | 62.50 | 30.00 | 50.00 |" in card.text


def test_all_sizes_push_commits_each_dry_run_folder_with_the_upload_options(
        all_sizes: tuple[Path, int], token: str, capsys: pytest.CaptureFixture) -> None:
    """`--all-sizes` for real (patched HfApi): one create_repo + branch + one commit per repo, each carrying
    exactly the files its dry-run folder holds, and --private / --revision / --commit-message on every call."""
    names = ["wavlink-base", "wavlink-tiny-random"]
    names += ["omni-audio-embedder-m1", "omni-audio-embedder-tiny-random"]
    hub = FakeHub()
    with hub.patch():
        rc = push("--all-sizes", "--org", ORG, "--family", "all", "--presets",
                  ",".join(names), "--tiny-standins", "--no-verify", "--private", "--revision", "release",
                  "--commit-message", "publish every size", "--keep-remote-files")
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert hub.repos == [{"repo_id": f"{ORG}/{n}", "token": token, "private": True, "exist_ok": True} for n in names]
    assert hub.branches == ["release"] * len(names) and not hub.create_commit_calls
    # each repo's staged folder (a fresh temp copy, <tmp>/ORG/NAME), nothing deleted with --keep-remote-files
    assert [(Path(c["folder_path"]).parts[-2:], c["repo_id"], c["revision"], c["delete_patterns"])
            for c in hub.upload_folder_calls] == [((ORG, n), f"{ORG}/{n}", "release", None) for n in names]
    assert [c["revision"] for c in hub.listed] == ["a" * 40] * len(names)  # only the post-commit check
    assert all(c["deleted"] == [] for c in hub.commits)
    assert [c["repo_id"] for c in hub.commits] == [f"{ORG}/{n}" for n in names]
    for name, commit in zip(names, hub.commits):
        assert commit["commit_message"] == "publish every size" and commit["revision"] == "release"
        assert commit["token"] == token
        assert commit["paths"] == tree(all_sizes[0] / ORG / name), name  # exactly what the dry run wrote
        assert commit["paths"] == (OMNI_REPO_FILES if name.startswith("omni") else WAVLINK_REPO_FILES)
        assert f"pushed {ORG}/{name} ({len(commit['paths'])} files in one commit)" in out.out


def test_verify_remote_reloads_each_downloaded_commit_and_refuses_a_broken_one(
        token: str, capsys: pytest.CaptureFixture) -> None:
    """`--verify-remote`: every commit is downloaded (at its oid) and reloaded without wavlink against the same
    reference; a repo whose stored card came back broken is reported as not published."""
    hub = FakeHub()
    hub.corrupt_on_commit = {(f"{ORG}/wavlink-tiny-random", "README.md"): b"---\nlicense: [\n---\n# broken\n"}
    names = ["wavlink-base", "wavlink-tiny-random"]
    with hub.patch():
        rc = push("--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", ",".join(names),
                  "--tiny-standins", "--verify-remote", "--retry-delay", "0")
    out = capsys.readouterr()
    assert rc == 1
    assert hub.downloads == [{"repo_id": f"{ORG}/{n}", "revision": "a" * 40} for n in names]
    assert f"ok {ORG}/wavlink-base@aaaaaaaaaaaa from the Hub: transformers max|diff|" in out.out
    assert f"pushed {ORG}/wavlink-base" in out.out and f"pushed {ORG}/wavlink-tiny-random" not in out.out
    assert "the commit aaaaaaaaaaaa was made, but reloading it from the Hub failed" in out.err
    assert "does not parse" in out.err and f"(published: {ORG}/wavlink-base)" in out.err


def test_network_failure_in_the_middle_of_all_sizes_names_what_was_and_was_not_published(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The first repo is committed, the second's connection keeps dropping: retried, then a clear error that
    lists the published repo, and no success line for the failed one. The token comes from the file
    `hf auth login` writes (HF_TOKEN unset)."""
    import huggingface_hub.constants

    token_file = tmp_path / "token"
    token_file.write_text("hf_token_from_login_file\n")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(token_file))
    hub = FakeHub(fail_repos=(f"{ORG}/wavlink-tiny-random",))
    with hub.patch():
        rc = push("--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "base,wavlink-tiny-random",
                  "--tiny-standins", "--no-verify", "--retry-delay", "0")
    out = capsys.readouterr()
    assert rc == 1
    assert [c["repo_id"] for c in hub.commits] == [f"{ORG}/wavlink-base"]
    assert hub.commits[0]["commit_message"] == "Upload wavlink-base" and hub.commits[0]["revision"] is None
    assert {r["token"] for r in hub.repos} == {"hf_token_from_login_file"}
    assert hub.commit_attempts == 1 + 3  # base once, tiny-random three times
    assert "1 of 2 repo(s) were not published (published: test-org/wavlink-base)" in out.err
    assert "failed after 3 attempts" in out.err
    assert f"Nothing from this run was committed to {ORG}/wavlink-tiny-random" in out.err
    assert f"pushed {ORG}/wavlink-base" in out.out and f"pushed {ORG}/wavlink-tiny-random" not in out.out


def test_omni_model_folder_push_dry_run_is_verified(all_sizes: tuple[Path, int], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """`--model` with an Omni folder: the card is re-rendered for the new repo and the staged copy is reloaded
    without wavlink (transformers, sentence-transformers, pipeline)."""
    source = all_sizes[0] / ORG / "omni-audio-embedder-tiny-random"
    assert push("--model", str(source), "--repo", f"{ORG}/omni-mine", "--dry-run", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "sentence-transformers max|diff|" in out and "pipeline max|diff|" in out
    staged = tmp_path / ORG / "omni-mine"
    assert tree(staged) == OMNI_REPO_FILES
    card = ModelCard.load(staged / "README.md")
    assert card.data.pipeline_tag == "feature-extraction" and f'"{ORG}/omni-mine"' in card.text


def _lora(tiny_folder: Path) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_folder)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # non-zero, so the adapter changes the embeddings and the check means something
                param.normal_(std=0.2, generator=torch.Generator().manual_seed(0))
    return peft_model


def test_finetune_adapter_push_records_its_base_and_serves_both_libraries(tiny_folder: Path, tmp_path: Path,
                                                                         token: str) -> None:
    """An adapter as `wavlink finetune` writes it (peft + processor + sentence-transformers files)."""
    from transformers import AutoProcessor

    from wavlink.training.adapter import save_adapter

    adapter = tmp_path / "adapter"
    save_adapter(_lora(tiny_folder), AutoProcessor.from_pretrained(tiny_folder), adapter, str(tiny_folder))
    hub = FakeHub()
    with hub.patch():  # verified: PeftModel, ST + load_adapter, and SentenceTransformer(<adapter repo>)
        rc = push("--model", str(adapter), "--repo", f"{ORG}/wavlink-lora", "--base-repo", f"{ORG}/wavlink-base",
                  "--base-folder", str(tiny_folder), "--private", "--revision", "lora-v1", "--commit-message", "lora")
    assert rc == 0
    assert hub.repos == [{"repo_id": f"{ORG}/wavlink-lora", "token": token, "private": True, "exist_ok": True}]
    assert hub.branches == ["lora-v1"]
    (commit,) = hub.commits
    assert commit["commit_message"] == "lora" and commit["revision"] == "lora-v1" and commit["token"] == token
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors", "modules.json",
            "processor_config.json", "wavlink_adapter.json"} <= set(commit["paths"])
    assert "model.safetensors" not in commit["paths"]  # no base weights in an adapter repo

    dry = tmp_path / "dry"
    assert push("--model", str(adapter), "--repo", f"{ORG}/wavlink-lora", "--base-repo", f"{ORG}/wavlink-base",
                "--dry-run", str(dry), "--no-verify") == 0
    staged = dry / ORG / "wavlink-lora"
    assert tree(staged) == commit["paths"]
    assert json.loads((staged / "adapter_config.json").read_text())["base_model_name_or_path"] == f"{ORG}/wavlink-base"
    assert json.loads((staged / "wavlink_adapter.json").read_text())["base_model"] == f"{ORG}/wavlink-base"
    assert str(tiny_folder) not in (staged / "README.md").read_text()  # no publisher-local path leaks
    card = ModelCard.load(staged / "README.md")
    assert card.data.base_model == [f"{ORG}/wavlink-base"] and card.data.library_name == "peft"
    assert "PeftModel.from_pretrained" in card.text
    assert f'SentenceTransformer("{ORG}/wavlink-lora", trust_remote_code=True)' in card.text
    assert "audio_emb = model.encode(" in card.text and "truncate_dim" in card.text  # texts, audio, Matryoshka


def test_plain_peft_adapter_dry_run(tiny_folder: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    _lora(tiny_folder).save_pretrained(adapter)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_folder)
    dry = tmp_path / "dry"
    assert push("--model", str(adapter), "--repo", f"{ORG}/wavlink-lora", "--base-repo", f"{ORG}/wavlink-base",
                "--dry-run", str(dry), "--no-verify") == 0
    staged = dry / ORG / "wavlink-lora"
    assert tree(staged) == ["README.md", "adapter_config.json", "adapter_model.safetensors"]
    card = ModelCard.load(staged / "README.md")
    assert card.data.base_model == [f"{ORG}/wavlink-base"]
    assert "load_adapter" in card.text


def test_adapter_with_a_local_base_needs_base_repo(tiny_folder: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_folder), "r": 4}))
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    assert push("--model", str(adapter), "--repo", f"{ORG}/x", "--dry-run", str(tmp_path / "d")) == 2
    assert "--base-repo" in capsys.readouterr().err
    assert push("--model", str(adapter), "--repo", f"{ORG}/x", "--base-repo", "no-namespace",
                "--dry-run", str(tmp_path / "d")) == 2
    assert "--base-repo 'no-namespace' is not a valid Hub repo id" in capsys.readouterr().err
