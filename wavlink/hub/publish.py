"""Stage, verify and upload: one folder (`--model`), an adapter, or every preset of every family.

Order of operations, chosen so that nothing broken or partial is ever published:
1. check inputs that need no work (repo ids, token for a real push);
2. build/copy each repo into its staged folder, computing reference embeddings with the package first;
3. verify every staged folder (files, card YAML, reload without `wavlink` in a fresh process);
4. only then upload, one atomic commit per repo; success is reported per repo after its commit returns.
"""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi
from transformers import AutoConfig

import wavlink

from ..builders.folder import ST_FILES, save_model_folder, write_sentence_transformers_files
from ..families import FAMILIES, family_of_model_class
from .cards import (
    CardInfo,
    EvalFile,
    load_eval_results,
    parameter_counts,
    render_adapter_card,
    render_model_card,
)
from .folders import (
    FolderInfo,
    PublishError,
    adapter_serves_sentence_transformers,
    check_org,
    check_repo_id,
    copy_files,
    inspect_folder,
    list_files,
    prepare_target,
    refuse_pickles,
    remove_empty_dirs,
    set_adapter_base,
)
from .presets import build, find_preset, select_presets
from .probe import SMALL_MODEL_BYTES
from .upload import PushError, RetryPolicy, resolve_token, upload_folder_atomic, with_retries
from .verify import (
    VerificationError,
    VerifyJob,
    adapter_reference,
    load_with_package,
    reference_embeddings,
    smaller_dims,
    verify,
)

Log = Callable[[str], None]


@dataclass
class PublishOptions:
    """How to publish; `dry_run` is the output folder of a dry run (nothing is uploaded then)."""

    dry_run: Path | None = None
    private: bool = False
    revision: str | None = None
    commit_message: str | None = None
    verify: bool = True
    overwrite: bool = False
    license: str | None = None  # None: the card derives it (cards.resolve_license)
    datasets: list[str] = field(default_factory=list)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    template_dir: Path | None = None
    verify_timeout: float = 3600.0
    keep_remote_files: bool = False  # keep files already in the repo that the upload does not contain
    verify_remote: bool = False  # after each commit, download it and reload it without wavlink again
    trust_remote_code: bool = False  # let the reload check run .py files that are not this package's


@dataclass
class Staged:
    repo_id: str
    folder: Path
    job: VerifyJob | None

    @property
    def files(self) -> list[str]:
        return list_files(self.folder)


@dataclass
class PublishReport:
    staged: list[Staged]
    pushed: list[tuple[str, Any]] = field(default_factory=list)  # (repo_id, CommitInfo)
    diffs: dict[str, dict[str, float]] = field(default_factory=dict)


