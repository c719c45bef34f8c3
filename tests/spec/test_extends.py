"""`extends`: a spec overriding the fields of a base (a shipped name or a relative path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.errors import SpecError, UsageError
from archspec.spec import load as load_module
from archspec.spec.load import load_spec, spec_from_text
from tests.spec.helpers import TINY_YAML, where


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def spec_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value


def test_chat_variant_overrides_a_shipped_spec(tmp_path: Path) -> None:
    child = write(
        tmp_path,
        "gemma-7b-chat.yaml",
        "name: gemma-7b-chat\nextends: gemma-7b\nmax_seq_len: 4096\nhead:\n  logit_softcap: 30.0\n",
    )
    base = load_spec("gemma-7b")
    spec = load_spec(child)
    assert spec.name == "gemma-7b-chat"
    assert spec.max_seq_len == 4096
    assert spec.head.logit_softcap == 30.0
    assert spec.head.tie_embeddings is True  # a sibling field of the base's `head` survives
    assert spec.extends is None
    assert spec == base.model_copy(
        update={
            "name": "gemma-7b-chat",
            "max_seq_len": 4096,
            "head": base.head.model_copy(update={"logit_softcap": 30.0}),
        }
    )


def test_nested_fields_merge_key_by_key(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", TINY_YAML)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nattention:\n  n_kv_heads: 1\n")
    spec = load_spec(child)
    assert (spec.attention.n_heads, spec.attention.n_kv_heads) == (4, 1)
    assert spec.name == "tiny"  # inherited when not overridden


@pytest.mark.parametrize("ref", ["../base.yaml", "../base", "./../shared/../base.yaml"])
def test_base_given_by_a_path_relative_to_the_child(tmp_path: Path, ref: str) -> None:
    write(tmp_path, "base.yaml", TINY_YAML)
    child = write(tmp_path, "variants/child.yaml", f"name: child\nextends: {ref}\nn_layers: 3\n")
    (tmp_path / "shared").mkdir()
    spec = load_spec(child, allow_outside=True)
    assert (spec.name, spec.n_layers, spec.d_model) == ("child", 3, 16)


def test_relative_base_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "specs/base.yaml", TINY_YAML)
    child = write(tmp_path, "specs/child.yaml", "extends: base.yaml\nn_layers: 1\n")
    monkeypatch.chdir(tmp_path)
    assert load_spec(child).n_layers == 1
    assert load_spec("specs/child.yaml").n_layers == 1


def test_spec_from_text_resolves_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", TINY_YAML)
    spec = spec_from_text("extends: base.yaml\nd_model: 32\n", base_dir=tmp_path)
    assert spec.d_model == 32


def test_chain_of_two(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", TINY_YAML)
    write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\nffn: {activation: swiglu}\nbias: true\n")
    c = write(tmp_path, "c.yaml", "name: c\nextends: b.yaml\nffn: {hidden_dim: 24}\n")
    spec = load_spec(c)
    assert spec.name == "c"
    assert (spec.ffn.activation, spec.ffn.hidden_dim, spec.bias) == ("swiglu", 24, True)
    assert spec.vocab_size == 32  # from a, two levels up


def test_chain_may_not_be_endless(tmp_path: Path) -> None:
    write(tmp_path, "s0.yaml", TINY_YAML)
    depth = load_module.MAX_EXTENDS_DEPTH
    for i in range(1, depth + 2):
        write(tmp_path, f"s{i}.yaml", f"extends: s{i - 1}.yaml\nn_layers: {i}\n")
    assert load_spec(tmp_path / f"s{depth - 1}.yaml").n_layers == depth - 1
    error = spec_error(tmp_path / f"s{depth + 1}.yaml")
    (issue,) = error.issues
    assert issue.message == f"extends chain deeper than {depth}"
    assert issue.dotted_path == "extends" and issue.line == 1


def test_cycle_of_two_is_reported_with_its_path(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "name: a\nextends: b.yaml\n")
    b = write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    (issue,) = spec_error(a).issues
    assert issue.message == "extends cycle: a.yaml -> b.yaml -> a.yaml"
    assert where(issue) == (str(b), 2, 1, "extends")  # where the loop closes


def test_spec_extending_itself(tmp_path: Path) -> None:
    path = write(tmp_path, "self.yaml", TINY_YAML + "extends: self.yaml\n")
    (issue,) = spec_error(path).issues
    assert issue.message == "extends cycle: self.yaml -> self.yaml"
    assert where(issue) == (str(path), 11, 1, "extends")


def test_missing_base(tmp_path: Path) -> None:
    path = write(tmp_path, "child.yaml", "name: c\n\nextends: no-such-base.yaml\n")
    (issue,) = spec_error(path).issues
    assert issue.message == (
        "base spec not found: no spec file 'no-such-base.yaml' "
        "(a path is relative to the spec that names it)"
    )
    assert where(issue) == (str(path), 3, 1, "extends")


def test_extends_must_be_a_string(tmp_path: Path) -> None:
    path = write(tmp_path, "child.yaml", "extends: [a, b]\n")
    (issue,) = spec_error(path).issues
    assert issue.message == "extends must be a spec name or path, got ['a', 'b']"


def test_extends_null_is_no_base() -> None:
    assert spec_from_text(TINY_YAML + "extends: null\n").name == "tiny"


def test_switching_position_kind_drops_the_base_s_keys(tmp_path: Path) -> None:
    base = TINY_YAML + (
        "position:\n  kind: rope\n  theta: 500000.0\n  fraction: 0.5\n"
        "  scaling: {kind: linear, factor: 2.0}\n"
    )
    write(tmp_path, "base.yaml", base)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nposition:\n  kind: alibi\n")
    assert load_spec(child).position.kind == "alibi"  # no stale theta, fraction or scaling


def test_switching_norm_kind_drops_the_base_s_keys() -> None:
    spec = spec_from_text("extends: gemma-7b\nnorm:\n  kind: layernorm\n")
    assert spec.norm.kind == "layernorm"  # gemma's unit_offset is not carried over
    assert spec.norm.eps == 1e-5  # the LayerNorm default, not gemma's 1e-6


def test_same_kind_keeps_the_base_s_keys() -> None:
    spec = spec_from_text("extends: gemma-7b\nnorm:\n  kind: rmsnorm\n  eps: 1.0e-5\n")
    assert spec.norm.unit_offset is True and spec.norm.eps == 1e-5


def test_lists_are_replaced_whole(tmp_path: Path) -> None:
    rules = "layer_overrides:\n  - layers: [0]\n    ffn: {hidden_dim: 8}\n"
    write(tmp_path, "base.yaml", TINY_YAML + rules)
    child = write(
        tmp_path,
        "child.yaml",
        "extends: base.yaml\nlayer_overrides:\n  - every: 2\n    ffn: {hidden_dim: 4}\n",
    )
    (rule,) = load_spec(child).layer_overrides
    assert (rule.layers, rule.every, rule.ffn) == (None, 2, {"hidden_dim": 4})


@pytest.mark.parametrize(
    ("old", "new"),
    [("n_heads: 4", 'n_heads: "4"'), ("d_model: 16", "d_model: 18")],
    ids=["field", "cross-field"],
)
def test_error_in_the_base_is_located_in_the_base_file(tmp_path: Path, old: str, new: str) -> None:
    base = write(tmp_path, "base.yaml", TINY_YAML.replace(old, new))
    child = write(tmp_path, "child.yaml", "name: child\nextends: base.yaml\nn_layers: 3\n")
    (issue,) = spec_error(child).issues
    assert where(issue) == (str(base), 7, 3, "attention.n_heads")


def test_error_in_the_child_is_located_in_the_child_file(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", TINY_YAML)
    child = write(
        tmp_path, "child.yaml", "name: child\nextends: base.yaml\nffn:\n  activation: gelu_fast\n"
    )
    (issue,) = spec_error(child).issues
    assert where(issue) == (str(child), 4, 3, "ffn.activation")
    assert issue.suggestion == "gelu_tanh"


def test_cross_field_error_points_at_the_child_s_override(tmp_path: Path) -> None:
    # The child narrows d_model so that the base's 4 heads no longer divide it: the error is the
    # child's, at its `d_model` line, and still names the base's field.
    write(tmp_path, "base.yaml", TINY_YAML)
    child = write(
        tmp_path, "child.yaml", "extends: base.yaml\nd_model: 18\nattention: {n_kv_heads: 3}\n"
    )
    heads, kv = spec_error(child).issues
    assert where(heads) == (str(child), 2, 1, "d_model")
    assert heads.related == (("attention", "n_heads"), ("attention", "head_dim"))
    assert "attention.n_heads (4)" in heads.message
    assert where(kv) == (str(child), 3, 13, "attention.n_kv_heads")


def test_a_bare_name_is_the_shipped_spec_even_beside_a_same_named_file(tmp_path: Path) -> None:
    # Issue 14.3: shadow/gemma-7b.yaml extending gemma-7b is no cycle: it extends the shipped one.
    child = write(tmp_path, "gemma-7b.yaml", "extends: gemma-7b\nname: mine\nmax_seq_len: 128\n")
    spec = load_spec(child)
    assert (spec.name, spec.max_seq_len, spec.d_model) == ("mine", 128, 3072)


def test_a_bare_name_never_reads_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "gemma-7b.yaml", TINY_YAML)
    write(tmp_path, "base.yaml", TINY_YAML)
    monkeypatch.chdir(tmp_path)
    assert load_spec("gemma-7b").d_model == 3072  # the shipped spec, not ./gemma-7b.yaml
    assert load_spec("./gemma-7b.yaml").d_model == 16
    with pytest.raises(UsageError, match="for the file write 'base.yaml'"):
        load_spec("base")
    child = write(tmp_path, "child.yaml", "extends: base\n")
    (issue,) = spec_error(child).issues
    assert "for the file write 'base.yaml'" in issue.message


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../../../../../etc/passwd", "../outside.yaml"])
def test_extends_outside_the_spec_s_folder_is_refused(tmp_path: Path, ref: str) -> None:
    write(tmp_path, "outside.yaml", "secret: hunter2\n")
    child = write(tmp_path, "specs/child.yaml", f"extends: {ref}\n")
    (issue,) = spec_error(child).issues
    assert issue.file == str(child) and issue.dotted_path == "extends"
    assert "root:" not in str(issue) and "hunter2" not in str(issue)
    assert "outside this spec's folder" in issue.message or "not a .yaml" in issue.message


def test_extends_outside_is_allowed_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "base.yaml", TINY_YAML)
    child = write(tmp_path, "specs/child.yaml", "extends: ../base.yaml\n")
    assert load_spec(child, allow_outside=True).d_model == 16
    monkeypatch.setenv("ARCHSPEC_ALLOW_EXTENDS_OUTSIDE", "1")
    assert load_spec(child).d_model == 16


def test_child_replacing_a_mapping_with_a_scalar_is_located_in_the_child(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", TINY_YAML + "norm:\n  kind: rmsnorm\n  eps: 1.0e-6\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nnorm: rmsnorm\n")
    (issue,) = spec_error(child).issues
    assert where(issue)[:2] == (str(child), 2)


def test_error_in_a_grandparent_is_located_there(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", TINY_YAML + "dtype: fp32\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    c = write(tmp_path, "c.yaml", "extends: b.yaml\nname: c\n")
    (issue,) = spec_error(c).issues
    assert where(issue) == (str(a), 11, 1, "dtype")


def test_base_that_cannot_be_parsed_is_reported_in_its_own_file(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "name: [broken\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    (issue,) = spec_error(child).issues
    assert issue.file == str(base) and issue.message.startswith("malformed YAML")
