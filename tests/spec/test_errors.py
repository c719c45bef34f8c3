"""Invalid specs: every schema and cross-field error, located at file:line:column and field path.

Texts build on ``TINY_YAML`` (10 lines), so what a test appends starts on line 11.
"""

from __future__ import annotations

import pytest

from archspec.errors import Issue, SpecError
from archspec.spec.load import spec_from_text
from archspec.spec.model import ModelSpec
from tests.spec.helpers import TINY_YAML, issues_of, only_issue, where

ATTENTION_FIELDS = (
    "n_heads",
    "n_kv_heads",
    "head_dim",
    "q_bias",
    "k_bias",
    "v_bias",
    "o_bias",
    "scale",
    "sliding_window",
    "logit_softcap",
    "qkv_clip",
    "qk_norm",
    "sub_norm",
)


def tiny_with(old: str, new: str) -> str:
    assert old in TINY_YAML
    return TINY_YAML.replace(old, new)


# --- unknown keys --------------------------------------------------------------------------------


def test_unknown_top_level_key_suggests_the_closest_field() -> None:
    issue = only_issue(TINY_YAML + "vocab_sise: 64\n")
    assert issue.message == "unknown key 'vocab_sise'"
    assert issue.suggestion == "vocab_size"
    assert where(issue) == ("spec.yaml", 11, 1, "vocab_sise")
    assert issue.allowed == tuple(ModelSpec.model_fields)


def test_misspelt_required_key_is_both_unknown_and_missing() -> None:
    missing, unknown = sorted(issues_of(tiny_with("d_model", "d_modle")), key=lambda i: i.message)
    assert missing.message == "missing required field 'd_model'"
    assert where(missing) == ("spec.yaml", None, None, "d_model")  # written nowhere
    assert unknown.suggestion == "d_model"
    assert where(unknown) == ("spec.yaml", 3, 1, "d_modle")


def test_unknown_nested_key() -> None:
    issue = only_issue(tiny_with("  n_heads: 4\n", "  n_heads: 4\n  n_kv_head: 2\n"))
    assert (issue.message, issue.suggestion) == ("unknown key 'n_kv_head'", "n_kv_heads")
    assert issue.allowed == ATTENTION_FIELDS
    assert where(issue) == ("spec.yaml", 8, 3, "attention.n_kv_head")


def test_unknown_key_in_a_tagged_variant_lists_that_variant_s_fields() -> None:
    issue = only_issue(TINY_YAML + "position:\n  kind: rope\n  thetta: 500000.0\n")
    assert issue.suggestion == "theta"
    assert issue.allowed == ("kind", "theta", "fraction", "layout", "scaling")
    assert where(issue) == ("spec.yaml", 13, 3, "position.thetta")


def test_key_of_another_variant_is_unknown() -> None:
    issue = only_issue(TINY_YAML + "position:\n  kind: alibi\n  theta: 10000.0\n")
    assert issue.message == "unknown key 'theta'"
    assert issue.allowed == ("kind", "scaled", "bias_dtype")
    assert where(issue) == ("spec.yaml", 13, 3, "position.theta")


def test_unknown_key_deep_in_a_list_item() -> None:
    text = (
        TINY_YAML
        + "layer_overrides:\n  - layers: [0]\n    every_other: true\n    ffn: {hidden_dim: 8}\n"
    )
    issue = only_issue(text)
    assert issue.allowed == ("layers", "every", "offset", "attention", "ffn", "position", "mixer")
    assert where(issue) == ("spec.yaml", 13, 5, "layer_overrides.0.every_other")


@pytest.mark.parametrize(
    ("text", "path", "suggestion"),
    [
        (
            TINY_YAML + "position:\n  kind: rope\n  scaling: {kind: yarn, factor: 2.0, "
            "original_max_seq_len: 8, beta_fats: 3.0}\n",
            "position.scaling.beta_fats",
            "beta_fast",
        ),
        (
            tiny_with(
                "n_heads: 4", "n_heads: 4\n  qk_norm: {norm: {kind: layernorm, afine: true}}"
            ),
            "attention.qk_norm.norm.afine",
            "affine",
        ),
        (TINY_YAML + "block: {placment: pre}\n", "block.placment", "placement"),
        (TINY_YAML + "head: {tie_embedding: true}\n", "head.tie_embedding", "tie_embeddings"),
        (TINY_YAML + "embedding: {scale: true}\n", "embedding.scale", "scale_dtype"),
        (
            tiny_with(
                "hidden_dim: 32",
                "hidden_dim: 32\n  moe: {n_experts: 2, experts_per_token: 1, router_biass: true}",
            ),
            "ffn.moe.router_biass",
            "router_bias",
        ),
    ],
    ids=["rope-scaling", "qk-norm-layernorm", "block", "head", "embedding", "moe"],
)
def test_did_you_mean_at_every_depth(text: str, path: str, suggestion: str | None) -> None:
    issue = only_issue(text)
    assert (issue.dotted_path, issue.suggestion) == (path, suggestion)
    assert issue.line is not None and issue.allowed


