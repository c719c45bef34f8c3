"""Reading spec files: the YAML reader's refusals, each located, and the load entry points."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from archspec.errors import SpecError, UsageError
from archspec.load import yaml as reader
from archspec.spec.load import load_spec, spec_from_text
from archspec.spec.model import ModelSpec
from archspec.spec.shipped import shipped_dir, shipped_names
from tests.spec.helpers import TINY_YAML, issues_of, only_issue, where

# --- documents that are not a mapping ------------------------------------------------------------


def test_malformed_yaml_is_located_where_the_parser_stopped() -> None:
    issue = only_issue("name: tiny\nattention: [1, 2\nffn: {}\n")
    assert issue.message.startswith("malformed YAML: ")
    assert "flow sequence" in issue.message
    assert where(issue)[:2] == ("spec.yaml", 3)
    assert issue.path == ()


def test_bad_indentation_is_malformed_yaml() -> None:
    issue = only_issue("name: tiny\nattention:\n    n_heads: 4\n  n_kv_heads: 2\n")
    assert issue.message.startswith("malformed YAML")
    assert (issue.line, issue.column) == (4, 3)


def test_several_documents_in_one_file_are_refused() -> None:
    issue = only_issue(TINY_YAML + "---\nname: other\n")
    assert "malformed YAML" in issue.message and "single document" in issue.message
    assert issue.line == 11


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# only a comment\n# and another\n"])
def test_empty_or_comment_only_file(text: str) -> None:
    issue = only_issue(text)
    assert issue.message == "the document is empty; a spec is a mapping of fields"
    assert where(issue) == ("spec.yaml", None, None, "<root>")


@pytest.mark.parametrize(
    ("text", "kind", "line"),
    [
        ("- name: tiny\n- d_model: 16\n", "a list", 1),
        ("# a comment first\n[1, 2, 3]\n", "a list", 2),
        ("just words\n", "a single value", 1),
        ("42\n", "a single value", 1),
    ],
    ids=["block-list", "flow-list", "string", "number"],
)
def test_a_document_that_is_not_a_mapping(text: str, kind: str, line: int) -> None:
    issue = only_issue(text)
    assert issue.message == f"the document is {kind}; a spec is a mapping of fields"
    assert where(issue) == ("spec.yaml", line, 1, "<root>")


# --- keys ----------------------------------------------------------------------------------------


def test_duplicate_key_is_refused_where_pyyaml_keeps_the_last() -> None:
    text = TINY_YAML + "d_model: 32\n"
    assert yaml.safe_load(text)["d_model"] == 32  # what silently happens without our reader
    issue = only_issue(text)
    assert issue.message == "duplicate key 'd_model' (first set on line 3)"
    assert where(issue) == ("spec.yaml", 11, 1, "d_model")


def test_duplicate_key_in_a_nested_and_a_flow_mapping() -> None:
    text = TINY_YAML.replace("  n_heads: 4\n", "  n_heads: 4\n  n_heads: 8\n")
    text += "block: {placement: pre, placement: post}\n"
    first, second = issues_of(text)
    assert where(first) == ("spec.yaml", 8, 3, "attention.n_heads")
    assert first.message == "duplicate key 'n_heads' (first set on line 7)"
    assert where(second) == ("spec.yaml", 12, 25, "block.placement")


@pytest.mark.parametrize(
    ("line", "shown"),
    [("1: one", " 1"), ("true: 1", " True"), ("~: null", " None"), ("? [a, b]\n: 1", "")],
    ids=["int", "bool", "null", "complex"],
)
def test_keys_must_be_strings(line: str, shown: str) -> None:
    issue = only_issue(TINY_YAML + line + "\n")
    assert issue.message == f"key{shown} is not a string; keys must be plain strings"
    assert where(issue)[:2] == ("spec.yaml", 11)
    assert issue.path == ()


def test_non_string_key_inside_a_part_is_located_in_that_part() -> None:
    issue = only_issue(TINY_YAML.replace("  n_heads: 4\n", "  n_heads: 4\n  2: 3\n"))
    assert where(issue) == ("spec.yaml", 8, 3, "attention")


def test_merge_keys_are_refused() -> None:
    text = TINY_YAML + "block: &b {placement: pre}\nhead:\n  <<: *b\n  bias: true\n"
    issue = only_issue(text)
    assert issue.message == "YAML merge keys (`<<`) are not supported; use `extends`"
    assert where(issue) == ("spec.yaml", 13, 3, "head")


def test_aliases_without_merge_are_read() -> None:
    text = TINY_YAML.replace("  n_heads: 4\n", "  n_heads: &h 4\n  n_kv_heads: *h\n")
    assert spec_from_text(text).attention.n_kv_heads == 4


# --- bytes and size ------------------------------------------------------------------------------


def test_non_utf8_bytes_are_located() -> None:
    raw = TINY_YAML.encode() + b"description: caf\xe9\n"  # Latin-1 e-acute
    issue = only_issue(raw)
    assert issue.message == "not UTF-8: byte 0xe9 cannot be decoded"
    assert where(issue) == ("spec.yaml", 11, 17, "<root>")


def test_utf8_with_bom_and_non_ascii_text_is_read() -> None:
    raw = b"\xef\xbb\xbf" + TINY_YAML.encode() + "description: café 日本\n".encode()
    assert spec_from_text(raw).description == "café 日本"


def test_huge_file_is_refused_before_parsing() -> None:
    raw = TINY_YAML.encode() + b"#" * reader.MAX_BYTES
    start = time.perf_counter()
    issue = only_issue(raw)
    assert time.perf_counter() - start < 0.5
    assert issue.message == f"file is {len(raw):,} bytes; a spec may be at most 1,048,576"
    assert where(issue) == ("spec.yaml", None, None, "<root>")
    assert "characters" in only_issue(raw.decode()).message


def test_size_limit_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = TINY_YAML.encode()
    monkeypatch.setattr(reader, "MAX_BYTES", len(raw))
    assert spec_from_text(raw).name == "tiny"
    assert "a spec may be at most" in only_issue(raw + b"\n").message


def test_alias_bomb_is_refused_quickly() -> None:
    # "Billion laughs": 9 levels of 9 aliases each would expand to 9**9 strings.
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    start = time.perf_counter()
    issue = only_issue("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 5
    assert issue.message == "more than 50,000 values (alias expansion?); refusing"
    assert issue.file == "spec.yaml" and issue.line is not None


def test_too_deep_nesting_is_refused() -> None:
    issue = only_issue("source: " + "[" * 40 + "]" * 40 + "\n")
    assert issue.message == "nested deeper than 32 levels; refusing"
    assert issue.path[0] == "source" and len(issue.path) == 33
    assert (issue.line, issue.column) == (1, 9 + 32)


def test_nesting_just_under_the_limit_reaches_validation() -> None:
    issue = only_issue(TINY_YAML + "source: " + "[" * 31 + "]" * 31 + "\n")
    assert issue.dotted_path == "source"  # a schema error, not a reader refusal
    assert "dictionary" in issue.message


def test_recursive_alias_is_refused_not_a_crash() -> None:
    issue = only_issue(TINY_YAML + "source: &loop [*loop]\n")
    assert issue.message == "nested deeper than 32 levels; refusing"


# --- values --------------------------------------------------------------------------------------


def test_unsafe_python_tag_is_not_constructed() -> None:
    issue = only_issue(TINY_YAML + "description: !!python/name:os.system ''\n")
    assert issue.message.startswith("cannot read value: could not determine a constructor")
    assert where(issue) == ("spec.yaml", 11, 14, "description")


def test_tag_on_a_sequence_is_ignored_and_nothing_is_called() -> None:
    issue = only_issue(TINY_YAML + 'description: !!python/object/apply:os.system ["false"]\n')
    assert issue.message == "Input should be a valid string (got ['false'])"


@pytest.mark.parametrize("value", ["!!int abc", "!!float x", "!!timestamp soon", "!!bool maybe"])
def test_explicit_tag_that_cannot_be_read(value: str) -> None:
    issue = only_issue(TINY_YAML + f"description: {value}\n")
    assert issue.message.startswith("cannot read value: ")
    assert "\n" not in issue.message
    assert where(issue) == ("spec.yaml", 11, 14, "description")


def test_explicit_tag_on_a_key_that_cannot_be_read() -> None:
    issue = only_issue(TINY_YAML + "!!int abc : 1\n")
    assert issue.message.startswith("cannot read key: ")
    assert where(issue) == ("spec.yaml", 11, 1, "<root>")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-5", 1e-5), ("1E+3", 1000.0), ("-2e2", -200.0), ("1.0e-6", 1e-6), (".5e-3", 0.0005)],
)
def test_yaml_1_2_floats_read_as_floats(text: str, value: float) -> None:
    data = reader.parse_yaml(f"x: {text}\n", "f.yaml").data
    assert data == {"x": value} and isinstance(data["x"], float)


def test_pyyaml_alone_reads_1e_minus_5_as_a_string() -> None:
    assert yaml.safe_load("x: 1e-5\n") == {"x": "1e-5"}  # why the reader adds a resolver


def test_float_forms_validate_in_float_fields() -> None:
    spec = spec_from_text(
        TINY_YAML + "norm:\n  kind: rmsnorm\n  eps: 1e-5\nposition: {kind: rope, theta: 5e5}\n"
    )
    assert spec.norm.eps == 1e-5
    assert spec.position.theta == 500000.0


def test_a_float_is_not_accepted_for_an_integer() -> None:
    issue = only_issue(TINY_YAML.replace("d_model: 16", "d_model: 1.6e1"))
    assert where(issue) == ("spec.yaml", 3, 1, "d_model")
    assert issue.message == "Input should be a valid integer (got 16.0)"


def test_marks_record_every_key_and_item() -> None:
    doc = reader.parse_yaml("a:\n  b: [x, {c: 1}]\n", "f.yaml")
    assert doc.marks[("a",)] == ("f.yaml", 1, 1)
    assert doc.marks[("a", "b")] == ("f.yaml", 2, 3)
    assert doc.marks[("a", "b", 1)] == ("f.yaml", 2, 10)
    assert doc.marks[("a", "b", 1, "c")] == ("f.yaml", 2, 11)


# --- entry points --------------------------------------------------------------------------------


def test_load_by_path_and_by_name_agree(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_YAML)
    by_path = load_spec(path)
    assert by_path == load_spec(str(path)) == spec_from_text(TINY_YAML)
    assert isinstance(by_path, ModelSpec)
    assert load_spec("gemma-7b") == load_spec(shipped_dir() / "gemma-7b.yaml")


def test_errors_name_the_file_they_come_from(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY_YAML + "bias: 1\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [where(i) for i in info.value.issues] == [(str(path), 11, 1, "bias")]
    assert str(info.value).startswith(f"1 problem in spec:\n  {path}:11:1: bias: ")


@pytest.mark.parametrize("ref", ["no-such-model", "missing/dir/spec.yaml"])
def test_unknown_reference_is_a_usage_error(ref: str) -> None:
    with pytest.raises(UsageError, match="no shipped spec named|no spec file"):
        load_spec(ref)


def test_a_directory_is_not_a_spec(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load_spec(tmp_path)


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_spec_loads(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert spec.extends is None
    assert spec.source, "every shipped spec cites its source"
