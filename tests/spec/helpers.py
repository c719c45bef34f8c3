"""Small helpers for the spec tests: a tiny spec as YAML text, and the issues a text raises."""

from __future__ import annotations

import pytest

from archspec.errors import Issue, SpecError
from archspec.spec.load import spec_from_text

TINY_YAML = """\
name: tiny
vocab_size: 32
d_model: 16
n_layers: 2
max_seq_len: 16
attention:
  n_heads: 4
ffn:
  activation: silu
  hidden_dim: 32
"""
"""A valid spec, 10 lines long: text appended to it starts on line 11."""


def issues_of(text: str | bytes, file: str = "spec.yaml") -> list[Issue]:
    """The issues ``text`` is rejected with (the test fails if it loads)."""
    with pytest.raises(SpecError) as info:
        spec_from_text(text, file)
    return info.value.issues


def only_issue(text: str | bytes, file: str = "spec.yaml") -> Issue:
    """The single issue ``text`` is rejected with."""
    found = issues_of(text, file)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def where(issue: Issue) -> tuple[str | None, int | None, int | None, str]:
    """``(file, line, column, dotted field path)`` of an issue, for one-line assertions."""
    return issue.file, issue.line, issue.column, issue.dotted_path