def test_far_off_key_gets_no_suggestion() -> None:
    issue = only_issue(TINY_YAML + "zzz: 1\n")
    assert issue.suggestion is None
    assert str(issue).startswith("spec.yaml:11:1: zzz: unknown key 'zzz' [allowed: name, ")


# --- closed sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "line", "column", "suggestion", "allowed"),
    [
        (
            tiny_with("silu", "swigelu"),
            "ffn.activation",
            9,
            3,
            "swiglu",
            (
                "gelu",
                "gelu_tanh",
                "relu",
                "silu",
                "swiglu",
                "geglu",
                "geglu_tanh",
                "reglu",
                "relu2",
                "relu2_glu",
            ),
        ),
        (
            TINY_YAML + "dtype: bf16\n",
            "dtype",
            11,
            1,
            "bfloat16",
            ("float32", "bfloat16", "float16"),
        ),
        (
            TINY_YAML + "block:\n  placement: sandwhich\n",
            "block.placement",
            12,
            3,
            "sandwich",
            ("pre", "post", "branch_post", "sandwich"),
        ),
        (
            TINY_YAML + "position:\n  kind: rope\n  layout: interleave\n",
            "position.layout",
            13,
            3,
            "interleaved",
            ("half_split", "interleaved"),
        ),
    ],
    ids=["activation", "dtype", "placement", "rope-layout"],
)
def test_bad_literal_lists_the_allowed_values(
    text: str, path: str, line: int, column: int, suggestion: str | None, allowed: tuple[str, ...]
) -> None:
    issue = only_issue(text)
    assert issue.message.endswith("is not one of the allowed values")
    assert where(issue) == ("spec.yaml", line, column, path)
    assert (issue.suggestion, issue.allowed) == (suggestion, allowed)


@pytest.mark.parametrize(
    ("text", "path", "line", "value", "suggestion", "allowed"),
    [
        (
            TINY_YAML + "norm:\n  kind: rmsnrom\n",
            "norm.kind",
            12,
            "rmsnrom",
            "rmsnorm",
            ("layernorm", "rmsnorm"),
        ),
        (
            TINY_YAML + "position: {kind: sinusoidal}\n",
            "position.kind",
            11,
            "sinusoidal",
            None,
            ("learned", "rope", "alibi", "none", "relative_bias"),
        ),
        (
            TINY_YAML + "position:\n  kind: rope\n  scaling:\n    kind: yarnn\n    factor: 2.0\n",
            "position.scaling.kind",
            14,
            "yarnn",
            "yarn",
            ("linear", "ntk", "yarn", "llama3", "longrope"),
        ),
        (
            tiny_with("  n_heads: 4\n", "  n_heads: 4\n  qk_norm:\n    norm: {kind: l2}\n"),
            "attention.qk_norm.norm.kind",
            9,
            "l2",
            None,
            ("layernorm", "rmsnorm"),
        ),
    ],
    ids=["norm", "position", "rope-scaling", "qk-norm"],
)
def test_unknown_kind_in_a_tagged_union(
    text: str, path: str, line: int, value: str, suggestion: str | None, allowed: tuple[str, ...]
) -> None:
    issue = only_issue(text)
    assert issue.message == f"unknown kind '{value}'"
    assert (issue.dotted_path, issue.line) == (path, line)
    assert (issue.suggestion, issue.allowed) == (suggestion, allowed)


def test_variant_without_kind_takes_the_parts_default_kind() -> None:
    spec = spec_from_text(TINY_YAML + "norm:\n  eps: 1.0e-5\nposition:\n  theta: 5.0e+5\n")
    assert (spec.norm.kind, spec.norm.eps) == ("rmsnorm", 1e-5)
    assert (spec.position.kind, spec.position.theta) == ("rope", 5e5)


