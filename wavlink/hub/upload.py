"""Upload a staged folder with `HfApi.upload_folder`, retrying transient network failures with backoff.

The upload carries exactly the staged (verified) files (`allow_patterns`), and `delete_patterns="*"` makes
the same commit delete the files of earlier uploads that the staged folder lacks (upload_folder never deletes
a file it uploads, nor `.gitattributes`), so the published revision holds exactly the verified files.
A Hub commit is all-or-nothing. With `hf_xet` installed, upload_folder commits a large folder in batches
(hundreds of files and up to 100 MB of non-Xet content per commit; after failed attempts a batch of more
than 20 files is split), so a model repo folder (about 20 small files plus Xet-stored weights) lands in one
commit. Afterwards the Hub is asked for the commit's file list, which must match."""

from __future__ import annotations

import glob
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from .folders import PublishError, list_files

T = TypeVar("T")
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class PushError(RuntimeError):
    """The upload did not complete; nothing from this attempt was committed."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 2.0  # seconds; doubled after each failure

    def delay(self, failure: int) -> float:
        return self.base_delay * (2 ** (failure - 1))


def resolve_token() -> str:
    """The token from the usual huggingface_hub places (HF_TOKEN, `hf auth login`'s file, ...)."""
    token = get_token()
    if not token:
        raise PublishError(
            "no Hugging Face token found: run `hf auth login` or set HF_TOKEN (a write token), "
            "or use --dry-run OUTDIR to only write the files"
        )
    return token


def is_retryable(err: BaseException) -> bool:
    """Transient transport errors and 5xx/429 answers; not auth, not-found, offline mode or bad requests."""
    if isinstance(err, OfflineModeIsEnabled):
        return False
    if isinstance(err, HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", None)
        return status in RETRYABLE_STATUS
    try:
        import httpx2

        if isinstance(err, httpx2.TransportError):
            return True
    except ImportError:  # older huggingface_hub uses requests/httpx; ConnectionError covers them
        pass
    return isinstance(err, (ConnectionError, TimeoutError))


def with_retries(action: Callable[[], T], what: str, policy: RetryPolicy,
                 log: Callable[[str], None] | None = None) -> T:
    """Run `action`; on a transient error wait and try again, at most `policy.attempts` times in all."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    for attempt in range(1, policy.attempts + 1):
        try:
            return action()
        except Exception as err:
            if not is_retryable(err):
                raise PushError(f"{what} failed: {err.__class__.__name__}: {err}") from err
            if attempt == policy.attempts:
                raise PushError(
                    f"{what} failed after {policy.attempts} attempts ({err.__class__.__name__}: {err})"
                ) from err
            wait = policy.delay(attempt)
            log(f"{what}: {err.__class__.__name__}: {err}; retrying in {wait:g} s "
                f"(attempt {attempt + 1} of {policy.attempts})")
            time.sleep(wait)
    raise AssertionError("unreachable")


KEPT_REMOTE_FILES = {".gitattributes"}  # created by the Hub with every repo; never ours to delete


def upload_folder_atomic(folder: str | Path, repo_id: str, *, token: str, private: bool = False,
                         revision: str | None = None, commit_message: str | None = None,
                         policy: RetryPolicy = RetryPolicy(), api: Any = None, keep_remote_files: bool = False,
                         log: Callable[[str], None] | None = None) -> Any:
    """create_repo(exist_ok=True) [+ create_branch] + `HfApi.upload_folder` of every file of `folder`.

    Files already in the repo (at `revision`) that `folder` does not hold, e.g. the shards or pickles of an
    earlier upload, are deleted in the same commit (`delete_patterns="*"`) unless `keep_remote_files`, so the
    repo afterwards holds exactly the staged (verified) files; they are listed first, to say what goes. After
    the commit the Hub is asked for the commit's file list, which must match. Returns the `CommitInfo`.
    Raises `PushError` when it fails: saying that nothing was committed when the commit did not happen, or
    naming the commit whose content is wrong.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))

    folder = Path(folder)
    files = list_files(folder)
    if not files:
        raise PublishError(f"{folder} is empty; nothing to upload")
    api = api or HfApi(token=token)
    message = commit_message or f"Upload {repo_id.split('/')[-1]}"
    try:
        with_retries(lambda: api.create_repo(repo_id, token=token, private=private, exist_ok=True),
                     f"creating {repo_id}", policy)
        if revision and revision != "main":
            with_retries(lambda: api.create_branch(repo_id, branch=revision, token=token, exist_ok=True),
                         f"creating branch {revision!r} of {repo_id}", policy)

        if not keep_remote_files:
            remote = with_retries(lambda: api.list_repo_files(repo_id, revision=revision, token=token),
                                  f"listing the files of {repo_id}", policy)
            stale = sorted(set(remote) - set(files) - KEPT_REMOTE_FILES)
            if stale:
                log(f"{repo_id}: removing {len(stale)} file(s) of an earlier upload that this one does not "
                    f"contain: {', '.join(stale)}")

        info = with_retries(
            lambda: api.upload_folder(
                repo_id=repo_id, folder_path=str(folder), revision=revision, commit_message=message, token=token,
                # exactly the staged files (list_files skips caches and .git), matched literally
                allow_patterns=[glob.escape(name) for name in files],
                # every remote file this upload does not carry (upload_folder keeps .gitattributes)
                delete_patterns=None if keep_remote_files else "*"),
            f"uploading {len(files)} files to {repo_id}", policy)
    except PushError as err:
        raise PushError(
            f"{err}. Nothing from this run was committed to {repo_id} (a Hub commit is all-or-nothing); "
            "fix the cause and run the same command again"
        ) from err
    check_committed(api, repo_id, info, files, token=token, policy=policy, exact=not keep_remote_files)
    return info


def check_committed(api: Any, repo_id: str, info: Any, files: list[str], *, token: str, policy: RetryPolicy,
                    exact: bool = True) -> None:
    """Ask the Hub for the files of the new commit: all staged files (and, if `exact`, nothing else)."""
    oid = getattr(info, "oid", None)
    where = f"{repo_id}@{oid[:12]}" if oid else repo_id
    try:
        remote = with_retries(lambda: api.list_repo_files(repo_id, revision=oid, token=token),
                              f"listing the files of {where}", policy)
    except PushError as err:
        raise PushError(f"the commit {where} was made, but checking its files failed: {err}") from err
    missing = sorted(set(files) - set(remote))
    extra = sorted(set(remote) - set(files) - KEPT_REMOTE_FILES) if exact else []
    if missing or extra:
        raise PushError(f"the commit {where} was made but does not hold exactly the staged files "
                        f"(missing: {missing or 'none'}; unexpected: {extra or 'none'}); do not use it, "
                        "run the same command again")
