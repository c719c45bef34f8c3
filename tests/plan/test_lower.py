"""lower(spec) -> ModelPlan: every choice resolved once, as frozen torch-free data both backends read."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given

from archspec import load_spec
from archspec.analysis.params import count_params, recurrent_params
from archspec.plan.lower import alibi_slopes, lower, norm_plan
from archspec.plan.types import ModelPlan, RecurrentPlan
from archspec.spec import resolve
from archspec.spec.model import LayerNormSpec, ModelSpec, RMSNormSpec
from archspec.spec.shipped import shipped_names
from tests.nn.helpers import budget
from tests.strategies import specs, tiny_spec


def check_plan(spec: ModelSpec, plan: ModelPlan) -> None:
    """What must hold between any spec and its plan."""
    counts = count_params(spec)
    assert (plan.n_params, plan.n_params_untied) == (counts.total, counts.total_untied)
    assert plan.vocab_rows == resolve.vocab_rows(spec) >= plan.vocab_size
    assert [layer.index for layer in plan.layers] == list(range(spec.n_layers))
    assert len(set(plan.windows)) == len(plan.windows)
    for layer, resolved in zip(plan.layers, resolve.layer_specs(spec), strict=True):
        att, ffn = layer.mixer, layer.ffn
        assert plan.windows[layer.mask] == resolved.attention.sliding_window
        assert att.d_model == ffn.d_model == spec.d_model
        assert ffn.hidden_dim == resolved.ffn.hidden_dim
        if isinstance(att, RecurrentPlan):
            assert resolved.mixer == "recurrent" and att.width == spec.recurrent.width
            assert att.n_params == recurrent_params(spec)
            continue
        assert att.n_heads % att.n_kv_heads == 0 and att.n_rep == att.n_heads // att.n_kv_heads
        assert att.head_dim == resolve.head_dim(resolved.attention, spec.d_model)
        assert ffn.hidden_dim == resolved.ffn.hidden_dim
        expected_class = (
            "SoftcappedAttention"
            if att.softcap is not None
            else "MultiHeadAttention"
            if att.n_kv_heads == att.n_heads
            else "MultiQueryAttention"
            if att.n_kv_heads == 1
            else "GroupedQueryAttention"
        )
        assert att.class_name == expected_class
        assert att.rope == (resolved.position.kind == "rope") == (layer.rope is not None)
        if layer.rope is not None:
            assert plan.ropes[layer.rope].theta == resolved.position.theta
        assert ffn.moe == (spec.ffn.moe is not None)
        assert ffn.class_name.startswith("MoE") == ffn.moe
        assert ffn.gated == resolve.is_gated(spec.ffn)
        if att.qk_norm is not None:
            q, k = att.qk_norm.q.width, att.qk_norm.k.width
            if att.qk_norm.per_head:
                assert q == k == att.head_dim
            else:
                assert (q, k) == (att.n_heads * att.head_dim, att.n_kv_heads * att.head_dim)
        for norm in (layer.attn_norm, layer.attn_post_norm, layer.ffn_norm, layer.ffn_post_norm):
            assert norm is None or norm.width == spec.d_model
    assert len(set(plan.ropes)) == len(plan.ropes)
    assert {layer.rope for layer in plan.layers if layer.rope is not None} == set(
        range(len(plan.ropes))
    )
    for rope in plan.ropes:
        assert rope.rotary_dim % 2 == 0 and 2 <= rope.rotary_dim <= rope.head_dim
        assert rope.partial == (rope.rotary_dim < rope.head_dim)
        if rope.scaling == "longrope":
            assert len(rope.short_factor) == len(rope.long_factor) == rope.rotary_dim // 2
    assert (plan.alibi_slopes is not None) == (spec.position.kind == "alibi")
    if plan.alibi_slopes is not None:
        assert len(plan.alibi_slopes) == spec.attention.n_heads
    assert (plan.final_norm is not None) == spec.head.final_norm
    assert (plan.embed_scale is not None) == spec.embedding.scale_by_sqrt_d_model


@budget(60)
@given(specs())
def test_any_plan_agrees_with_its_spec(spec: ModelSpec) -> None:
    plan = lower(spec)
    check_plan(spec, plan)
    assert lower(spec) == plan  # deterministic
    hash(plan)  # frozen all the way down


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_plans(name: str) -> None:
    spec = load_spec(name)
    check_plan(spec, lower(spec))


def test_plan_is_frozen() -> None:
    plan = lower(tiny_spec())
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.d_model = 32  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.layers[0].mixer.n_heads = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("block", "wiring", "present"),
    [
        ({"placement": "pre"}, "sequential", ("attn_norm", "ffn_norm")),
        ({"placement": "post"}, "post", ("attn_norm", "ffn_norm")),
        ({"placement": "branch_post"}, "sequential", ("attn_post_norm", "ffn_post_norm")),
        (
            {"placement": "sandwich"},
            "sequential",
            ("attn_norm", "attn_post_norm", "ffn_norm", "ffn_post_norm"),
        ),
        ({"parallel_residual": True}, "parallel", ("attn_norm",)),
        ({"parallel_residual": True, "shared_norm": False}, "parallel", ("attn_norm", "ffn_norm")),
    ],
    ids=["pre", "post", "branch_post", "sandwich", "parallel-shared", "parallel-separate"],
)
def test_placement_decides_wiring_and_norms(
    block: dict[str, object], wiring: str, present: tuple[str, ...]
) -> None:
    layer = lower(tiny_spec(block=block)).layers[0]
    assert layer.wiring == wiring
    norms = ("attn_norm", "attn_post_norm", "ffn_norm", "ffn_post_norm")
    assert tuple(n for n in norms if getattr(layer, n) is not None) == present


@pytest.mark.parametrize(
    ("norm", "class_name", "weight", "bias"),
    [
        (RMSNormSpec(), "RMSNorm", True, False),
        (RMSNormSpec(unit_offset=True), "GemmaRMSNorm", True, False),
        (LayerNormSpec(), "LayerNorm", True, True),
        (LayerNormSpec(bias=False), "LayerNormNoBias", True, False),
        (LayerNormSpec(affine=False), "NonParametricLayerNorm", False, False),
    ],
    ids=["rms", "gemma", "layernorm", "no-bias", "parameter-free"],
)
def test_norms_are_named_for_what_they_are(
    norm: LayerNormSpec | RMSNormSpec, class_name: str, weight: bool, bias: bool
) -> None:
    plan = norm_plan(norm, 8)
    assert (plan.class_name, plan.weight, plan.bias, plan.width) == (class_name, weight, bias, 8)
    assert plan.upcast is True
    assert norm_plan(norm.model_copy(update={"compute_dtype": "input"}), 8).upcast is False


def test_biases_follow_the_global_default_unless_overridden() -> None:
    att = lower(tiny_spec(bias=True, attention={"o_bias": False}, ffn={"bias": False})).layers[0]
    assert (att.mixer.q_bias, att.mixer.k_bias, att.mixer.v_bias) == (True,) * 3
    assert att.mixer.o_bias is False and att.ffn.bias is False


def test_attention_scale_defaults_to_inverse_sqrt_head_dim() -> None:
    assert lower(tiny_spec()).layers[0].mixer.scale == 4**-0.5
    assert lower(tiny_spec(attention={"scale": 0.5})).layers[0].mixer.scale == 0.5


def test_layer_overrides_give_per_layer_windows_and_widths() -> None:
    spec = tiny_spec(
        n_layers=4,
        attention={"sliding_window": 4},
        layer_overrides=[
            {"every": 2, "offset": 1, "attention": {"sliding_window": None}},
            {"layers": [3], "ffn": {"hidden_dim": 8}},
        ],
    )
    plan = lower(spec)
    assert plan.windows == (4, None)
    assert [layer.mask for layer in plan.layers] == [0, 1, 0, 1]
    assert [layer.ffn.hidden_dim for layer in plan.layers] == [32, 32, 32, 8]
    assert not plan.uniform_layers
    assert lower(tiny_spec()).uniform_layers


def test_rope_plans() -> None:
    phi2 = lower(load_spec("phi-2")).rope
    assert (phi2.head_dim, phi2.rotary_dim, phi2.partial) == (80, 32, True)
    ntk = lower(tiny_spec(position={"scaling": {"kind": "ntk", "factor": 4.0}})).rope
    assert ntk.base == pytest.approx(10000.0 * 4.0 ** (4 / 2))  # head_dim 4: d / (d - 2) = 2
    yarn = {"kind": "yarn", "factor": 4.0, "original_max_seq_len": 8}
    assert lower(tiny_spec(position={"scaling": yarn})).rope.attention_factor == pytest.approx(
        0.1 * math.log(4.0) + 1.0
    )
    explicit = lower(tiny_spec(position={"scaling": {**yarn, "attention_factor": 1.5}})).rope
    assert explicit.attention_factor == 1.5
    llama3 = lower(tiny_spec(position={"scaling": {"kind": "llama3", "factor": 8.0}})).rope
    assert (llama3.low_freq_factor, llama3.high_freq_factor) == (1.0, 4.0)
    assert llama3.original_max_seq_len == 8192
    assert lower(tiny_spec(position={"kind": "learned"})).rope is None


def test_ntk_scaling_with_two_rotary_dims_is_rejected() -> None:
    # NTK raises the base to d / (d - 2): two rotary dimensions would divide by zero.
    with pytest.raises(ValueError, match="NTK-aware scaling"):
        tiny_spec(position={"fraction": 0.5, "scaling": {"kind": "ntk", "factor": 2.0}})
    spec = tiny_spec(position={"scaling": {"kind": "ntk", "factor": 2.0}})
    assert math.isfinite(lower(spec).rope.base)


def test_alibi_slopes_and_embedding_scale() -> None:
    plan = lower(tiny_spec(position={"kind": "alibi"}))
    assert plan.alibi_slopes == alibi_slopes(4) == (2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8)
    gemma = lower(load_spec("gemma-7b"))
    assert gemma.embed_scale == math.sqrt(3072)
    assert gemma.final_norm is not None and gemma.final_norm.class_name == "GemmaRMSNorm"


@pytest.mark.parametrize(
    ("name", "windows", "attention", "ffn"),
    [
        ("llama2-7b", (None,), "MultiHeadAttention", "SwiGLU"),
        ("llama2-70b", (None,), "GroupedQueryAttention", "SwiGLU"),
        ("mistral-7b", (4096,), "GroupedQueryAttention", "SwiGLU"),
        ("gemma2-9b", (4096, None), "SoftcappedAttention", "GeGLUTanh"),
        ("mixtral-8x7b", (None,), "GroupedQueryAttention", "MoESwiGLU"),
        ("falcon-7b", (None,), "MultiQueryAttention", "GeluMLP"),
        ("gpt2", (None,), "MultiHeadAttention", "GeluTanhMLP"),
    ],
)
def test_shipped_architecture_choices(
    name: str, windows: tuple[int | None, ...], attention: str, ffn: str
) -> None:
    plan = lower(load_spec(name))
    assert plan.windows == windows
    assert plan.layers[0].mixer.class_name == attention
    assert plan.layers[0].ffn.class_name == ffn
    if name == "gemma2-9b":
        assert [layer.mask for layer in plan.layers[:4]] == [0, 1, 0, 1]
    if name == "mixtral-8x7b":
        assert (plan.layers[0].ffn.n_experts, plan.layers[0].ffn.experts_per_token) == (8, 2)


def test_layers_get_their_own_rope_or_none() -> None:
    """Gemma 3's global layers rotate at theta 1e6 with linear scaling 8 beside local ones at
    1e4; a NoPE layer (SmolLM3) does not rotate. One table per distinct configuration."""
    spec = tiny_spec(
        n_layers=4,
        position={"theta": 10000.0},
        layer_overrides=[
            {
                "every": 2,
                "offset": 1,
                "position": {"theta": 1e6, "scaling": {"kind": "linear", "factor": 8.0}},
            },
            {"layers": [2], "position": {"kind": "none"}},
        ],
    )
    plan = lower(spec)
    assert [r.theta for r in plan.ropes] == [10000.0, 1e6]
    assert plan.ropes[1].scaling == "linear" and plan.ropes[1].factor == 8.0
    assert [layer.rope for layer in plan.layers] == [0, 1, None, 1]
    assert [layer.mixer.rope for layer in plan.layers] == [True, True, False, True]
    assert resolve.resolved_dict(spec)["derived"]["position_per_layer"] == [
        "rope theta=10000",
        "rope theta=1e+06 linear x8",
        "none",
        "rope theta=1e+06 linear x8",
    ]
    assert not plan.uniform_layers


def test_longrope_attention_factor_follows_phi3() -> None:
    scaling = {"kind": "longrope", "short_factor": [1.0, 2.0], "long_factor": [3.0, 4.0]}
    rope = lower(
        tiny_spec(
            max_seq_len=131072, position={"scaling": {**scaling, "original_max_seq_len": 4096}}
        )
    ).rope
    assert rope.attention_factor == pytest.approx(math.sqrt(1 + math.log(32) / math.log(4096)))
    assert (rope.short_factor, rope.long_factor) == ((1.0, 2.0), (3.0, 4.0))
    # No extension: no scale; an explicit factor wins.
    within = {**scaling, "original_max_seq_len": 16}
    assert lower(tiny_spec(position={"scaling": within})).rope.attention_factor == 1.0
    explicit = {**within, "attention_factor": 1.25}
    assert lower(tiny_spec(position={"scaling": explicit})).rope.attention_factor == 1.25


def test_multipliers_and_embedding_norm_reach_the_plan() -> None:
    plan = lower(
        tiny_spec(
            embedding={"multiplier": 12.0, "norm": {"kind": "layernorm"}},
            block={"residual_multiplier": 0.22},
            head={"logit_scale": 0.125},
        )
    )
    assert plan.embed_multiplier == 12.0 and plan.logit_scale == 0.125
    assert plan.embed_norm is not None and plan.embed_norm.class_name == "LayerNorm"
    assert {layer.residual_scale for layer in plan.layers} == {0.22}
    assert count_params(tiny_spec(embedding={"norm": {"kind": "layernorm"}})).breakdown["norm"] == (
        count_params(tiny_spec()).breakdown["norm"] + 2 * 16
    )
