"""Hugging Face hub ids (`ORG/NAME`) as model folders, through `huggingface_hub` (torch-free).

Only `config.json`, `model.safetensors` and a sharded index with its shards are fetched, never
pickled `.bin` weights. `huggingface_hub` keeps them in its cache and honours `HF_HUB_OFFLINE`
(and `HF_HUB_CACHE` / `HF_HOME`): offline, an id resolves from the cache or fails with one clear
error. The package is the optional extra `archspec-llm[hub]`.
"""

from __future__ import annotations

import re
from pathlib import Path

from archspec.errors import UsageError

CONFIG_FILES = ("config.json",)
WEIGHT_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", "*.safetensors")

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95}")


def is_hub_id(text: str) -> bool:
    """Whether ``text`` reads as a hub id (`ORG/NAME`) rather than a path.

    A path that exists always wins; ids have exactly one slash and no `..`.
    """
    return bool(_REPO_ID.fullmatch(text)) and ".." not in text and not Path(text).exists()


def resolve(path_or_id: str | Path, *, revision: str | None = None, weights: bool = False) -> Path:
    """A local path for a path or a hub id: the id's snapshot folder in the hub cache.

    Args:
        path_or_id: A local file or folder (returned unchanged), or `ORG/NAME`.
        revision: Branch, tag or commit of a hub id (default: `main`).
        weights: Fetch the safetensors weights too, not only `config.json`.

    Raises:
        UsageError: `huggingface_hub` is not installed; the id is not in the cache while offline;
            no such repository, revision or file; the hub cannot be reached.
    """
    text = str(path_or_id)
    if not is_hub_id(text):
        if revision is not None:
            raise UsageError(f"--revision applies to hub ids (ORG/NAME), not to the path {text}")
        return Path(path_or_id)
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise UsageError(
            f"{text} is not a file or folder; to read it as a hub id install the hub extra: "
            "pip install 'archspec-llm[hub]'"
        ) from None
    patterns = list(WEIGHT_FILES if weights else CONFIG_FILES)
    try:
        folder = huggingface_hub.snapshot_download(text, revision=revision, allow_patterns=patterns)
    except errors.LocalEntryNotFoundError:
        raise UsageError(
            f"{text}: not in the local hub cache, and the hub cannot be reached "
            "(HF_HUB_OFFLINE is set, or no network)"
        ) from None
    except (errors.HfHubHTTPError, OSError, ValueError, *_other_hub_errors(errors)) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"{text}: cannot fetch from the hub: {first}") from None
    return Path(folder)


def _other_hub_errors(errors: object) -> tuple[type[Exception], ...]:
    """Hub errors of newer huggingface_hub versions (an incomplete cached snapshot, ...)."""
    names = ("IncompleteSnapshotError", "RepositoryNotFoundError", "RevisionNotFoundError")
    return tuple(getattr(errors, name) for name in names if hasattr(errors, name))
