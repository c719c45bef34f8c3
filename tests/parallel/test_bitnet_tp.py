"""BitLinear and sub-norms under tensor parallelism: refused with a located error (the absmean
of a shard is not the whole weight's), at `validate --tp` and in the layout `parallelize` uses."""

from __future__ import annotations

from archspec.parallel.layout import tp_problems
from archspec.plan.lower import lower
from archspec.spec.load import load_spec
from archspec.spec.parallel_checks import spec_tp_problems, tp_issues


def test_validate_tp_refuses_bitlinear_and_sub_norms_at_their_lines() -> None:
    issues = {issue.path: issue for issue in tp_issues("bitnet-b1.58-2b-4t", 2)}
    kind, sub_norm = issues[("linear", "kind")], issues[("attention", "sub_norm")]
    assert "not supported under tensor parallelism" in kind.message
    assert kind.line is not None and sub_norm.line is not None


def test_layout_refuses_the_same() -> None:
    spec = load_spec("bitnet-b1.58-2b-4t")
    paths = [path for path, _ in tp_problems(lower(spec), 2)]
    assert ("linear", "kind") in paths and ("attention", "sub_norm") in paths


def test_no_tensor_parallelism_is_fine() -> None:
    spec = load_spec("bitnet-b1.58-2b-4t")
    assert spec_tp_problems(spec, 1) == []
    assert tp_problems(lower(spec), 1) == []
