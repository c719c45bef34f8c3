"""Turn pydantic validation errors into located, plain-language issues with did-you-mean hints."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from archspec.errors import Issue
from archspec.load.yaml import Mark, Path
from archspec.spec.checks import CrossFieldError, OverrideError, Related
from archspec.spec.model import ModelSpec


def issues_from_validation(
    err: ValidationError, data: Mapping[str, Any], marks: Mapping[Path, Mark], file: str
) -> list[Issue]:
    """One :class:`Issue` per pydantic error, located with the document's marks."""
    issues: list[Issue] = []
    for e in err.errors(include_url=False):
        cause = (e.get("ctx") or {}).get("error")
        if not isinstance(cause, CrossFieldError):
            issues.append(_describe(e, data, marks, file))
            continue
        for path, message in cause.issues:
            if isinstance(message, OverrideError):
                # path is ("layer_overrides", k, part) + the error's location inside that part
                issues.append(_describe(message.error, data, marks, file, path[:3], message.part))
            else:
                issues.append(_cross_located(path, message, data, marks, file))
    return issues


def _cross_located(
    path: Path, message: str, data: Mapping[str, Any], marks: Mapping[Path, Mark], file: str
) -> Issue:
    """A cross-field issue at the field the user wrote in the spec being loaded, when that is one
    of the fields involved: a child's `d_model: 4001` rather than its base's `n_heads`."""
    related = tuple(getattr(message, "related", ()))
    chosen = path
    if isinstance(message, Related) and marks.get(path, (None,))[0] != file:
        chosen = next((p for p in related if marks.get(p, (None,))[0] == file), path)
    issue = _located(chosen, str(message), data, marks, file)
    others = tuple(p for p in (path, *related) if p != chosen)
    return Issue(issue.message, issue.path, issue.file, issue.line, issue.column, related=others)


def repairable(err: ValidationError, data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Path]]:
    """``data`` without the fields that failed to validate, so that the cross-field rules can run
    on the rest; and the paths left out. Nothing is left out (``[]``) when a failure cannot be
    removed that way (a missing field, an error of a whole part, an item of a list)."""
    import copy

    repaired = copy.deepcopy(dict(data))
    dropped: list[Path] = []
    for e in err.errors(include_url=False):
        if isinstance((e.get("ctx") or {}).get("error"), CrossFieldError):
            return repaired, []
        if e["type"] == "missing":
            return repaired, []
        path = data_path(data, tuple(e["loc"]))
        node: Any = repaired
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not path or not isinstance(node, dict) or path[-1] not in node:
            return repaired, []
        del node[path[-1]]
        dropped.append(path)
    return repaired, dropped


def _describe(
    e: Mapping[str, Any],
    data: Mapping[str, Any],
    marks: Mapping[Path, Mark],
    file: str,
    at: Path = (),
    scope: Any = None,
) -> Issue:
    """The issue for one pydantic error dict.

    ``at`` is where the validated value sits, and ``scope`` that value: the whole spec by default,
    or ``("layer_overrides", k, part)`` and the merged `attention` or `ffn` data of a layer.
    """
    scope = data if scope is None else scope
    loc = tuple(e["loc"])
    schema_loc = at[2:] + loc
    path = at + data_path(scope, loc)
    kind = e["type"]
    allowed: tuple[str, ...] = ()
    suggestion = None
    if kind == "extra_forbidden":
        key = str(loc[-1])
        fields = _fields_at(schema_loc[:-1])
        message = f"unknown key '{key}'"
        suggestion = _closest(key, fields)
        allowed = tuple(fields)
    elif kind == "missing":
        message = f"missing required field '{loc[-1]}'"
    elif kind == "literal_error":
        allowed = tuple(re.findall(r"'([^']*)'", e["ctx"]["expected"]))
        value = e["input"]
        message = f"'{value}' is not one of the allowed values"
        suggestion = _closest(str(value), allowed)
    elif kind == "union_tag_invalid":
        allowed = tuple(re.findall(r"'([^']*)'", e["ctx"]["expected_tags"]))
        value = e["ctx"]["tag"]
        message = f"unknown kind '{value}'"
        suggestion = _closest(str(value), allowed)
        path = at + data_path(scope, loc + ("kind",))
    elif kind == "union_tag_not_found":
        message = "missing 'kind'"
    elif "input" in e and not isinstance(e["input"], dict):
        message = f"{e['msg']} (got {e['input']!r})"
    else:
        message = e["msg"]
    issue = _located(path, message, data, marks, file)
    return Issue(
        issue.message, issue.path, issue.file, issue.line, issue.column, allowed, suggestion
    )


def _located(
    path: Path, message: str, data: Mapping[str, Any], marks: Mapping[Path, Mark], file: str
) -> Issue:
    """Attach the mark of ``path``, or of its nearest written ancestor."""
    probe = tuple(path)
    while probe and probe not in marks:
        probe = probe[:-1]
    where = marks.get(probe)
    if where is None:
        return Issue(message, tuple(path), file)
    return Issue(message, tuple(path), where[0], where[1], where[2])


def _kinds(model: type[BaseModel], seen: set[type]) -> set[str]:
    """Every `kind` tag of the variant parts reachable from ``model``."""
    tags: set[str] = set()
    for field in model.model_fields.values():
        for sub in models_within(field.annotation):
            if sub in seen:
                continue
            seen.add(sub)
            kind = sub.model_fields.get("kind")
            if kind is not None and isinstance(kind.default, str):
                tags.add(kind.default)
            tags |= _kinds(sub, seen)
    return tags


def data_path(data: Any, loc: tuple[Any, ...]) -> Path:
    """Drop the discriminator tags pydantic puts in error locations (`position.rope.theta`)."""
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping):
            if part in node:
                path.append(part)
                node = node[part]
                continue
            if (
                part == node.get("kind")
                or part in _TAGS
                or part in ("function-after", "function-before")
            ):
                continue
            path.append(part)
            node = None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        else:
            if isinstance(part, str) and part.startswith("function-"):
                continue
            path.append(part)
            node = None
    return tuple(path)


def _closest(word: str, options: typing.Iterable[str]) -> str | None:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return match[0] if match else None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the spec model found at ``loc`` (a pydantic location, tags included)."""
    current: Any = ModelSpec
    for part in loc:
        if isinstance(part, int):
            current = _item_type(current)
            continue
        options = _models_in(current)
        if not options:
            return []
        picked = None
        for model in options:
            if part in model.model_fields:
                picked = model.model_fields[part].annotation
                break
            kind = model.model_fields.get("kind")
            if kind is not None and kind.default == part:
                picked = model
                break
        if picked is None:
            return []
        current = picked
    models = _models_in(current)
    return list(models[0].model_fields) if len(models) == 1 else []


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _models_in(tp: Any) -> list[type[BaseModel]]:
    return [t for t in _unwrap(tp) if isinstance(t, type) and issubclass(t, BaseModel)]


def models_within(tp: Any) -> list[type[BaseModel]]:
    """Spec models an annotation holds: directly, in a union, or as list items."""
    return _models_in(tp) + _models_in(_item_type(tp))


def _item_type(tp: Any) -> Any:
    for t in _unwrap(tp):
        if typing.get_origin(t) is list:
            return typing.get_args(t)[0]
    return None


_TAGS = frozenset(_kinds(ModelSpec, set()))
"""Discriminator tags pydantic puts in error locations, even when the data leaves `kind` out."""
