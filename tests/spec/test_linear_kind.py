"""The `linear:` section and the sub-norms: defaults keep dumps unchanged, nonsense is a located
error."""

from __future__ import annotations

import pytest

from archspec.errors import SpecError
from archspec.spec.dump import to_yaml
from archspec.spec.load import load_spec, spec_from_text

BASE = """
name: t
vocab_size: 32
d_model: 16
n_layers: 2
max_seq_len: 16
attention: {n_heads: 4}
ffn: {activation: swiglu, hidden_dim: 32}
"""


def _issues(text: str) -> list:
    with pytest.raises(SpecError) as info:
        spec_from_text(BASE + text)
    return info.value.issues


def test_defaults_are_left_out_of_dumps() -> None:
    text = to_yaml(spec_from_text(BASE))
    assert "linear" not in text and "sub_norm" not in text
    assert "linear:\n  kind: bitlinear_b158" in to_yaml(load_spec("bitnet-b1.58-2b-4t"))


def test_adapters_on_a_bitlinear_are_refused_at_linear_kind() -> None:
    issues = _issues("linear: {kind: bitlinear_b158}\nadapters: {targets: [q_proj]}\n")
    (issue,) = [i for i in issues if i.path == ("linear", "kind")]
    assert "adapters on a bitlinear_b158 projection (q_proj)" in issue.message
    assert issue.line is not None


def test_adapters_on_a_dense_projection_of_a_bitlinear_model_are_fine() -> None:
    spec_from_text(
        BASE + "linear: {kind: bitlinear_b158, projections: [o_proj]}\n"
        "adapters: {targets: [q_proj]}\n"
    )


def test_bitlinear_experts_and_sub_normed_experts_are_refused() -> None:
    text = (
        "linear: {kind: bitlinear_b158}\n"
        "layer_overrides: [{layers: [1], ffn: {moe: {n_experts: 2, experts_per_token: 1}}}]\n"
    )
    assert any(i.path == ("linear", "projections") for i in _issues(text))
    moe = BASE.replace(
        "hidden_dim: 32}",
        "hidden_dim: 32, sub_norm: true, moe: {n_experts: 2, experts_per_token: 1}}",
    )
    with pytest.raises(SpecError) as info:
        spec_from_text(moe)
    assert any(i.path == ("ffn", "sub_norm") for i in info.value.issues)


def test_unknown_linear_kind_lists_the_kinds() -> None:
    issues = _issues("linear: {kind: bitlinear}\n")
    assert issues and issues[0].path[0] == "linear"
