"""What the CLI modules share, below all of them: exit codes and loading several specs at once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from archspec.errors import SpecError, UsageError
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
"""Exit status: 0 success, 1 invalid spec (or a failed check), 2 usage error."""


def load_all(refs: list[str]) -> list[ModelSpec]:
    """Load every spec, gathering the problems of all of them before failing."""
    specs, issues = [], []
    for ref in refs:
        check_ref(ref)
        try:
            specs.append(load_spec(ref))
        except SpecError as err:
            issues += err.issues
    if issues:
        raise SpecError(issues)
    return specs


SEQ_LEN_HELP = "context length for the FLOPs per token (default: each spec's max_seq_len)"


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


HF_KEYS = ("model_type", "architectures")
"""Keys every Hugging Face config.json carries and no spec has."""
_SNIFF_LIMIT = 1 << 20
"""Bytes of a .json file read to tell a Hugging Face config from a spec written in JSON."""


def check_ref(ref: str) -> None:
    """Refuse, with what to do instead, a reference that is a Hugging Face config or model
    folder. A reference that names nothing is the loader's to refuse (`load_spec` raises the
    same did-you-mean error).

    Raises:
        UsageError: for a Hugging Face config or model folder.
    """
    path = Path(ref)
    folder = path.is_dir() and (path / "config.json").is_file()
    if folder or _is_hf_config(path):
        what = "model folder" if folder else "config"
        raise UsageError(
            f"{ref} is a Hugging Face {what}, not a spec: convert it with "
            f"`archspec import-hf {ref} -o model.yaml` (the import report lists every key), "
            "then pass model.yaml"
        )


def _is_hf_config(path: Path) -> bool:
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read(_SNIFF_LIMIT))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and any(key in data for key in HF_KEYS)