def test_variant_without_kind_and_without_default_is_an_error() -> None:
    issue = only_issue(TINY_YAML + "position:\n  kind: rope\n  scaling:\n    factor: 2.0\n")
    assert issue.message == "missing 'kind'"
    assert where(issue)[3] == "position.scaling"


def test_infinite_numbers_are_rejected() -> None:
    issue = only_issue(TINY_YAML + "position:\n  kind: rope\n  theta: .inf\n")
    assert issue.message.startswith("Input should be a finite number")
    assert where(issue)[1:] == (13, 3, "position.theta")


@pytest.mark.parametrize(
    ("scaling", "field", "message"),
    [
        (
            "{kind: llama3, factor: 8.0, low_freq_factor: 4.0, high_freq_factor: 1.0}",
            "high_freq_factor",
            "must be larger than low_freq_factor",
        ),
        (
            "{kind: yarn, factor: 4.0, original_max_seq_len: 8, beta_fast: 1.0, beta_slow: 32.0}",
            "beta_fast",
            "must be larger than beta_slow",
        ),
    ],
    ids=["llama3-factors", "yarn-betas"],
)
def test_rope_scaling_rules(scaling: str, field: str, message: str) -> None:
    issue = only_issue(TINY_YAML + f"position:\n  kind: rope\n  scaling: {scaling}\n")
    assert message in issue.message
    assert where(issue)[3] == f"position.scaling.{field}"


# --- missing fields ------------------------------------------------------------------------------


def test_missing_top_level_field_has_a_path_but_no_line() -> None:
    issue = only_issue(tiny_with("max_seq_len: 16\n", ""))
    assert issue.message == "missing required field 'max_seq_len'"
    assert where(issue) == ("spec.yaml", None, None, "max_seq_len")


def test_missing_nested_field_is_located_at_its_parent() -> None:
    issue = only_issue(tiny_with("  hidden_dim: 32\n", ""))
    assert issue.message == "missing required field 'hidden_dim'"
    assert where(issue) == ("spec.yaml", 8, 1, "ffn.hidden_dim")


def test_missing_field_of_a_variant() -> None:
    text = TINY_YAML + "position:\n  kind: rope\n  scaling: {kind: yarn, factor: 4.0}\n"
    issue = only_issue(text)
    assert issue.message == "missing required field 'original_max_seq_len'"
    assert where(issue) == ("spec.yaml", 13, 3, "position.scaling.original_max_seq_len")


def test_missing_part() -> None:
    issue = only_issue(
        TINY_YAML.split("attention:")[0] + "ffn: {activation: relu, hidden_dim: 8}\n"
    )
    assert where(issue) == ("spec.yaml", None, None, "attention")


