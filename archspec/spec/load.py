"""Spec files to validated specs: read, follow `extends`, validate, locate every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archspec.errors import Issue, SpecError, UsageError
from archspec.load.yaml import Document, Mark, parse_yaml
from archspec.load.yaml import Path as FieldPath
from archspec.spec.locate import issues_from_validation
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import deep_merge
from archspec.spec.shipped import find_spec

MAX_EXTENDS_DEPTH = 16


def load_spec(ref: str | Path) -> ModelSpec:
    """Load a spec from a file path or a shipped name, following `extends`, and validate it.

    Raises:
        UsageError: when ``ref`` names no file and no shipped spec.
        SpecError: listing every problem found, each with file, line and column.
    """
    path = find_spec(str(ref))
    if path is None:
        raise UsageError(f"no spec file or shipped spec named '{ref}'")
    data, marks = _read_resolved(path, ())
    return validate(data, marks, str(path))


def spec_from_text(
    text: str | bytes, file: str = "<string>", base_dir: Path | None = None
) -> ModelSpec:
    """Validate a spec given as YAML text (its `extends` resolve against ``base_dir``)."""
    doc = parse_yaml(text, file)
    data, marks = _resolve_extends(doc, base_dir or Path.cwd(), ())
    return validate(data, marks, file)


def validate(data: dict[str, Any], marks: dict[FieldPath, Mark], file: str) -> ModelSpec:
    """Validate merged spec data, turning every error into a located issue."""
    data = {k: v for k, v in data.items() if k != "extends"}
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(issues_from_validation(err, data, marks, file)) from None


def _read_resolved(
    path: Path, chain: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[FieldPath, Mark]]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    return _resolve_extends(parse_yaml(raw, str(path)), path.parent, chain + (path.resolve(),))


def _resolve_extends(
    doc: Document, base_dir: Path, chain: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[FieldPath, Mark]]:
    ref = doc.data.get("extends")
    if ref is None:
        return doc.data, doc.marks
    where = doc.marks.get(("extends",), (doc.file, None, None))

    def fail(message: str) -> SpecError:
        return SpecError([Issue(message, ("extends",), where[0], where[1], where[2])])

    if not isinstance(ref, str):
        raise fail(f"extends must be a spec name or path, got {ref!r}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise fail(f"extends chain deeper than {MAX_EXTENDS_DEPTH}")
    base_path = find_spec(ref, base_dir)
    if base_path is None:
        raise fail(
            f"base spec '{ref}' not found (neither a file next to this one nor a shipped name)"
        )
    if base_path.resolve() in chain:
        cycle = " -> ".join(p.name for p in chain + (base_path.resolve(),))
        raise fail(f"extends cycle: {cycle}")
    base_data, base_marks = _read_resolved(base_path, chain)
    child = {k: v for k, v in doc.data.items() if k != "extends"}
    merged = deep_merge({k: v for k, v in base_data.items() if k != "extends"}, child)
    marks = {p: m for p, m in base_marks.items() if _exists(merged, p) and not _replaced(p, child)}
    marks.update(doc.marks)
    return merged, marks


def _exists(data: Any, path: FieldPath) -> bool:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    return True


def _replaced(path: FieldPath, child: dict[str, Any]) -> bool:
    """True when the child spec wrote ``path`` or one of its ancestors as a non-mapping value."""
    node: Any = child
    for part in path:
        if not isinstance(node, dict):
            return True
        if part not in node:
            return False
        node = node[part]
    return True
