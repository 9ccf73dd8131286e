"""Publishing (`wavlink push`): dry runs, cards, offline uploads against patched HfApi, and bad input.

Offline throughout: the Hub calls are `HfApi.create_repo` / `upload_folder` / `list_repo_files` patched
together (huggingface_hub has no fake server; see the ecosystem notes). Real sizes are replaced by tiny
stand-ins; every preset name still gets its folder and card. Child processes are shared: one for the
whole all-sizes dry run, one for the verified single-folder push, one for the adapter.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # conftest sets it too; keep this module safe on its own

from huggingface_hub import CommitInfo, HfApi, ModelCard, RepoUrl  # noqa: E402

from wavlink.cli import main  # noqa: E402
from wavlink.hub import folders as hub_folders  # noqa: E402
from wavlink.hub import upload as hub_upload  # noqa: E402
from wavlink.hub import verify as hub_verify  # noqa: E402
from wavlink.remote_code import remote_code_files

ORG = "test-org"
CORE_MODEL_FILES = {
    "README.md", "config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
    "tokenizer_config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
}
WAVLINK_CODE = {"configuration_wavlink.py", "modeling_wavlink.py", "processing_wavlink.py"}
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


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny-random WavLink folder, as `wavlink create` writes it."""
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    out = tmp_path_factory.mktemp("src") / "tiny"
    model, processor = create_model("tiny-random")
    save_model_folder(model, processor, out)
    return out