# --- types are strict ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "line", "message"),
    [
        (
            tiny_with("n_heads: 4", 'n_heads: "4"'),
            "attention.n_heads",
            7,
            "a valid integer (got '4')",
        ),
        (TINY_YAML + "bias: 1\n", "bias", 11, "a valid boolean (got 1)"),
        (TINY_YAML + "bias: 'true'\n", "bias", 11, "a valid boolean (got 'true')"),
        (
            tiny_with("vocab_size: 32", "vocab_size: true"),
            "vocab_size",
            2,
            "a valid integer (got True)",
        ),
        (tiny_with("d_model: 16", "d_model: 16.0"), "d_model", 3, "a valid integer (got 16.0)"),
        (tiny_with("name: tiny", "name: 7"), "name", 1, "a valid string (got 7)"),
        (TINY_YAML + "norm: {kind: rmsnorm, eps: '1e-5'}\n", "norm.eps", 11, "a valid number"),
        (TINY_YAML + "source: {paper: 2024}\n", "source.paper", 11, "a valid string (got 2024)"),
        (TINY_YAML + "source: [a, b]\n", "source", 11, "a valid dictionary"),
        (
            tiny_with("  n_heads: 4\n", "  n_heads: [4]\n"),
            "attention.n_heads",
            7,
            "a valid integer",
        ),
    ],
    ids=[
        "int-as-string",
        "bool-as-int",
        "bool-as-string",
        "int-as-bool",
        "int-as-float",
        "string-as-int",
        "float-as-string",
        "dict-of-int",
        "dict-as-list",
        "int-as-list",
    ],
)
def test_wrong_types_are_errors_not_coerced(text: str, path: str, line: int, message: str) -> None:
    issue = only_issue(text)
    assert issue.dotted_path == path and issue.line == line
    assert message in issue.message


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (tiny_with("n_heads: 4", "n_heads: 0"), "attention.n_heads", "greater than 0 (got 0)"),
        (
            tiny_with("n_heads: 4", "n_heads: 4\n  sliding_window: 0"),
            "attention.sliding_window",
            "greater than 0",
        ),
        (
            tiny_with("n_heads: 4", "n_heads: 4\n  sliding_window: -8"),
            "attention.sliding_window",
            "(got -8)",
        ),
        (
            TINY_YAML + "position: {kind: rope, fraction: 1.5}\n",
            "position.fraction",
            "less than or equal to 1",
        ),
        (TINY_YAML + "norm: {kind: layernorm, eps: 0.0}\n", "norm.eps", "greater than 0"),
        (tiny_with("name: tiny", "name: ''"), "name", "at least 1 character"),
        (
            TINY_YAML + "layer_overrides: [{layers: [-1], ffn: {hidden_dim: 8}}]\n",
            "layer_overrides.0.layers.0",
            "greater than or equal to 0",
        ),
    ],
    ids=[
        "zero-heads",
        "zero-window",
        "negative-window",
        "fraction",
        "eps",
        "empty-name",
        "negative-layer",
    ],
)
def test_out_of_range_values(text: str, path: str, message: str) -> None:
    issue = only_issue(text)
    assert issue.dotted_path == path and issue.line is not None
    assert message in issue.message


# --- cross-field rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "line", "column", "message"),
    [
        (
            tiny_with("n_heads: 4", "n_heads: 3"),
            "attention.n_heads",
            7,
            3,
            "d_model (16) is not divisible by attention.n_heads (3); set attention.head_dim",
        ),
        (
            tiny_with("n_heads: 4", "n_heads: 4\n  n_kv_heads: 3"),
            "attention.n_kv_heads",
            8,
            3,
            "n_heads (4) is not divisible by n_kv_heads (3)",
        ),
        (
            tiny_with("n_heads: 4", "n_heads: 4\n  n_kv_heads: 8"),
            "attention.n_kv_heads",
            8,
            3,
            "n_kv_heads (8) is larger than n_heads (4)",
        ),
        (
            TINY_YAML + "position:\n  kind: rope\n  fraction: 0.3\n",
            "position.fraction",
            13,
            3,
            "the rotary dimension int(head size 4 * position.fraction 0.3) = 1 "
            "must be even and at least 2",
        ),
        (
            tiny_with("n_heads: 4", "n_heads: 4\n  head_dim: 5"),
            "attention.head_dim",
            8,
            3,
            "with rotary positions the head size (attention.head_dim = 5) must be even "
            "and at least 2",
        ),
        (
            tiny_with(
                "hidden_dim: 32", "hidden_dim: 32\n  moe: {n_experts: 2, experts_per_token: 3}"
            ),
            "ffn.moe.experts_per_token",
            11,
            23,
            "experts_per_token (3) is larger than n_experts (2)",
        ),
        (
            TINY_YAML + "padded_vocab_size: 31\n",
            "padded_vocab_size",
            11,
            1,
            "padded_vocab_size (31) is smaller than vocab_size (32)",
        ),
        (
            TINY_YAML + "block:\n  placement: sandwich\n  parallel_residual: true\n",
            "block.placement",
            12,
            3,
            "parallel_residual needs placement 'pre', got 'sandwich'",
        ),
        (
            TINY_YAML + "block:\n  shared_norm: false\n",
            "block.shared_norm",
            12,
            3,
            "shared_norm only applies with parallel_residual: true",
        ),
        (
            TINY_YAML + "norm:\n  kind: layernorm\n  affine: false\n  bias: true\n",
            "norm.bias",
            14,
            3,
            "a LayerNorm bias needs affine: true",
        ),
    ],
    ids=[
        "heads-divide-width",
        "kv-divides-heads",
        "kv-above-heads",
        "odd-rotary-fraction",
        "odd-rotary-head-dim",
        "top-k-above-experts",
        "padded-vocab",
        "parallel-not-pre",
        "shared-norm-not-parallel",
        "layernorm-bias-no-affine",
    ],
)
def test_cross_field_rule(
    text: str, path: str, line: int | None, column: int | None, message: str
) -> None:
    issue = only_issue(text)
    assert issue.message == message
    assert where(issue) == ("spec.yaml", line, column, path)


