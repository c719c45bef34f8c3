"""The shared strategies: valid specs, every schema feature reached, failures printed as YAML."""

from __future__ import annotations

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from archspec.spec import resolve
from archspec.spec.model import ModelSpec
from tests.strategies import (
    ACTIVATIONS,
    PLACEMENTS,
    POSITIONS,
    ROPE_SCALINGS,
    TINY,
    spec_dicts,
    specs,
    tiny_spec,
)


def features(spec: ModelSpec) -> set[str]:
    """Names of the schema features a spec uses."""
    att, ffn, block, head = spec.attention, spec.ffn, spec.block, spec.head
    kv = resolve.n_kv_heads(att)
    found = {
        f"norm:{spec.norm.kind}",
        f"compute_dtype:{spec.norm.compute_dtype}",
        f"placement:{block.placement}",
        f"activation:{ffn.activation}",
        f"position:{spec.position.kind}",
        f"dtype:{spec.dtype}",
        "attention:mha" if kv == att.n_heads else "attention:mqa" if kv == 1 else "attention:gqa",
    }
    norms = [spec.norm] + ([att.qk_norm.norm] if att.qk_norm else [])
    for norm in norms:
        if norm.kind == "layernorm":
            found.add(f"layernorm:affine={norm.affine},bias={norm.bias}")
        elif norm.unit_offset:
            found.add("rmsnorm:unit_offset")
    if block.parallel_residual:
        found.add(f"parallel:shared={resolve.shared_norm(spec)}")
    if ffn.moe:
        found.add(f"moe:top{ffn.moe.experts_per_token}")
        found.update({"moe:router_bias"} if ffn.moe.router_bias else set())
        found.update({"moe:unnormalized"} if not ffn.moe.normalize_top_k else set())
    if att.head_dim is not None and att.head_dim * att.n_heads != spec.d_model:
        found.add("head_dim:independent")
    for name in ("q_bias", "k_bias", "v_bias", "o_bias", "scale", "sliding_window"):
        if getattr(att, name) is not None:
            found.add(f"attention:{name}")
    for name in ("logit_softcap", "qkv_clip"):
        if getattr(att, name) is not None:
            found.add(f"attention:{name}")
    if att.qk_norm:
        found.add(f"qk_norm:{att.qk_norm.scope}")
    if spec.position.kind == "rope":
        pos = spec.position
        found.add(f"rope:layout={pos.layout}")
        found.update({"rope:partial"} if pos.fraction < 1 else set())
        found.update({f"rope:scaling={pos.scaling.kind}"} if pos.scaling else set())
    if spec.bias:
        found.add("bias:global")
    if ffn.bias is not None:
        found.add("ffn:bias_override")
    if spec.padded_vocab_size and spec.padded_vocab_size > spec.vocab_size:
        found.add("vocab:padded")
    if head.tie_embeddings:
        found.add("head:tied")
    if head.bias:
        found.add("head:bias")
    if head.logit_softcap:
        found.add("head:logit_softcap")
    if not head.final_norm:
        found.add("head:no_final_norm")
    if spec.embedding.scale_by_sqrt_d_model:
        found.add("embedding:scaled")
    found.update({"embedding:multiplier"} if spec.embedding.multiplier else set())
    found.update({"embedding:norm"} if spec.embedding.norm else set())
    found.update({"block:residual_multiplier"} if block.residual_multiplier else set())
    found.update({"head:logit_scale"} if head.logit_scale else set())
    for rule in spec.layer_overrides:
        found.update({"override:layers"} if rule.layers is not None else set())
        found.update({"override:every"} if rule.every is not None else set())
        found.update({"override:offset"} if rule.offset else set())
        found.update({f"override:attention.{k}" for k in rule.attention})
        found.update({f"override:ffn.{k}" for k in rule.ffn})
        found.update({f"override:position.{k}" for k in rule.position if k != "kind"})
        if rule.position.get("kind") == "none":
            found.add("override:position.nope")
    found.add(f"n_layers:{spec.n_layers}")
    return found


