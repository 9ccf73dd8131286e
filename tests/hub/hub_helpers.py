"""Shared by the publishing tests (`wavlink push`, `wavlink/hub/`): the exact file lists of a published repo and
`FakeHub`, the Hub calls patched together.

Offline throughout: the Hub calls are `HfApi.create_repo` / `upload_folder` / `list_repo_files` patched
together (huggingface_hub has no fake server; see the ecosystem notes). Real sizes are replaced by tiny
stand-ins; every preset name still gets its folder and card. Child processes are shared: one for the
whole all-sizes dry run (the `all_sizes` fixture of conftest.py, shared by every file), one for the verified
single-folder push, one for the adapter.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # conftest sets it too; keep this module safe on its own

from huggingface_hub import CommitInfo, HfApi, RepoUrl  # noqa: E402

from wavlink.cli import main  # noqa: E402

ORG = "test-org"
CORE_MODEL_FILES = {
    "README.md", "config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
    "tokenizer_config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
}
# The exact upload of a WavLink / Omni model repo (docs/publishing.md lists the same files): both families
# carry the whole remote-code folder.
SHARED_CODE = {"audio_utils.py", "input_checks.py", "losses.py", "modeling_common.py", "pipeline_wavlink.py", "processing_wavlink.py"}
WAVLINK_REPO_FILES = sorted(CORE_MODEL_FILES | SHARED_CODE | {"configuration_wavlink.py", "modeling_wavlink.py"})
OMNI_REPO_FILES = sorted(CORE_MODEL_FILES | SHARED_CODE | {"configuration_omni.py", "modeling_omni.py",
                                                           "processing_omni.py"})


# ----------------------------------------------------------------------------------------------- helpers
class FakeHub:
    """Records the HfApi calls a push may make; `fail` makes the commit of upload_folder raise that many times.

    `upload_folder` follows huggingface_hub's documented semantics: the folder's files that match
    `allow_patterns` (minus `ignore_patterns` and the default .git/.cache ones) are added; remote files that
    match `delete_patterns` are deleted, except `.gitattributes` and the files being uploaded.
    """

    def __init__(self, fail: int = 0, error: Exception | None = None, fail_repos: tuple[str, ...] = ()) -> None:
        self.fail, self.error = fail, error or ConnectionError("connection reset by peer")
        self.fail_repos = set(fail_repos)  # commits to these repos always fail (a dead connection)
        self.remote_files: dict[str, list[str]] = {}  # repo -> files already on the Hub (default: a new repo)
        self.listed: list[dict[str, Any]] = []
        self.drop_on_commit: list[str] = []  # files the "Hub" silently loses in a commit (a broken upload)
        self.corrupt_on_commit: dict[tuple[str, str], bytes] = {}  # (repo, path) -> bytes stored instead
        self.store = Path(tempfile.mkdtemp(prefix="fake-hub-"))  # committed file contents, per repo
        self.downloads: list[dict[str, Any]] = []
        self.repos: list[dict[str, Any]] = []
        self.commits: list[dict[str, Any]] = []
        self.commit_attempts = 0
        self.upload_folder_calls: list[dict[str, Any]] = []
        self.create_commit_calls: list[Any] = []
        self.branches: list[str] = []

    def create_repo(self, _api: HfApi, repo_id: str, **kwargs: Any) -> RepoUrl:
        self.repos.append({"repo_id": repo_id, **kwargs})
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def create_branch(self, _api: HfApi, repo_id: str, *, branch: str, **kwargs: Any) -> None:
        self.branches.append(branch)

    def list_repo_files(self, _api: HfApi, repo_id: str, **kwargs: Any) -> list[str]:
        self.listed.append({"repo_id": repo_id, **kwargs})
        return list(self.remote_files.get(repo_id, [".gitattributes"]))

    def upload_folder(self, _api: HfApi, *, repo_id: str, folder_path: Any, allow_patterns: Any = None,
                      ignore_patterns: Any = None, delete_patterns: Any = None, **kwargs: Any) -> CommitInfo:
        from huggingface_hub.utils import filter_repo_objects
        from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

        self.upload_folder_calls.append({"repo_id": repo_id, "folder_path": folder_path,
                                         "allow_patterns": allow_patterns, "ignore_patterns": ignore_patterns,
                                         "delete_patterns": delete_patterns, **kwargs})
        root = Path(folder_path)
        local = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        ignore = ([ignore_patterns] if isinstance(ignore_patterns, str) else list(ignore_patterns or []))
        added = list(filter_repo_objects(local, allow_patterns=allow_patterns,
                                         ignore_patterns=ignore + DEFAULT_IGNORE_PATTERNS))
        remote = self.remote_files.get(repo_id, [".gitattributes"])
        deleted = [] if delete_patterns is None else [
            f for f in filter_repo_objects(remote, allow_patterns=delete_patterns)
            if f != ".gitattributes" and f not in added]
        return self._commit(repo_id, {name: root / name for name in added}, deleted, **kwargs)

    def create_commit(self, _api: HfApi, repo_id: str, operations: Any, **kwargs: Any) -> CommitInfo:
        self.create_commit_calls.append({"repo_id": repo_id, **kwargs})
        raise AssertionError("publishing must use upload_folder(..., delete_patterns=...), not create_commit")

    def _commit(self, repo_id: str, added: dict[str, Path], deleted: list[str], **kwargs: Any) -> CommitInfo:
        self.commit_attempts += 1
        if repo_id in self.fail_repos:
            raise self.error
        if self.fail:
            self.fail -= 1
            raise self.error
        # the staged files must exist while the commit runs; read them like the Hub would
        files = {name: path.stat().st_size for name, path in added.items()}
        self.commits.append({"repo_id": repo_id, "paths": sorted(files), "sizes": files, "deleted": sorted(deleted),
                             **kwargs})
        for name, path in added.items():
            if name not in self.drop_on_commit:
                dest = self.store / repo_id / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
                if (repo_id, name) in self.corrupt_on_commit:
                    dest.write_bytes(self.corrupt_on_commit[repo_id, name])
        before = self.remote_files.get(repo_id, [".gitattributes"])
        self.remote_files[repo_id] = sorted((set(before) - set(deleted)) | set(files) - set(self.drop_on_commit))
        return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/{'a' * 40}",
                          commit_message=kwargs.get("commit_message", ""), commit_description="", oid="a" * 40)

    def snapshot_download(self, _api: HfApi, repo_id: str, *, revision: str | None = None,
                          local_dir: Any = None, **kwargs: Any) -> str:
        self.downloads.append({"repo_id": repo_id, "revision": revision})
        shutil.copytree(self.store / repo_id, local_dir)
        return str(local_dir)

    @contextlib.contextmanager
    def patch(self) -> Iterator[None]:
        with mock.patch.multiple(
                HfApi, create_repo=_bind(self.create_repo), create_commit=_bind(self.create_commit),
                upload_folder=_bind(self.upload_folder), create_branch=_bind(self.create_branch),
                list_repo_files=_bind(self.list_repo_files), snapshot_download=_bind(self.snapshot_download)):
            try:
                yield
            finally:
                shutil.rmtree(self.store, ignore_errors=True)


def _bind(fn: Any) -> Any:
    def method(api: HfApi, *args: Any, **kwargs: Any) -> Any:
        return fn(api, *args, **kwargs)
    return method


def push(*args: str) -> int:
    return main(["push", *args])


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def expected_presets() -> list[tuple[str, str]]:
    from wavlink.builders.omni_presets import OMNI_PRESETS
    from wavlink.builders.presets import PRESETS

    return [("wavlink", f"wavlink-{n}") for n in PRESETS] + [("omni", f"omni-audio-embedder-{n}") for n in OMNI_PRESETS]


ALL_SIZES_VERIFIED: dict[str, dict[str, float]] = {}  # folder -> {check: max |diff|} of the all-sizes dry run
