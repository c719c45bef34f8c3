"""Per-layer positions and LongRoPE: what a spec may say, and where it is told it may not."""

from __future__ import annotations

from tests.spec.helpers import TINY_YAML, issues_of, only_issue, where

RULE = "layer_overrides:\n  - layers: [1]\n    position: "


def test_a_layer_position_needs_a_rope_or_nope_model() -> None:
    issue = only_issue(TINY_YAML + "position: {kind: learned}\n" + RULE + "{kind: none}\n")
    assert (issue.line, issue.dotted_path) == (14, "layer_overrides.0.position")
    assert "need the model's position to be `rope` or `none`, not `learned`" in issue.message


def test_a_layer_may_only_change_kind_theta_and_scaling() -> None:
    issue = only_issue(TINY_YAML + RULE + "{fraction: 0.5}\n")
    assert where(issue)[3] == "layer_overrides.0.position.fraction"
    assert "may set position kind, theta, scaling, not `fraction`" in issue.message
    issue = only_issue(TINY_YAML + RULE + "{kind: alibi}\n")
    assert where(issue)[3] == "layer_overrides.0.position.kind"


def test_a_bad_layer_position_value_is_located_in_its_rule() -> None:
    issue = only_issue(TINY_YAML + RULE + "{theta: 0.5}\n")
    assert (issue.line, issue.dotted_path) == (13, "layer_overrides.0.position.theta")


def test_longrope_needs_one_factor_per_rotary_pair() -> None:
    text = TINY_YAML + (
        "position:\n  scaling:\n    kind: longrope\n    short_factor: [1.0, 1.0]\n"
        "    long_factor: [2.0, 2.0, 2.0]\n    original_max_seq_len: 8\n"
    )
    issue = only_issue(text)
    assert (issue.line, issue.dotted_path) == (15, "position.scaling.long_factor")
    assert "long_factor has 3, the rotary dimension 4 has 2 pairs" in issue.message


def test_a_layer_longrope_is_blamed_on_its_rule() -> None:
    scaling = (
        "{scaling: {kind: longrope, short_factor: [1.0], long_factor: [1.0],"
        " original_max_seq_len: 8}}\n"
    )
    issues = issues_of(TINY_YAML + RULE + scaling)
    assert [(i.line, i.dotted_path) for i in issues] == [
        (13, "layer_overrides.0.position.scaling")
    ] * 2
    assert "short_factor has 1, the rotary dimension 4 has 2 pairs" in issues[0].message
