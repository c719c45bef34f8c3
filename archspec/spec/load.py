"""Spec files to validated specs: read, follow `extends`, validate, locate every problem.

`extends` follows the rule of :mod:`archspec.spec.shipped` (a bare name is a shipped spec, a path
is a file, relative to the spec that names it). A path must stay inside the folder tree of the
spec that was loaded (so that a spec from elsewhere cannot read arbitrary files into an error
message) unless ``allow_outside`` (or ``ARCHSPEC_ALLOW_EXTENDS_OUTSIDE=1``) says otherwise, and
must be a `.yaml`/`.yml` file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archspec.errors import Issue, SpecError, UsageError
from archspec.load.yaml import MAX_BYTES, Document, Mark, parse_yaml
from archspec.load.yaml import Path as FieldPath
from archspec.spec.locate import issues_from_validation, repairable
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import deep_merge
from archspec.spec.shipped import SUFFIXES, find_spec, is_path, not_found, shipped_dir

MAX_EXTENDS_DEPTH = 16
ALLOW_OUTSIDE_VARIABLE = "ARCHSPEC_ALLOW_EXTENDS_OUTSIDE"


def load_spec(ref: str | Path, *, allow_outside: bool | None = None) -> ModelSpec:
    """Load a spec from a file path or a shipped name, following `extends`, and validate it.

    Args:
        ref: A path (a `Path`, or a string with a `/` or a YAML suffix) or a shipped name.
        allow_outside: Let `extends` name files outside the spec's folder tree (default: the
            ``ARCHSPEC_ALLOW_EXTENDS_OUTSIDE`` environment variable).

    Raises:
        UsageError: when ``ref`` names no file and no shipped spec, or the file cannot be read.
        SpecError: listing every problem found, each with file, line and column.
    """
    text = str(ref)
    path = Path(ref) if isinstance(ref, Path) and ref.exists() else find_spec(text)
    if path is None:
        raise UsageError(not_found(text))
    data, marks = _read_resolved(path, (), _roots(path.parent, allow_outside))
    return validate(data, marks, str(path))


def spec_from_text(
    text: str | bytes,
    file: str = "<string>",
    base_dir: Path | None = None,
    *,
    allow_outside: bool | None = None,
) -> ModelSpec:
    """Validate a spec given as YAML text (its `extends` resolve against ``base_dir``)."""
    doc = parse_yaml(text, file)
    base_dir = base_dir or Path.cwd()
    data, marks = _resolve_extends(doc, base_dir, (), _roots(base_dir, allow_outside))
    return validate(data, marks, file)


def validate(data: dict[str, Any], marks: dict[FieldPath, Mark], file: str) -> ModelSpec:
    """Validate merged spec data, turning every error into a located issue.

    When fields are invalid, the cross-field rules (which need valid fields) are still run on
    the data with those fields left out where the schema has a default, so that one run reports
    as many problems as it can.
    """
    data = {k: v for k, v in data.items() if k != "extends"}
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as err:
        issues = issues_from_validation(err, data, marks, file)
        repaired, dropped = repairable(err, data)
        if dropped:
            try:
                ModelSpec.model_validate(repaired)
            except ValidationError as again:
                issues += _cross_field_only(again, repaired, marks, file, dropped, issues)
        raise SpecError(issues) from None


def _cross_field_only(
    err: ValidationError,
    data: dict[str, Any],
    marks: dict[FieldPath, Mark],
    file: str,
    dropped: list[FieldPath],
    known: list[Issue],
) -> list[Issue]:
    """Cross-field issues of the repaired data that do not involve a dropped field."""
    from archspec.spec.checks import CrossFieldError

    causes = [(e.get("ctx") or {}).get("error") for e in err.errors(include_url=False)]
    if not causes or not all(isinstance(c, CrossFieldError) for c in causes):
        return []
    out = []
    for issue in issues_from_validation(err, data, marks, file):
        involved = (issue.path, *issue.related)
        if any(p[: len(d)] == d or d[: len(p)] == p for p in involved for d in dropped):
            continue
        if issue not in known:
            out.append(issue)
    return out


def _roots(folder: Path, allow_outside: bool | None) -> tuple[Path, ...] | None:
    """Folders `extends` may read from, or None for anywhere."""
    if allow_outside is None:
        allow_outside = os.environ.get(ALLOW_OUTSIDE_VARIABLE, "") not in ("", "0")
    if allow_outside:
        return None
    return (Path(os.path.realpath(folder)), Path(os.path.realpath(shipped_dir())))


def _read_bytes(path: Path) -> bytes:
    """The bytes of a spec file (or a pipe), its size checked before anything is read, and
    never more read than a spec may hold (a device such as /dev/zero is refused)."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
                raise SpecError([Issue("not a regular file; a spec is a YAML file", (), str(path))])
            if info.st_size > MAX_BYTES:
                raise SpecError(
                    [
                        Issue(
                            f"file is {info.st_size:,} bytes; a spec may be at most {MAX_BYTES:,}",
                            (),
                            str(path),
                        )
                    ]
                )
            return handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None


def _read_resolved(
    path: Path, chain: tuple[Path, ...], roots: tuple[Path, ...] | None
) -> tuple[dict[str, Any], dict[FieldPath, Mark]]:
    raw = _read_bytes(path)
    doc = parse_yaml(raw, str(path))
    return _resolve_extends(doc, path.parent, chain + (Path(os.path.realpath(path)),), roots)


def _resolve_extends(
    doc: Document, base_dir: Path, chain: tuple[Path, ...], roots: tuple[Path, ...] | None
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
        raise fail(f"base spec not found: {not_found(ref, base_dir)}")
    real = Path(os.path.realpath(base_path))
    if is_path(ref):
        if roots is not None and not any(real.is_relative_to(root) for root in roots):
            raise fail(
                f"base spec '{ref}' is outside this spec's folder; pass --allow-extends-outside "
                "(or set ARCHSPEC_ALLOW_EXTENDS_OUTSIDE=1) to read it"
            )
        if real.suffix not in SUFFIXES:
            raise fail(f"base spec '{ref}' is not a .yaml or .yml file")
    if real in chain:
        top = chain[0].parent
        cycle = " -> ".join(os.path.relpath(p, top) for p in chain[chain.index(real) :] + (real,))
        raise fail(f"extends cycle: {cycle}")
    base_data, base_marks = _read_resolved(base_path, chain, roots)
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
