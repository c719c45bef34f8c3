"""Specs back to YAML and to canonical JSON (for hashes and equality of meaning)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from archspec.spec.model import ModelSpec


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that keeps field order and indents lists under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def to_yaml(spec: ModelSpec | dict[str, Any]) -> str:
    """The spec as YAML, every field written out, in schema order; loads back to an equal spec."""
    data = spec.model_dump(mode="json") if isinstance(spec, ModelSpec) else spec
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def canonical_json(spec: ModelSpec) -> str:
    """Sorted, compact JSON of every field: equal strings mean equal specs."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def spec_sha256(spec: ModelSpec) -> str:
    """sha256 of the canonical JSON, as stamped in generated file headers."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()