def test_valid_neighbours_of_the_cross_field_rules_load() -> None:
    assert spec_from_text(tiny_with("n_heads: 4", "n_heads: 3\n  head_dim: 8")).d_model == 16
    assert spec_from_text(TINY_YAML + "position: {kind: rope, fraction: 0.5}\n")  # int(4 * 0.5) = 2
    assert spec_from_text(TINY_YAML + "position: {kind: alibi}\n" + "padded_vocab_size: 32\n")
    kv = spec_from_text(tiny_with("n_heads: 4", "n_heads: 4\n  n_kv_heads: 4\n  head_dim: 6"))
    assert kv.attention.n_kv_heads == 4


def test_indivisible_width_reports_no_knock_on_rotary_error() -> None:
    # d_model 16 / 3 heads: the head size is undefined, so the rotary rule says nothing.
    assert only_issue(tiny_with("n_heads: 4", "n_heads: 3")).dotted_path == "attention.n_heads"


def test_qk_norm_layernorm_bias_without_affine() -> None:
    text = tiny_with(
        "n_heads: 4",
        "n_heads: 4\n  qk_norm:\n    norm: {kind: layernorm, affine: false, bias: true}",
    )
    assert where(only_issue(text)) == ("spec.yaml", 9, 44, "attention.qk_norm.norm.bias")


# --- layer_overrides -----------------------------------------------------------------------------

OVERRIDES = TINY_YAML + "layer_overrides:\n"  # the first rule starts on line 12


@pytest.mark.parametrize(
    ("rule", "path", "line", "column", "message"),
    [
        (
            "  - layers: [1, 2]\n    ffn: {hidden_dim: 8}\n",
            "layer_overrides.0.layers",
            12,
            5,
            "layer 2 does not exist (n_layers is 2)",
        ),
        (
            "  - attention: {sliding_window: 4}\n",
            "layer_overrides.0",
            12,
            5,
            "a layer rule needs `layers` or `every`",
        ),
        (
            "  - every: 2\n    offset: 2\n    ffn: {hidden_dim: 8}\n",
            "layer_overrides.0.offset",
            13,
            5,
            "offset (2) must be smaller than every (2)",
        ),
        (
            "  - layers: [0]\n",
            "layer_overrides.0",
            12,
            5,
            "a layer rule must override `attention`, `ffn`, `position` or `mixer`",
        ),
        (
            "  - layers: [0]\n    ffn: {hidden_dim: 8}\n  - every: 1\n    attention: {}\n",
            "layer_overrides.1",
            14,
            5,
            "a layer rule must override `attention`, `ffn`, `position` or `mixer`",
        ),
    ],
    ids=[
        "index-out-of-range",
        "no-selector",
        "offset-not-below-every",
        "nothing-overridden",
        "second-rule",
    ],
)
def test_bad_layer_rule(rule: str, path: str, line: int, column: int, message: str) -> None:
    issue = only_issue(OVERRIDES + rule)
    assert issue.message == message
    assert where(issue) == ("spec.yaml", line, column, path)


def test_override_with_an_unknown_key_suggests_the_field() -> None:
    issue = only_issue(OVERRIDES + "  - layers: [1]\n    attention: {sliding_windw: 4}\n")
    assert (issue.message, issue.suggestion) == ("unknown key 'sliding_windw'", "sliding_window")
    assert issue.allowed == ATTENTION_FIELDS
    assert where(issue) == ("spec.yaml", 13, 17, "layer_overrides.0.attention.sliding_windw")


def test_override_with_an_invalid_value() -> None:
    issue = only_issue(OVERRIDES + "  - every: 2\n    ffn:\n      hidden_dim: 0\n")
    assert issue.message == "Input should be greater than 0 (got 0)"
    assert where(issue) == ("spec.yaml", 14, 7, "layer_overrides.0.ffn.hidden_dim")