def _print(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------------- staging
def _load_config(folder: Path) -> Any:
    wavlink.register_families()  # both families with the Auto classes

    return AutoConfig.from_pretrained(folder, trust_remote_code=False)  # never the folder's own code


def _write_card(folder: Path, config: Any, info: CardInfo, options: PublishOptions, model: Any = None) -> None:
    params = parameter_counts(model=model) if model is not None else parameter_counts(folder)
    (folder / "README.md").write_text(render_model_card(config, info, params, options.template_dir))


def stage_built(entry_name: str, family: str, built: Any, repo_id: str, target: Path, options: PublishOptions,
                results: Sequence[EvalFile] = (), description: str = "") -> Staged:
    """Save a model built in this process, with its card, into `target` (reference embeddings first)."""
    dims = smaller_dims(built.model.config)
    reference = reference_embeddings(built.model, built.processor, family, dims) if options.verify else {}
    prepare_target(target, options.overwrite)
    save_model_folder(built.model, built.processor, target)
    remove_empty_dirs(target)
    refuse_pickles(target, list_files(target))
    info = CardInfo(repo_id=repo_id, family=family, preset=entry_name, preset_description=description,
                    weights=built.weights, components=list(built.components), standin_for=built.standin_for,
                    license=options.license, datasets=list(options.datasets),
                    results=list(results), verified_reload=options.verify)
    _write_card(target, built.model.config, info, options, model=built.model)
    job = VerifyJob(target, "model", family, reference, dims, pipeline=True) if options.verify else None
    return Staged(repo_id, target, job)


def stage_model_folder(source: FolderInfo, repo_id: str, target: Path, options: PublishOptions, *,
                       preset: str | None = None, weights: str = "unspecified", components: Sequence[str] = (),
                       results: Sequence[EvalFile] = ()) -> Staged:
    """Copy a model folder into `target` with a fresh card (and sentence-transformers files if missing)."""
    reference: dict[str, Any] = {}
    dims: list[int] = []
    if options.verify:
        model, processor = load_with_package(source.path)
        dims = smaller_dims(model.config)
        reference = reference_embeddings(model, processor, source.family, dims)
        del model
    prepare_target(target, options.overwrite)
    copy_files(source.path, target, [f for f in source.files if f != "README.md"])
    if not all((target / f).is_file() for f in ST_FILES):
        write_sentence_transformers_files(target)
    remove_empty_dirs(target)
    config = _load_config(target)
    entry = find_preset(source.family, name=preset, repo_name=repo_id.split("/")[-1], config=config)
    preset_name = preset or (entry.name if entry else None)
    info = CardInfo(repo_id=repo_id, family=source.family, preset=preset_name,
                    preset_description=entry.description if entry else "", weights=weights,
                    components=list(components), license=options.license, datasets=list(options.datasets),
                    results=list(results), verified_reload=options.verify)
    _write_card(target, config, info, options)
    job = VerifyJob(target, "model", source.family, reference, dims, pipeline=True) if options.verify else None
    return Staged(repo_id, target, job)


def _adapter_family(adapter: FolderInfo, base_folder: Path | None) -> str:
    if base_folder is not None:
        return inspect_folder(base_folder).family
    family = family_of_model_class(str((adapter.config.get("auto_mapping") or {}).get("base_model_class", "")))
    if family is not None:
        return family.name
    raise PublishError("cannot tell the adapter's model family: pass --base-folder DIR (a local copy of the base)")


def stage_adapter(source: FolderInfo, repo_id: str, target: Path, options: PublishOptions, *,
                  base_repo: str | None = None, base_folder: str | os.PathLike | None = None,
                  results: Sequence[EvalFile] = ()) -> Staged:
    """Copy an adapter, point `base_model_name_or_path` at the base repo id, and write its card."""
    recorded = str(source.config.get("base_model_name_or_path") or "")
    recorded_is_local = bool(recorded) and Path(recorded).exists()
    if base_repo is None:
        if not recorded or recorded_is_local:
            raise PublishError(
                f"the adapter records its base as {recorded or 'nothing'!r}, which is not a Hub repo id; pass "
                "--base-repo ORG/NAME (publish the base model first)")
        base_repo = recorded
    check_repo_id(base_repo, "--base-repo")
    base_dir = Path(base_folder) if base_folder is not None else (Path(recorded) if recorded_is_local else None)
    if base_dir is not None:
        base_info = inspect_folder(base_dir)
        if base_info.kind != "model":
            raise PublishError(f"--base-folder {base_dir} is not a model folder")
    elif options.verify:
        raise PublishError("verifying an adapter needs a local copy of its base: pass --base-folder DIR "
                           "(or --no-verify)")
    family = _adapter_family(source, base_dir)
    reference: dict[str, Any] = {}
    dims: list[int] = []
    if options.verify:
        reference, dims = adapter_reference(source.path, base_dir)
    prepare_target(target, options.overwrite)
    copy_files(source.path, target, [f for f in source.files if f != "README.md"])
    config = set_adapter_base(target, base_repo)
    info = CardInfo(repo_id=repo_id, family=family, license=options.license, datasets=list(options.datasets),
                    results=list(results), verified_reload=options.verify)
    st_direct = adapter_serves_sentence_transformers(list_files(target))
    (target / "README.md").write_text(render_adapter_card(config, info, base_repo, options.template_dir,
                                                          st_direct=st_direct))
    job = VerifyJob(target, "adapter", family, reference, dims, base=base_dir) if options.verify else None
    return Staged(repo_id, target, job)


# ----------------------------------------------------------------------------------------------- finish
def _finish(staged: list[Staged], options: PublishOptions, token: str | None, log: Log) -> PublishReport:
    report = PublishReport(staged)
    jobs = [s.job for s in staged if s.job is not None]
    if jobs:
        log(f"verifying {len(jobs)} repo folder(s) in a fresh process without wavlink ...")
        report.diffs = verify(jobs, timeout=options.verify_timeout, trust_remote_code=options.trust_remote_code)
        for name, diffs in report.diffs.items():
            log(f"  ok {name}: " + ", ".join(f"{k} max|diff| {v:.1e}" for k, v in diffs.items()))
    if options.dry_run is not None:
        for s in staged:
            log(f"dry run: {s.folder} ({len(s.files)} files) would be uploaded to {s.repo_id}")
        log(f"dry run complete: {len(staged)} repo folder(s) under {options.dry_run}; nothing was uploaded")
        return report
    assert token is not None
    failures = []
    for s in staged:
        try:
            info = upload_folder_atomic(s.folder, s.repo_id, token=token, private=options.private,
                                        revision=options.revision, commit_message=options.commit_message,
                                        policy=options.retry, keep_remote_files=options.keep_remote_files,
                                        log=log)
        except PushError as err:
            failures.append(str(err))
            log(f"FAILED {s.repo_id}: {err}")
            continue
        if options.verify_remote and s.job is not None:
            oid = str(getattr(info, "oid", None) or options.revision or "main")
            try:
                diffs = _verify_remote(s, oid, token, options, log)
            except (PushError, VerificationError) as err:
                message = (f"{s.repo_id}: the commit {oid[:12]} was made, but reloading it from the Hub failed: "
                           f"{err}\n  Do not use that revision: revert it or push again.")
                failures.append(message)
                log(f"FAILED {message}")
                continue
            for d in diffs.values():
                log(f"  ok {s.repo_id}@{oid[:12]} from the Hub: "
                    + ", ".join(f"{k} max|diff| {v:.1e}" for k, v in d.items()))
        report.pushed.append((s.repo_id, info))
        url = getattr(info, "commit_url", None) or f"https://huggingface.co/{s.repo_id}"
        log(f"pushed {s.repo_id} ({len(s.files)} files in one commit): {url}")
    if failures:
        done = ", ".join(r for r, _ in report.pushed) or "none"
        raise PushError(f"{len(failures)} of {len(staged)} repo(s) were not published (published: {done}):\n  "
                        + "\n  ".join(failures))
    return report


def _verify_remote(staged: Staged, oid: str, token: str, options: PublishOptions, log: Log) -> dict[str, Any]:
    """Download the commit just made (not the staged copy) and reload it in a fresh process without wavlink,
    against the same reference embeddings."""
    assert staged.job is not None
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="wavlink-remote-") as tmp:
        local = Path(tmp) / staged.repo_id.split("/")[-1]
        with_retries(lambda: api.snapshot_download(staged.repo_id, revision=oid, local_dir=local, token=token),
                     f"downloading {staged.repo_id}@{oid[:12]}", options.retry)
        log(f"reloading {staged.repo_id}@{oid[:12]} as downloaded from the Hub, in a fresh process ...")
        return verify([replace(staged.job, folder=local)], timeout=options.verify_timeout,
                      trust_remote_code=options.trust_remote_code)


