"""Read YAML bytes into plain data plus the line and column of every key, refusing what's unsafe.

PyYAML alone silently keeps the last of duplicate keys, reads `1e-5` as a string, and expands
alias bombs without limit; this reader rejects duplicates, reads YAML 1.2 floats, and caps size,
depth and node count, reporting each problem as a located :class:`~archspec.errors.Issue`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from archspec.errors import Issue, SpecError

MAX_BYTES = 1 << 20
"""A spec is a few kilobytes; anything over a mebibyte is not one."""
MAX_NODES = 50_000
"""Caps alias expansion ("billion laughs")."""
MAX_DEPTH = 32
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters YAML does not allow in a document (its `c-printable` set), surrogates included."""

Path = tuple[str | int, ...]
Mark = tuple[str, int, int]  # file, 1-based line, 1-based column


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars: `1e-5` is a float (YAML 1.1 needs a dot),
    only true/false are booleans (not yes/no/on/off), and `1:30` is not a base-60 integer."""


_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
RESOLVERS: list[tuple[str, re.Pattern[str], list[str]]] = [
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    (_INT, re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+.0123456789"),
    ),
]
"""Implicit resolvers that replace PyYAML's YAML 1.1 ones (shared with the dumper, so that what it
writes plain reads back as the same type). No base-60: `1:30:00.0` is a string, not 5400.0."""


def _with_resolvers(cls: type) -> None:
    cls.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in (_BOOL, _INT, _FLOAT)]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for tag, regexp, first in RESOLVERS:
        cls.add_implicit_resolver(tag, regexp, first)


_with_resolvers(_Loader)

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Document:
    """A parsed YAML mapping and where each of its keys and items was written."""

    data: dict[str, Any]
    marks: dict[Path, Mark]
    file: str


def parse_yaml(raw: bytes | str, file: str) -> Document:
    """Parse one YAML document that must be a mapping.

    Raises:
        SpecError: on non-UTF-8 bytes, malformed YAML, an empty or non-mapping document, duplicate
            or non-string keys, or a document too large or too deeply nested.
    """
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise _error(file, f"file is {len(raw):,} bytes; a spec may be at most {MAX_BYTES:,}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
            message = f"not UTF-8: byte 0x{raw[err.start]:02x} cannot be decoded"
            raise _error(file, message, line, column) from None
    else:
        text = raw
        if len(text) > MAX_BYTES:
            raise _error(
                file, f"document is {len(text):,} characters; a spec may be at most {MAX_BYTES:,}"
            )
    text = text.removeprefix("\ufeff")
    _check_characters(text, file)
    loader = _Loader(text)
    try:
        _check_depth(text, file)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or str(err)
        context = f" ({err.context})" if err.context else ""
        raise _error(
            file,
            f"malformed YAML: {problem}{context}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as err:
        raise _error(file, f"malformed YAML: {err}") from None
    finally:
        loader.dispose()
    if node is None:
        raise _error(file, "the document is empty; a spec is a mapping of fields")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        raise _error(
            file,
            f"the document is {kind}; a spec is a mapping of fields",
            node.start_mark.line + 1,
            node.start_mark.column + 1,
        )
    builder = _Builder(file, loader)
    data = builder.build(node, (), 0)
    if builder.issues:
        raise SpecError(builder.issues)
    return Document(data, builder.marks, file)


def _check_characters(text: str, file: str) -> None:
    bad = _NOT_PRINTABLE.search(text)
    if bad is None:
        return
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    raise _error(
        file,
        f"control character U+{ord(bad.group()):04X} is not allowed in YAML "
        "(write it as an escape inside a double-quoted string)",
        line,
        column,
    )


_EVENT_DEPTH = 4 * MAX_DEPTH
"""Nesting refused before composing; between MAX_DEPTH and this, the builder refuses it with the
field path (composing that deep is safe)."""


def _check_depth(text: str, file: str) -> None:
    """Refuse deep nesting before composing: PyYAML composes nodes recursively, and a flow
    collection 3,000 deep would end in RecursionError; its parser streams events without
    recursing, so counting them is safe."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _EVENT_DEPTH:
                mark = event.start_mark
                raise _error(
                    file,
                    f"nested deeper than {MAX_DEPTH} levels; refusing",
                    mark.line + 1,
                    mark.column + 1,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _joined_surrogates(value: Any) -> Any:
    """A string with JSON-style surrogate-pair escapes (`"\\ud83e\\udd99"`, as `json.dumps`
    writes an emoji) as the character they stand for.

    Raises:
        ValueError: a surrogate escape that is not half of a pair.
    """
    if not isinstance(value, str) or not any("\ud800" <= ch <= "\udfff" for ch in value):
        return value
    try:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        raise ValueError(
            "a surrogate escape (\\ud800-\\udfff) that is not half of a pair"
        ) from None


# An explicit tag (`!!int abc`, `!!timestamp x`) makes PyYAML's constructors raise these.
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError)


def _reason(err: Exception) -> str:
    """One line on why a scalar could not be constructed (PyYAML's own text spans several)."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem:
        return err.problem
    if isinstance(err, ValueError):
        return str(err)
    return "invalid value for its tag"


def _error(
    file: str, message: str, line: int | None = None, column: int | None = None
) -> SpecError:
    return SpecError([Issue(message, (), file, line, column)])


class _Builder:
    """Turns composed YAML nodes into Python data, recording marks and refusing unsafe shapes."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.marks: dict[Path, Mark] = {}
        self.issues: list[Issue] = []
        self.count = 0

    def _issue(self, message: str, path: Path, node: yaml.Node) -> None:
        self.issues.append(
            Issue(message, path, self.file, node.start_mark.line + 1, node.start_mark.column + 1)
        )

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self._issue(f"more than {MAX_NODES:,} values (alias expansion?); refusing", path, node)
            raise SpecError(self.issues)
        if depth > MAX_DEPTH:
            self._issue(f"nested deeper than {MAX_DEPTH} levels; refusing", path, node)
            raise SpecError(self.issues)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.marks[path + (i,)] = (
                    self.file,
                    item.start_mark.line + 1,
                    item.start_mark.column + 1,
                )
                items.append(self.build(item, path + (i,), depth + 1))
            return items
        try:
            return _joined_surrogates(self.loader.construct_object(node, deep=True))
        except _CONSTRUCT_ERRORS as err:
            self._issue(f"cannot read value: {_reason(err)}", path, node)
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # An explicit key could not override a merged one without looking like a duplicate;
                # `extends` does this job.
                self._issue(
                    "YAML merge keys (`<<`) are not supported; use `extends`", path, key_node
                )
                continue
            try:
                key = (
                    _joined_surrogates(self.loader.construct_object(key_node))
                    if isinstance(key_node, yaml.ScalarNode)
                    else None
                )
            except _CONSTRUCT_ERRORS as err:
                self._issue(f"cannot read key: {_reason(err)}", path, key_node)
                continue
            if not isinstance(key, str):
                shown = f" {key!r}" if isinstance(key_node, yaml.ScalarNode) else ""
                self._issue(
                    f"key{shown} is not a string; keys must be plain strings", path, key_node
                )
                continue
            here = path + (key,)
            if key in out:
                first = self.marks[here]
                self._issue(f"duplicate key '{key}' (first set on line {first[1]})", here, key_node)
                continue
            self.marks[here] = (
                self.file,
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.build(value_node, here, depth + 1)
        return out