EVERY_FEATURE = (
    {f"norm:{k}" for k in ("layernorm", "rmsnorm")}
    | {"compute_dtype:float32", "compute_dtype:input", "rmsnorm:unit_offset"}
    | {f"layernorm:affine={a},bias={b}" for a, b in ((True, True), (True, False), (False, False))}
    | {f"placement:{p}" for p in PLACEMENTS}
    | {"parallel:shared=True", "parallel:shared=False"}
    | {f"activation:{a}" for a in ACTIVATIONS}
    | {"moe:top1", "moe:top2", "moe:router_bias", "moe:unnormalized"}
    | {"attention:mha", "attention:mqa", "attention:gqa", "head_dim:independent"}
    | {f"attention:{n}" for n in ("q_bias", "k_bias", "v_bias", "o_bias", "scale")}
    | {f"attention:{n}" for n in ("sliding_window", "logit_softcap", "qkv_clip")}
    | {"qk_norm:head", "qk_norm:projection"}
    | {f"position:{p}" for p in POSITIONS}
    | {"rope:layout=half_split", "rope:layout=interleaved", "rope:partial"}
    | {f"rope:scaling={k}" for k in ROPE_SCALINGS}
    | {f"dtype:{d}" for d in ("float32", "bfloat16", "float16")}
    | {"bias:global", "ffn:bias_override", "vocab:padded", "embedding:scaled"}
    | {"head:tied", "head:bias", "head:logit_softcap", "head:no_final_norm"}
    | {"override:layers", "override:every", "override:offset"}
    | {"override:attention.sliding_window", "override:ffn.hidden_dim"}
    | {"override:position.nope", "override:position.theta", "override:position.scaling"}
    | {"embedding:multiplier", "embedding:norm", "block:residual_multiplier", "head:logit_scale"}
    | {"n_layers:1", "n_layers:2", "n_layers:3"}
)


def test_strategy_reaches_every_feature() -> None:
    """Every feature shows up: most in one sweep, the rarest found by a search of their own.

    (Hypothesis does not draw examples independently, so a rare feature can be absent from one
    sweep; the search tells "rare" from "unreachable".)
    """
    seen: set[str] = set()
    sweep = settings(max_examples=150, database=None, phases=[Phase.generate])

    @sweep
    @given(specs())
    def collect(spec: ModelSpec) -> None:
        seen.update(features(spec))

    collect()
    for feature in sorted(EVERY_FEATURE - seen):
        find(
            specs(),
            lambda s, f=feature: f in features(s),
            settings=settings(sweep, max_examples=3000),
        )


@given(specs())
def test_generated_specs_are_tiny(spec: ModelSpec) -> None:
    assert 16 <= spec.d_model <= 64 and 1 <= spec.n_layers <= 3
    assert 16 <= spec.vocab_size <= 128 and 8 <= spec.max_seq_len <= 64
    assert spec.attention.head_dim is None or 4 <= spec.attention.head_dim <= 16


@given(spec_dicts(max_layers=1))
def test_spec_dicts_validate_and_respect_max_layers(data: dict) -> None:
    assert ModelSpec.model_validate(data).n_layers == 1


def test_failing_example_is_printed_as_yaml() -> None:
    @settings(max_examples=5, database=None, phases=[Phase.generate, Phase.shrink])
    @given(specs())
    def always_fails(spec: ModelSpec) -> None:
        raise AssertionError("boom")

    with pytest.raises(AssertionError) as info:
        always_fails()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "spec (YAML):\nname: tiny" in notes
    assert "\nvocab_size: " in notes and "\nlayer_overrides: " in notes


def test_tiny_spec_merges_changes() -> None:
    spec = tiny_spec(attention={"n_kv_heads": 2}, n_layers=1)
    assert (spec.attention.n_heads, spec.attention.n_kv_heads, spec.n_layers) == (4, 2, 1)
    assert TINY["attention"] == {"n_heads": 4}  # not mutated


@given(st.data())
def test_specs_can_be_drawn_interactively(data: st.DataObject) -> None:
    spec = data.draw(specs(max_layers=2))
    assert spec.n_layers <= 2