def test_override_with_a_bad_literal_and_a_bad_kind() -> None:
    rules = (
        "  - layers: [0]\n    ffn: {activation: gelu_tahn}\n"
        "  - layers: [1]\n    attention: {qk_norm: {norm: {kind: rmsnrm}}}\n"
    )
    literal, kind = issues_of(OVERRIDES + rules)
    assert (literal.suggestion, literal.dotted_path) == (
        "gelu_tanh",
        "layer_overrides.0.ffn.activation",
    )
    assert kind.message == "unknown kind 'rmsnrm'" and kind.suggestion == "rmsnorm"
    assert where(kind) == ("spec.yaml", 15, 34, "layer_overrides.1.attention.qk_norm.norm.kind")


def test_override_breaking_a_cross_field_rule_is_blamed_on_the_override() -> None:
    issue = only_issue(OVERRIDES + "  - layers: [1]\n    attention: {n_kv_heads: 3}\n")
    assert issue.message == "n_heads (4) is not divisible by n_kv_heads (3)"
    assert where(issue) == ("spec.yaml", 13, 17, "layer_overrides.0.attention.n_kv_heads")


def test_override_of_another_field_is_blamed_at_its_part() -> None:
    # The override's head_dim: 6 makes the rotary dimension odd (int(6 * 0.5) = 3) on layer 0:
    # the rule is blamed at its `attention`, as it does not write `position.fraction` itself.
    text = OVERRIDES.replace("attention:", "position: {kind: rope, fraction: 0.5}\nattention:")
    rotary, _ = issues_of(text + "  - every: 2\n    attention: {head_dim: 6}\n")
    assert rotary.message.endswith(
        "int(head size 6 * position.fraction 0.5) = 3 must be even and at least 2"
    )
    assert where(rotary) == ("spec.yaml", 14, 5, "layer_overrides.0.attention")


@pytest.mark.parametrize(
    ("override", "path", "column"),
    [
        ("{head_dim: 8}", "layer_overrides.0.attention.head_dim", 17),
        ("{n_heads: 2, n_kv_heads: 2}", "layer_overrides.0.attention", 5),
    ],
    ids=["head_dim", "n_heads"],
)
def test_rotary_layers_must_share_a_head_size(override: str, path: str, column: int) -> None:
    """One set of rotary tables serves every layer: a rule that changes a layer's head size
    (directly, or through n_heads) is an error at the rule, not a shape error at run time."""
    issue = only_issue(OVERRIDES + f"  - layers: [1]\n    attention: {override}\n")
    assert issue.message.startswith("with rotary positions every layer needs the same head size")
    assert issue.message.endswith("layer 0 has 4, layer 1 has 8")
    assert where(issue) == ("spec.yaml", 13, column, path)


def test_base_problem_is_reported_at_the_base_even_on_overridden_layers() -> None:
    text = tiny_with("n_heads: 4", "n_heads: 4\n  n_kv_heads: 3") + "layer_overrides:\n"
    issue = only_issue(text + "  - every: 1\n    attention: {sliding_window: 4}\n")
    assert where(issue) == ("spec.yaml", 8, 3, "attention.n_kv_heads")


def test_later_rule_wins_and_is_blamed() -> None:
    rules = (
        "  - every: 1\n    ffn: {moe: {n_experts: 4, experts_per_token: 2}}\n"
        "  - layers: [1]\n    ffn: {moe: {n_experts: 1}}\n"
    )
    issue = only_issue(OVERRIDES + rules)
    assert issue.message == "experts_per_token (2) is larger than n_experts (1)"
    assert issue.dotted_path == "layer_overrides.1.ffn.moe" and issue.line == 15


def test_rule_may_build_on_an_earlier_rule() -> None:
    rules = (
        "  - every: 1\n    ffn: {moe: {n_experts: 4, experts_per_token: 2}}\n"
        "  - layers: [1]\n    ffn: {moe: {experts_per_token: 1}}\n"  # invalid on its own
    )
    spec = spec_from_text(OVERRIDES + rules)
    assert spec.layer_overrides[1].ffn == {"moe": {"experts_per_token": 1}}


