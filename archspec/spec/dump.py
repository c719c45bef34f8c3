"""Specs back to YAML and to canonical JSON (for hashes and equality of meaning)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from archspec.load.yaml import RESOLVERS
from archspec.spec.model import ModelSpec


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that keeps field order and indents lists under their key, and resolves
    plain scalars as the reader does, so that a string such as "1e5" gets quotes."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_Dumper.yaml_implicit_resolvers = {
    first: list(entries) for first, entries in yaml.SafeDumper.yaml_implicit_resolvers.items()
}
for _tag, _regexp, _first in RESOLVERS:
    _Dumper.add_implicit_resolver(_tag, _regexp, _first)

_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    """Strings with a Unicode line break go double-quoted (escaped); plain ones as PyYAML chooses."""
    style = '"' if any(ch in text for ch in _LINE_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.SequenceNode:
    """A list of plain values (per-layer windows, layer indices) on one flow-style line, wrapped
    at the width like prose; a list of mappings stays in block style."""
    flow = all(item is None or isinstance(item, (bool, int, float, str)) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def to_yaml(spec: ModelSpec | dict[str, Any]) -> str:
    """The spec as YAML, every field written out, in schema order; loads back to an equal spec.
    Lists of plain values are written compactly in flow style (`[4096, null, 4096, ...]`)."""
    data = spec.model_dump(mode="json") if isinstance(spec, ModelSpec) else spec
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def canonical_json(spec: ModelSpec) -> str:
    """Sorted, compact JSON of every field: equal strings mean equal specs."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def spec_sha256(spec: ModelSpec) -> str:
    """sha256 of the canonical JSON, as stamped in generated file headers."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()