@pytest.fixture(scope="module")
def all_sizes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One `--all-sizes` dry run with tiny stand-ins, both families when Omni exists (one verify process)."""
    from wavlink.hub import publish as hub_publish

    out = tmp_path_factory.mktemp("dry")
    family = "all"

    def recording_verify(jobs: Any, timeout: float, **kwargs: Any) -> Any:  # the real verification, its report kept
        report = hub_verify.verify(jobs, timeout=timeout, **kwargs)
        ALL_SIZES_VERIFIED.update(report)
        return report

    with mock.patch.object(hub_publish, "verify", recording_verify):
        rc = push("--all-sizes", "--org", ORG, "--family", family, "--tiny-standins", "--dry-run", str(out))
    return out, rc


ALL_SIZES_VERIFIED: dict[str, dict[str, float]] = {}  # folder -> {check: max |diff|} of the all-sizes dry run


@pytest.fixture()
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    return "hf_fake_token_for_tests"


# ----------------------------------------------------------------------------------------------- dry runs
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


def test_all_sizes_cards_name_the_preset_and_the_standin(all_sizes: tuple[Path, int]) -> None:
    out, _ = all_sizes
    base = ModelCard.load(out / ORG / "wavlink-base" / "README.md")
    assert "Test stand-in" in base.text and "`base` preset" in base.text
    assert "WavLink-Base" in base.text and "arXiv 2601.15118" in base.text  # the paper's numbers, labelled
    assert "model-index" not in base.data.to_dict()  # no eval results given -> no metrics claimed
    assert base.data.base_model is None  # random weights are derived from nothing
    tiny = ModelCard.load(out / ORG / "wavlink-tiny-random" / "README.md")
    assert "Test stand-in" not in tiny.text and "randomly initialised" in tiny.text
    for field in ("long_audio_policy", "audio_padding", "global_token_position", "matryoshka_dims", "text_pooling"):
        assert f"`{field}`" in tiny.text, field
    assert "| 32 | yes | 128 | 64 | 32 | 4 |" in tiny.text  # Matryoshka table: dim, bytes f32/f16/int8/binary


def test_all_sizes_verifies_every_repo_with_every_loader(all_sizes: tuple[Path, int]) -> None:
    """Each repo folder was reloaded without wavlink through transformers, sentence-transformers and the
    zero-shot pipeline (both families) and matched the in-process embeddings."""
    out, rc = all_sizes
    assert rc == 0
    expected = {str(out / ORG / name) for _, name in expected_presets()}
    assert set(ALL_SIZES_VERIFIED) == expected
    for folder, diffs in ALL_SIZES_VERIFIED.items():
        assert set(diffs) == {"transformers", "sentence-transformers", "pipeline"}, folder
        assert max(diffs.values()) <= hub_verify.TOLERANCE, (folder, diffs)


def test_all_sizes_omni_presets(all_sizes: tuple[Path, int]) -> None:
    out, rc = all_sizes
    assert rc == 0
    from wavlink.builders.omni_presets import OMNI_PRESETS

    for name in OMNI_PRESETS:
        folder = out / ORG / f"omni-audio-embedder-{name}"
        assert (folder / "model.safetensors").is_file(), folder
        card = ModelCard.load(folder / "README.md")
        assert card.data.pipeline_tag == "feature-extraction"
        assert 'pipeline("zero-shot-audio-classification"' in card.text
        dims = json.loads((folder / "config.json").read_text())["matryoshka_dims"]
        assert (f"truncate_dim={min(dims)})" in card.text) == (len(dims) > 1), (name, dims)  # ST usage example
        assert "hypothesis_template" not in card.text  # no text instruction in these presets


def test_every_real_preset_config_renders_a_valid_card() -> None:
    """The stand-ins above carry tiny configs; here each preset's real architecture (config only, no weights)
    fills the template: widths, layers, mel bins and the Matryoshka rows of the real size."""
    from wavlink.builders.omni_presets import omni_preset_config
    from wavlink.builders.presets import preset_config
    from wavlink.hub.cards import CardInfo, render_model_card, validate_card
    from wavlink.hub.presets import select_presets

    for entry in select_presets(["wavlink", "omni"], None):
        config = (preset_config if entry.family == "wavlink" else omni_preset_config)(entry.name)
        info = CardInfo(repo_id=entry.repo_id(ORG), family=entry.family, preset=entry.name,
                        preset_description=entry.description, weights="pretrained-components",
                        components=list(entry.components))
        text = render_model_card(config, info, [])
        card = validate_card(text)
        assert card.data.base_model == (list(entry.components) or None), entry.name
        audio, llm = config.audio_config, config.get_text_config()
        assert f"{audio.num_mel_bins} mel bins" in text and f"{llm.num_hidden_layers} layers" in text, entry.name
        dims = config.matryoshka_dims or [config.projection_dim]
        rows = [line for line in text.splitlines() if line.startswith("| ") and line.split(" | ")[1] in ("yes", "no")]
        assert [int(r.split(" | ")[0][2:]) for r in rows] == sorted(dims, reverse=True), entry.name
        assert f"| {max(dims)} | yes | {4 * max(dims)} |" in text, entry.name


def test_card_licence_follows_restrictively_licensed_components() -> None:
    """Weights initialised from Qwen2.5-3B / Qwen2.5-Omni-3B keep their research licence; random weights and an
    explicit --license do not inherit it; Apache/MIT components keep the default."""
    from wavlink.builders.omni_presets import omni_preset_config
    from wavlink.builders.presets import preset_config
    from wavlink.hub.cards import CardInfo, render_model_card, validate_card
    from wavlink.hub.presets import select_presets

    licences = {}
    for entry in select_presets(["omni"], None):
        info = CardInfo(repo_id=entry.repo_id(ORG), family="omni", preset=entry.name,
                        weights="pretrained-components", components=list(entry.components))
        data = validate_card(render_model_card(omni_preset_config(entry.name), info, [])).data
        licences[entry.name] = (data.license, data.get("license_name"))
    assert licences["m1"] == ("apache-2.0", None) and licences["omni-7b-l10"] == ("apache-2.0", None)
    for name in ("m2", "m3", "m4"):
        assert licences[name] == ("other", "qwen-research"), (name, licences[name])
    m3 = next(e for e in select_presets(["omni"], ["m3"]))
    random_m3 = CardInfo(repo_id=m3.repo_id(ORG), family="omni", preset="m3", weights="random")
    assert validate_card(render_model_card(omni_preset_config("m3"), random_m3, [])).data.license == "apache-2.0"
    explicit = CardInfo(repo_id=m3.repo_id(ORG), family="omni", preset="m3", weights="pretrained-components",
                        components=list(m3.components), license="mit")
    data = validate_card(render_model_card(omni_preset_config("m3"), explicit, [])).data
    assert data.license == "mit" and data.get("license_name") is None
    base = next(e for e in select_presets(["wavlink"], ["base"]))
    info = CardInfo(repo_id=base.repo_id(ORG), family="wavlink", preset="base", weights="pretrained-components",
                    components=list(base.components))
    assert validate_card(render_model_card(preset_config("base"), info, [])).data.license == "apache-2.0"


def test_omni_card_puts_the_text_instruction_into_the_pipeline_template() -> None:
    from wavlink.builders.omni_presets import omni_preset_config
    from wavlink.hub.cards import CardInfo, render_model_card

    config = omni_preset_config("tiny-random", text_instruction='Find the "sound": ')
    text = render_model_card(config, CardInfo(repo_id=f"{ORG}/omni-x", family="omni"), [])
    assert 'hypothesis_template="Find the \\"sound\\": This is a sound of {}."' in text


def test_from_pretrained_records_the_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--from-pretrained` calls build_model with the preset's checkpoints (stubbed: no Hub offline) and the
    card names them as `base_model`."""
    import wavlink.builders.wavlink
    from wavlink.builders.presets import PRESETS

    calls = []

    def fake_build(whisper: str, text: str, **kwargs: Any) -> Any:
        calls.append((whisper, text, kwargs.get("projection_dim")))
        return wavlink.builders.wavlink.create_model("tiny-random")

    monkeypatch.setattr(wavlink.builders.wavlink, "build_model", fake_build)
    assert push("--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "base", "--from-pretrained",
                "--dry-run", str(tmp_path), "--no-verify") == 0
    base = PRESETS["base"]
    assert calls == [(base.audio, base.text, base.projection_dim)]
    card = ModelCard.load(tmp_path / ORG / "wavlink-base" / "README.md")
    assert card.data.base_model == [base.audio, base.text]
    assert "not yet trained contrastively" in card.text