def test_rules_invalid_together_are_blamed_on_the_rule_writing_the_field() -> None:
    base = tiny_with("n_heads: 4", "n_heads: 4\n  qk_norm: {norm: {kind: rmsnorm}}")
    rules = (
        "  - layers: [0]\n    attention: {qk_norm: {norm: {kind: layernorm}}}\n"
        "  - layers: [0, 1]\n    attention: {qk_norm: {norm: {unit_offset: true}}}\n"
    )
    issue = only_issue(base + "layer_overrides:\n" + rules)  # fine alone, not on layer 0
    assert issue.message == "unknown key 'unit_offset'"
    assert issue.allowed == ("kind", "eps", "affine", "bias", "compute_dtype")
    assert where(issue) == (
        "spec.yaml",
        16,
        34,
        "layer_overrides.1.attention.qk_norm.norm.unit_offset",
    )


def test_typo_in_an_earlier_rule_is_blamed_on_that_rule() -> None:
    rules = (
        "  - every: 1\n    attention: {sliding_windw: 4}\n"
        "  - layers: [1]\n    attention: {sliding_window: 8}\n"
    )
    (issue,) = issues_of(OVERRIDES + rules)
    assert where(issue) == ("spec.yaml", 13, 17, "layer_overrides.0.attention.sliding_windw")


def test_rule_selecting_no_layer_is_still_checked() -> None:
    issue = only_issue(OVERRIDES + "  - every: 4\n    offset: 3\n    ffn: {hidden_dim: -1}\n")
    assert where(issue) == ("spec.yaml", 14, 11, "layer_overrides.0.ffn.hidden_dim")


def test_overridden_qk_norm_follows_the_layernorm_rule() -> None:
    rule = "  - layers: [1]\n    attention:\n      qk_norm: {norm: {kind: layernorm, affine: false, bias: true}}\n"
    issue = only_issue(OVERRIDES + rule)
    assert issue.message == "a LayerNorm bias needs affine: true"
    assert where(issue) == ("spec.yaml", 14, 7, "layer_overrides.0.attention.qk_norm")


# --- several problems at once --------------------------------------------------------------------


def test_every_problem_is_reported_together() -> None:
    text = (
        "name: tiny\n"
        "vocab_size: 32\n"
        "d_modle: 16\n"  # unknown, and d_model is missing
        "n_layers: 2\n"
        "max_seq_len: '16'\n"  # a string
        "bias: 1\n"  # an integer
        "attention:\n"
        "  n_heads: 4\n"
        "ffn:\n"
        "  activation: swigul\n"  # not an activation
        "  hidden_dim: 32\n"
        "norm: {kind: rms}\n"  # not a norm
    )
    found = {where(i) for i in issues_of(text)}
    assert found == {
        ("spec.yaml", 3, 1, "d_modle"),
        ("spec.yaml", None, None, "d_model"),
        ("spec.yaml", 5, 1, "max_seq_len"),
        ("spec.yaml", 6, 1, "bias"),
        ("spec.yaml", 10, 3, "ffn.activation"),
        ("spec.yaml", 12, 8, "norm.kind"),
    }


def test_cross_field_problems_are_reported_together() -> None:
    text = tiny_with("n_heads: 4", "n_heads: 4\n  n_kv_heads: 3") + (
        "padded_vocab_size: 8\nblock: {placement: post, parallel_residual: true}\n"
    )
    found = [i.dotted_path for i in issues_of(text)]
    assert sorted(found) == ["attention.n_kv_heads", "block.placement", "padded_vocab_size"]


def test_duplicate_keys_are_reported_together() -> None:
    found = issues_of(TINY_YAML + "name: a\nd_model: 8\n")
    assert [(i.line, i.dotted_path) for i in found] == [(11, "name"), (12, "d_model")]


def test_spec_error_renders_every_issue() -> None:
    with pytest.raises(SpecError) as info:
        spec_from_text(TINY_YAML + "bias: 1\ndtype: fp8\n", "m.yaml")
    assert str(info.value) == (  # in schema order: dtype is declared before bias
        "2 problems in spec:\n"
        "  m.yaml:12:1: dtype: 'fp8' is not one of the allowed values "
        "[allowed: float32, bfloat16, float16]\n"
        "  m.yaml:11:1: bias: Input should be a valid boolean (got 1)"
    )


def test_issue_rendering() -> None:
    issue = Issue("bad", ("a", 0, "b"), "f.yaml", 3, 5, ("x", "y"), "x")
    assert str(issue) == "f.yaml:3:5: a.0.b: bad (did you mean 'x'?) [allowed: x, y]"
    assert str(Issue("empty")) == "<spec>: <root>: empty"
    assert Issue("m", (), "f.yaml", 2).location == "f.yaml:2"
