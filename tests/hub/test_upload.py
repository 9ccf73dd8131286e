"""The atomic upload (`hub/upload.py`) against the patched `HfApi`: one commit that deletes an earlier
upload's leftovers, only the staged files, the post-commit check, retries of network errors only, and
the token."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hub_helpers import ORG, WAVLINK_REPO_FILES, FakeHub, push

from wavlink.hub import folders as hub_folders
from wavlink.hub import upload as hub_upload


def test_files_of_an_earlier_upload_are_deleted_in_the_same_commit(all_sizes: tuple[Path, int], token: str,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """Republishing over an older revision (pickled weights, shards) leaves exactly the verified files."""
    folder = all_sizes[0] / ORG / "wavlink-tiny-random"
    old = [".gitattributes", "README.md", "config.json", "pytorch_model.bin", "model-00001-of-00002.safetensors",
           "model.safetensors.index.json", "1_Pooling/config.json"]
    hub = FakeHub()
    hub.remote_files[f"{ORG}/x"] = old
    with hub.patch():
        hub_upload.upload_folder_atomic(folder, f"{ORG}/x", token=token, policy=hub_upload.RetryPolicy(1, 0))
        hub_upload.upload_folder_atomic(folder, f"{ORG}/x", token=token, keep_remote_files=True)
    deleting, keeping = hub.commits
    # one upload_folder call each, of the staged folder to the repo: the first deletes whatever it does not carry
    assert [(c["folder_path"], c["repo_id"], c["revision"], c["delete_patterns"]) for c in hub.upload_folder_calls] \
        == [(str(folder), f"{ORG}/x", None, "*"), (str(folder), f"{ORG}/x", None, None)]
    assert not hub.create_commit_calls
    assert deleting["deleted"] == ["1_Pooling/config.json", "model-00001-of-00002.safetensors",
                                   "model.safetensors.index.json", "pytorch_model.bin"]
    assert deleting["paths"] == keeping["paths"] == hub_folders.list_files(folder)
    assert keeping["deleted"] == []  # --keep-remote-files: listed only to check the commit afterwards
    assert hub.remote_files[f"{ORG}/x"] == sorted([".gitattributes", *hub_folders.list_files(folder)])
    assert [c["revision"] for c in hub.listed] == [None, "a" * 40, "a" * 40]
    assert "removing 4 file(s) of an earlier upload" in capsys.readouterr().err


def test_upload_folder_carries_only_the_staged_files(all_sizes: tuple[Path, int], tmp_path: Path,
                                                      token: str) -> None:
    """Junk next to the staged files (caches, .DS_Store, a local .gitattributes) is neither uploaded nor
    reported as unexpected by the post-commit check."""
    folder = tmp_path / "x"
    shutil.copytree(all_sizes[0] / ORG / "wavlink-tiny-random", folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "modeling_wavlink.cpython-311.pyc").write_bytes(b"junk")
    (folder / ".DS_Store").write_bytes(b"junk")
    (folder / ".gitattributes").write_text("*.bin filter=lfs\n")
    hub = FakeHub()
    with hub.patch():
        info = hub_upload.upload_folder_atomic(folder, f"{ORG}/x", token=token, policy=hub_upload.RetryPolicy(1, 0))
    (commit,) = hub.commits
    assert commit["paths"] == hub_folders.list_files(folder) == WAVLINK_REPO_FILES
    assert info.oid == "a" * 40 and hub.listed[-1] == {"repo_id": f"{ORG}/x", "revision": "a" * 40, "token": token}


def test_a_commit_that_lacks_a_staged_file_is_reported(all_sizes: tuple[Path, int], token: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    """The Hub is asked for the new commit's files; a file lost on the way fails the push, naming the commit."""
    folder = all_sizes[0] / ORG / "wavlink-tiny-random"
    hub = FakeHub()
    hub.drop_on_commit = ["model.safetensors"]
    with hub.patch(), pytest.raises(hub_upload.PushError) as err:
        hub_upload.upload_folder_atomic(folder, f"{ORG}/x", token=token, policy=hub_upload.RetryPolicy(1, 0))
    message = str(err.value)
    assert f"the commit {ORG}/x@aaaaaaaaaaaa was made but does not hold exactly the staged files" in message
    assert "missing: ['model.safetensors']" in message and "Nothing from this run was committed" not in message


def test_network_failure_is_retried_then_succeeds(all_sizes: tuple[Path, int], capsys: pytest.CaptureFixture) -> None:
    folder = all_sizes[0] / ORG / "wavlink-tiny-random"
    hub = FakeHub(fail=2)
    with hub.patch():
        info = hub_upload.upload_folder_atomic(folder, f"{ORG}/x", token="hf_x",
                                               policy=hub_upload.RetryPolicy(attempts=3, base_delay=0))
    assert hub.commit_attempts == 3 and len(hub.commits) == 1
    assert hub.commits[0]["paths"] == hub_folders.list_files(folder)
    assert info.oid == "a" * 40
    assert capsys.readouterr().err.count("retrying") == 2


def test_network_failure_that_persists_is_a_clear_error_and_no_success(
        tiny_folder: Path, token: str, capsys: pytest.CaptureFixture) -> None:
    hub = FakeHub(fail=99)
    with hub.patch():
        rc = push("--model", str(tiny_folder), "--repo", f"{ORG}/wavlink-x", "--no-verify", "--retry-delay", "0")
    out = capsys.readouterr()
    assert rc == 1 and hub.commit_attempts == 3 and not hub.commits
    assert "failed after 3 attempts" in out.err and "Nothing from this run was committed" in out.err
    assert "pushed" not in out.out


def test_non_transient_http_errors_are_not_retried() -> None:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    response = httpx2.Response(401, request=httpx2.Request("POST", "https://huggingface.co/api/x"))
    err = HfHubHTTPError("401 Unauthorized", response=response)
    calls = []

    def action() -> None:
        calls.append(1)
        raise err

    with pytest.raises(hub_upload.PushError, match="401"):
        hub_upload.with_retries(action, "uploading", hub_upload.RetryPolicy(3, 0))
    assert len(calls) == 1
    assert hub_upload.is_retryable(HfHubHTTPError("503", response=httpx2.Response(
        503, request=response.request)))
    assert hub_upload.is_retryable(httpx2.ConnectError("refused"))


def test_missing_token_fails_before_any_network_call(tiny_folder: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    hub = FakeHub()
    with hub.patch():
        assert push("--model", str(tiny_folder), "--repo", f"{ORG}/x") == 2
        assert push("--all-sizes", "--org", ORG) == 2
    assert capsys.readouterr().err.count("no Hugging Face token") == 2
    assert not hub.repos and not hub.commit_attempts