def test_omni_from_pretrained_records_the_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--from-pretrained` builds Omni presets with `build_omni(preset=...)` (stubbed: no Hub offline); the card's
    `base_model` names the audio-encoder and LLM checkpoints, once each (M4 takes both from one checkpoint)."""
    import wavlink.builders.omni as omni_builder
    from wavlink.builders.omni_presets import OMNI_PRESETS

    calls = []

    def fake_build_omni(preset: str | None = None, **kwargs: Any) -> Any:
        calls.append(preset)
        return omni_builder.create_omni("tiny-random")

    monkeypatch.setattr(omni_builder, "build_omni", fake_build_omni)
    assert push("--all-sizes", "--org", ORG, "--family", "omni", "--presets", "m1,m4", "--from-pretrained",
                "--dry-run", str(tmp_path), "--no-verify") == 0
    assert calls == ["m1", "m4"]
    m1, m4 = OMNI_PRESETS["m1"], OMNI_PRESETS["m4"]
    card = ModelCard.load(tmp_path / ORG / "omni-audio-embedder-m1" / "README.md")
    assert card.data.base_model == [m1.audio, m1.text] and "assembled from pretrained" in card.text
    assert ModelCard.load(tmp_path / ORG / "omni-audio-embedder-m4" / "README.md").data.base_model == [m4.text]


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


def test_dry_run_refuses_to_mix_with_old_output(all_sizes: tuple[Path, int], capsys: pytest.CaptureFixture) -> None:
    out, _ = all_sizes
    assert push("--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "tiny-random",
                "--dry-run", str(out), "--no-verify") == 2
    assert "already exists" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- uploads
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


# ----------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("repo", ["no-namespace", "a/b/c", "org/bad name", "org/-bad", "org/x..y", "org/" + "x" * 97])
def test_invalid_repo_ids_are_refused_before_any_work(repo: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    hub = FakeHub()
    with hub.patch():
        assert push("--model", str(tmp_path), "--repo", repo, "--dry-run", str(tmp_path / "d")) == 2
    assert "repo id" in capsys.readouterr().err and not hub.repos


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


def test_results_dir_fills_each_all_sizes_card_and_bad_files_fail_before_building(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results"
    (results / "wavlink-tiny-random").mkdir(parents=True)
    (results / "wavlink-tiny-random" / "esc50.json").write_text(json.dumps({"dataset": "ESC-50", "top1": 0.5}))
    args = ["--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "wavlink-tiny-random", "--no-verify",
            "--results-dir", str(results)]
    assert push(*args, "--dry-run", str(tmp_path / "dry")) == 0
    capsys.readouterr()
    card = ModelCard.load(tmp_path / "dry" / ORG / "wavlink-tiny-random" / "README.md")
    assert [(r.dataset_name, r.metric_name, r.metric_value) for r in card.data.eval_results] == [
        ("ESC-50", "top1", 50.0)]
    (results / "wavlink-tiny-random" / "bad.json").write_text(json.dumps({"dataset": "x", "loss": 1.0}))
    assert push(*args, "--dry-run", str(tmp_path / "dry2")) == 2
    captured = capsys.readouterr()
    assert "bad.json has neither" in captured.err and "building" not in captured.out
    assert not (tmp_path / "dry2").exists()


def test_invalid_org_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert push("--all-sizes", "--org", "bad org", "--dry-run", str(tmp_path)) == 2
    assert "--org" in capsys.readouterr().err


def test_folders_that_are_not_models_are_refused(tiny_folder: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (other / "model.safetensors").write_bytes(b"")
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_folder, pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    no_weights = tmp_path / "no_weights"
    shutil.copytree(tiny_folder, no_weights)
    (no_weights / "model.safetensors").unlink()
    half_adapter = tmp_path / "half_adapter"
    half_adapter.mkdir()
    (half_adapter / "adapter_config.json").write_text(json.dumps({"r": 4}))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_folder, broken)
    (broken / "config.json").write_text("{not json")
    cases = {tmp_path / "missing": "not a folder", empty: "not a model folder", other: "neither a WavLink",
             pickled: "non-safetensors", no_weights: "no *.safetensors",
             half_adapter: "looks like an adapter but lacks ['adapter_model.safetensors']", broken: "cannot read"}
    for folder, message in cases.items():
        assert push("--model", str(folder), "--repo", f"{ORG}/x", "--dry-run", str(tmp_path / "d")) == 2
        assert message in capsys.readouterr().err, folder


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


def test_card_template_with_a_missing_field_is_a_clear_error(tiny_folder: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    from wavlink.hub.cards import TEMPLATE_DIR

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    card = templates / "_model.md.jinja"  # the body every family's card shares (wavlink.md.jinja extends it)
    card.write_text(card.read_text() + "\nTrained on {{ training_hours }} hours.\n")
    assert push("--model", str(tiny_folder), "--repo", f"{ORG}/x", "--dry-run", str(tmp_path / "d"),
                "--no-verify", "--card-templates", str(templates)) == 2
    err = capsys.readouterr().err
    assert "training_hours" in err and "not provided" in err


def test_results_in_the_wavlink_eval_format(tmp_path: Path) -> None:
    """The shape `wavlink eval --matryoshka --quantize` writes: `dim`, `scale`, `dims` with int8/binary cells."""
    from wavlink.hub.cards import load_eval_results, model_index

    cell = {"bytes_per_clip": 64, "text_to_audio": {"R@1": 0.5, "R@5": 0.75, "medR": 2.0},
            "audio_to_text": {"R@1": 0.25}, "int8": {"text_to_audio": {"R@1": 0.1}}}
    path = tmp_path / "clotho.json"
    path.write_text(json.dumps({"task": "clotho", "kind": "retrieval", "dataset": "Clotho", "split": "evaluation",
                                "dim": 32, "scale": "fraction", "text_to_audio": cell["text_to_audio"],
                                "audio_to_text": cell["audio_to_text"], "dims": {"32": cell, "16": cell}}))
    (res,) = load_eval_results([path])
    assert res.metrics == {"text_to_audio": {"R@1": 50.0, "R@5": 75.0}, "audio_to_text": {"R@1": 25.0}}
    assert sorted(res.per_dim) == [16, 32] and res.full_dim == 32
    (entry,) = model_index("m", [res])
    names = [m["name"] for r in entry["results"] for m in r["metrics"]]
    assert names == ["T2A R@1", "T2A R@5", "T2A R@1 (dim 16)", "T2A R@5 (dim 16)", "A2T R@1", "A2T R@1 (dim 16)"]
    assert entry["results"][0]["dataset"] == {"name": "Clotho", "type": "clotho", "split": "evaluation"}


def test_bad_results_files_are_refused(tmp_path: Path) -> None:
    from wavlink.hub.cards import CardError, load_eval_results

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"task": "x", "loss": 1.0}))
    with pytest.raises(CardError, match="neither"):
        load_eval_results([bad])
    bad.write_text(json.dumps({"task": "x", "top1": "high"}))
    with pytest.raises(CardError, match="finite number"):
        load_eval_results([bad])
    bad.write_text("{not json")
    with pytest.raises(CardError, match="cannot read"):
        load_eval_results([bad])


# ----------------------------------------------------------------------------------------------- verification
def _job(folder: Path, reference: dict[str, Any]) -> hub_verify.VerifyJob:
    return hub_verify.VerifyJob(folder, "model", "wavlink", reference, [], pipeline="pipeline" in reference)


def test_verification_fails_loudly_on_any_difference(all_sizes: tuple[Path, int],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = all_sizes[0] / ORG / "wavlink-tiny-random"
    reference = {"transformers": {"text": [0.6, 0.8], "audio": [1.0, 0.0]}}
    child = {"folder": str(folder), "ok": True, "leaked": [],
             "transformers": {"text": [0.6, 0.8], "audio": [1.0, 0.0]},
             "sentence_transformers": {"text": [0.6, 0.8001], "audio": [1.0, 0.0]}}
    monkeypatch.setattr(hub_verify, "run_child", lambda jobs, timeout: [child])
    with pytest.raises(hub_verify.VerificationError, match=r"sentence-transformers\] text: max \|diff\| 0.0001"):
        hub_verify.verify([_job(folder, reference)])
    child.update(ok=False, error="OSError: no file", traceback="Traceback ...")
    with pytest.raises(hub_verify.VerificationError, match="reload without wavlink failed: OSError"):
        hub_verify.verify([_job(folder, reference)])
    child.update(ok=True, leaked=["wavlink"], sentence_transformers=child["transformers"])
    with pytest.raises(hub_verify.VerificationError, match="imported"):
        hub_verify.verify([_job(folder, reference)])


def test_verification_checks_files_and_card_before_reloading(all_sizes: tuple[Path, int], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_verify, "run_child", lambda jobs, timeout: pytest.fail("must not reload"))
    source = all_sizes[0] / ORG / "wavlink-tiny-random"
    no_code = tmp_path / "no_code"
    shutil.copytree(source, no_code)
    (no_code / "modeling_wavlink.py").unlink()
    bad_card = tmp_path / "bad_card"
    shutil.copytree(source, bad_card)
    text = (bad_card / "README.md").read_text()
    (bad_card / "README.md").write_text(text.replace("model-index", "x").replace("license:", "license: [", 1))
    bad_index = tmp_path / "bad_index"
    shutil.copytree(source, bad_index)
    (bad_index / "README.md").write_text(text.replace("---\n", "---\nmodel-index:\n- name: x\n  results:\n"
                                                             "  - task: {type: t}\n", 1))
    for folder, message in [(no_code, "modeling_wavlink.py"), (bad_card, "does not parse"),
                            (bad_index, "model_index")]:
        with pytest.raises(hub_verify.VerificationError, match=message):
            hub_verify.verify([_job(folder, {"transformers": {}})])


def test_the_real_reload_catches_weights_that_changed_after_the_reference(all_sizes: tuple[Path, int],
                                                                         tmp_path: Path) -> None:
    """No mocks: the fresh process reloads a staged folder whose audio projection was altered after the
    reference embeddings were taken, and the audio (not the text) embeddings are reported as different."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "wavlink-tiny-random"
    shutil.copytree(all_sizes[0] / ORG / "wavlink-tiny-random", folder)
    model, processor = hub_verify.load_with_package(folder)
    dims = hub_verify.smaller_dims(model.config)
    reference = hub_verify.reference_embeddings(model, processor, "wavlink", dims)
    weights = load_file(folder / "model.safetensors")
    key = next(k for k in weights if k.startswith("audio_projection") and k.endswith("weight"))
    noise = torch.randn(weights[key].shape, generator=torch.Generator().manual_seed(0))
    weights[key] = weights[key] + 0.1 * noise  # random, so LayerNorm's zero-mean output cannot cancel it
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    job = hub_verify.VerifyJob(folder, "model", "wavlink", reference, dims, pipeline=True)
    with pytest.raises(hub_verify.VerificationError) as err:
        hub_verify.verify([job])
    message = str(err.value)
    assert "[transformers] audio: max |diff|" in message and "[sentence-transformers] audio: max |diff|" in message
    assert "[transformers] text:" not in message


def test_a_wheel_install_carries_the_card_templates_and_pushes(tmp_path: Path) -> None:
    """Built as a wheel and installed without the source checkout, `wavlink push --dry-run` still renders the
    card: the templates, references and assets are package data, and nothing reads files beside the package."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(root)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("wavlink-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (root / "wavlink" / "hub_cards").iterdir():
        assert f"wavlink/hub_cards/{template.name}" in names
    assert {f"wavlink/remote_code/{p.name}" for p in remote_code_files()} <= names
    assert "wavlink/assets/default/delta.safetensors" in names and "wavlink/assets/sounds/dog.flac" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a wheel install is its unpacked tree on sys.path
    script = ("import sys, wavlink; from wavlink.cli import main; assert wavlink.__file__.startswith(sys.argv[1]), "
              "wavlink.__file__; sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", script, str(site), "push", "--all-sizes", "--org", ORG, "--family",
                          "wavlink", "--presets", "wavlink-tiny-random", "--dry-run", str(tmp_path / "out"),
                          "--no-verify"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert tree(tmp_path / "out" / ORG / "wavlink-tiny-random") == WAVLINK_REPO_FILES
    assert "wavlink-tiny-random" in (tmp_path / "out" / ORG / "wavlink-tiny-random" / "README.md").read_text()