def _workdir(options: PublishOptions) -> tuple[Path, Any]:
    if options.dry_run is not None:
        return Path(options.dry_run), None
    tmp = tempfile.TemporaryDirectory(prefix="wavlink-push-")
    return Path(tmp.name), tmp


def publish_folder(folder: str | os.PathLike, repo_id: str, options: PublishOptions, *, preset: str | None = None,
                   weights: str = "unspecified", components: Sequence[str] = (),
                   results: Sequence[str | os.PathLike] = (), base_repo: str | None = None,
                   base_folder: str | os.PathLike | None = None, log: Log = _print) -> PublishReport:
    """Publish one model or adapter folder to `repo_id` (or write it under `options.dry_run`)."""
    check_repo_id(repo_id)
    token = None if options.dry_run is not None else resolve_token()
    source = inspect_folder(folder)
    eval_results = load_eval_results(results)
    root, tmp = _workdir(options)
    try:
        target = root / repo_id
        if source.kind == "adapter":
            staged = stage_adapter(source, repo_id, target, options, base_repo=base_repo, base_folder=base_folder,
                                   results=eval_results)
        else:
            staged = stage_model_folder(source, repo_id, target, options, preset=preset, weights=weights,
                                        components=components, results=eval_results)
        return _finish([staged], options, token, log)
    finally:
        if tmp is not None:
            tmp.cleanup()


def publish_all_sizes(org: str, options: PublishOptions, *, families: Sequence[str] | None = None,
                      presets: Sequence[str] | None = None, pretrained: bool = False, standins: bool = False,
                      tokenizer: str | None = None, seed: int = 0, results_dir: str | os.PathLike | None = None,
                      log: Log = _print) -> PublishReport:
    """Build and publish every preset of the families (default: all) as `ORG/<hub name>` (one repo each)."""
    check_org(org)
    entries = select_presets(list(families or FAMILIES), list(presets) if presets else None)
    for entry in entries:
        check_repo_id(entry.repo_id(org))
    token = None if options.dry_run is not None else resolve_token()
    results = {e.hub_name: load_eval_results(sorted((Path(results_dir) / e.hub_name).glob("*.json")))
               if results_dir else [] for e in entries}  # read (and fail on) every results file first
    root, tmp = _workdir(options)
    try:
        staged = []
        for entry in entries:
            repo_id = entry.repo_id(org)
            what = "tiny stand-in" if standins and not entry.name.startswith("tiny-random") else (
                "pretrained components" if pretrained else "random weights")
            log(f"building {repo_id} ({entry.family} preset {entry.name!r}, {what}) ...")
            built = build(entry, pretrained=pretrained, standin=standins, tokenizer=tokenizer, seed=seed)
            staged.append(stage_built(entry.name, entry.family, built, repo_id, root / repo_id, options,
                                      results=results[entry.hub_name], description=entry.description))
            large = sum(p.numel() * p.element_size() for p in built.model.parameters()) > SMALL_MODEL_BYTES
            del built
            if large:  # free a multi-GB model before building the next; a full collection costs ~0.5 s
                gc.collect()
        return _finish(staged, options, token, log)
    finally:
        if tmp is not None:
            tmp.cleanup()

