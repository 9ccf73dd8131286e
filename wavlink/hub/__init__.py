"""Publishing to the Hugging Face Hub: stage, verify (reload without `wavlink`), upload atomically.

`wavlink push` is the command line; these are the functions behind it.
"""

from .folders import PublishError, check_org, check_repo_id, inspect_folder, list_files
from .publish import PublishOptions, PublishReport, publish_all_sizes, publish_folder
from .upload import PushError, RetryPolicy, upload_folder_atomic
from .verify import VerificationError

__all__ = [
    "PublishError",
    "PublishOptions",
    "PublishReport",
    "PushError",
    "RetryPolicy",
    "VerificationError",
    "check_org",
    "check_repo_id",
    "inspect_folder",
    "list_files",
    "publish_all_sizes",
    "publish_folder",
    "upload_folder_atomic",
]
