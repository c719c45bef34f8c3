"""Each runtime component against the formula it implements, on hand-sized inputs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archspec.nn.attention import (
    Attention,
    Clamp,
    Mask,
    SoftcappedAttention,
    additive_mask,
    build_attention,
    causal_allowed,
)
from archspec.nn.cache import KVCache
from archspec.nn.ffn import MLP, GatedMLP, build_ffn
from archspec.nn.generate import next_token
from archspec.nn.grouped import autocast_grouped_linear, grouped_linear
from archspec.nn.model import AlibiMasks, CausalMasks
from archspec.nn.moe import MixtureOfExperts
from archspec.nn.norm import GemmaRMSNorm, LayerNorm, RMSNorm, build_norm
from archspec.nn.position import (
    LearnedPositions,
    Rotary,
    apply_partial_rotary,
    apply_rotary,
    rope_inv_freq,
    swap_halves,
    swap_pairs,
)
from archspec.plan.lower import alibi_slopes, lower, yarn_ramp
from archspec.plan.types import FfnPlan, NormPlan, RopePlan
from tests.nn.helpers import randomize_
from tests.strategies import tiny_spec


def norm(kind: str = "rmsnorm", **changes: object) -> NormPlan:
    fields = {
        "kind": kind,
        "width": 8,
        "eps": 1e-6,
        "weight": True,
        "bias": kind == "layernorm",
        "unit_offset": False,
        "upcast": True,
        "class_name": "Norm",
    }
    return NormPlan(**{**fields, **changes})  # type: ignore[arg-type]


def rope(**changes: object) -> RopePlan:
    fields = {
        "head_dim": 8,
        "rotary_dim": 8,
        "theta": 10000.0,
        "interleaved": False,
        "scaling": "none",
        "factor": 1.0,
        "original_max_seq_len": 0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 1.0,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "attention_factor": 1.0,
    }
    fields = {**fields, **changes}
    if fields["scaling"] == "yarn":
        fields["yarn_low"], fields["yarn_high"] = yarn_ramp(
            fields["rotary_dim"],
            fields["theta"],
            fields["original_max_seq_len"],
            fields["beta_fast"],
            fields["beta_slow"],
        )
    return RopePlan(**fields)  # type: ignore[arg-type]


def ffn_plan(activation: str = "silu", gated: bool = True, **changes: object) -> FfnPlan:
    fields = {
        "d_model": 8,
        "hidden_dim": 12,
        "activation": activation,
        "gated": gated,
        "bias": False,
        "class_name": "FFN",
    }
    return FfnPlan(**{**fields, **changes})  # type: ignore[arg-type]


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


# --- norms -----------------------------------------------------------------------------------


def test_rmsnorm_divides_by_the_root_mean_square() -> None:
    module = randomize_(build_norm(norm()))
    x = randn(2, 3, 8)
    want = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * module.weight
    assert isinstance(module, RMSNorm) and not isinstance(module, GemmaRMSNorm)
    torch.testing.assert_close(module(x), want)


def test_gemma_rmsnorm_scales_by_one_plus_a_zero_initialised_weight() -> None:
    module = build_norm(norm(unit_offset=True))
    assert isinstance(module, GemmaRMSNorm)
    assert torch.equal(module.weight, torch.zeros(8))
    x = randn(2, 3, 8)
    normed = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
    torch.testing.assert_close(module(x), normed)
    with torch.no_grad():
        module.weight.fill_(0.5)
    torch.testing.assert_close(module(x), normed * 1.5)


@pytest.mark.parametrize(
    ("weight", "bias", "n_params"),
    [(True, True, 16), (True, False, 8), (False, False, 0)],
    ids=["affine", "no-bias", "parameter-free"],
)
def test_layernorm_variants(weight: bool, bias: bool, n_params: int) -> None:
    module = randomize_(build_norm(norm("layernorm", weight=weight, bias=bias, eps=1e-5)))
    assert isinstance(module, LayerNorm)
    assert (
        sum(p.numel() for p in module.parameters())
        == n_params
        == norm("layernorm", weight=weight, bias=bias).n_params
    )
    x = randn(2, 3, 8)
    want = F.layer_norm(x, (8,), module.weight, module.bias, 1e-5)
    torch.testing.assert_close(module(x), want)


@pytest.mark.parametrize("kind", ["rmsnorm", "layernorm"])
def test_upcast_norms_compute_in_float32_and_return_the_input_dtype(kind: str) -> None:
    x = randn(4, 8, dtype=torch.bfloat16) * 50
    upcast = randomize_(build_norm(norm(kind, upcast=True))).to(torch.bfloat16)
    native = build_norm(norm(kind, upcast=False)).to(torch.bfloat16)
    native.load_state_dict(upcast.state_dict())
    reference = build_norm(norm(kind)).float()
    reference.load_state_dict(upcast.state_dict())
    assert upcast(x).dtype == native(x).dtype == torch.bfloat16
    # Upcast: the float32 result rounded once.
    assert torch.equal(upcast(x), reference(x.float()).to(torch.bfloat16))


def test_a_missing_norm_is_an_identity() -> None:
    assert isinstance(build_norm(None), nn.Identity)


# --- rotary positions ------------------------------------------------------------------------


def test_rotation_partners_in_each_layout() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert swap_halves(x).tolist() == [3.0, 4.0, 1.0, 2.0]
    assert swap_pairs(x).tolist() == [2.0, 1.0, 4.0, 3.0]


@pytest.mark.parametrize("interleaved", [False, True], ids=["half-split", "interleaved"])
def test_signed_sin_gives_the_references_products_bit_for_bit(interleaved: bool) -> None:
    """x * cos + swap(x) * signed_sin equals HF's x * cos + rotate_half(x) * sin exactly."""
    cos, sin = Rotary(rope(interleaved=interleaved))(torch.arange(7))
    q = randn(2, 3, 7, 8)
    half = q.unflatten(-1, (-1, 2)) if interleaved else None
    if interleaved:
        rotated = torch.stack((-half[..., 1], half[..., 0]), dim=-1).flatten(-2)
        plain_sin = sin.unflatten(-1, (-1, 2))[..., 1].repeat_interleave(2, dim=-1)
    else:
        x1, x2 = q.chunk(2, dim=-1)
        rotated = torch.cat((-x2, x1), dim=-1)
        plain_sin = sin[..., 4:].repeat(1, 2)
    reference = q * cos + rotated * plain_sin
    ours = apply_rotary(q, cos, sin, swap_pairs if interleaved else swap_halves)
    assert torch.equal(ours, reference)


@pytest.mark.parametrize("interleaved", [False, True], ids=["half-split", "interleaved"])
def test_rotary_rotates_each_pair_by_position_times_frequency(interleaved: bool) -> None:
    plan = rope(interleaved=interleaved)
    rotary = Rotary(plan)
    positions = torch.arange(5)
    cos, sin = rotary(positions)
    assert cos.shape == sin.shape == (5, 8)
    q = randn(1, 2, 5, 8)
    rotated = apply_rotary(q, cos, sin, swap_pairs if interleaved else swap_halves)
    inv_freq = 10000.0 ** (-torch.arange(0, 8, 2).float() / 8)
    for i, f in enumerate(inv_freq):
        a, b = (2 * i, 2 * i + 1) if interleaved else (i, i + 4)
        angle = positions * f
        x, y = q[..., a], q[..., b]
        torch.testing.assert_close(rotated[..., a], x * angle.cos() - y * angle.sin())
        torch.testing.assert_close(rotated[..., b], y * angle.cos() + x * angle.sin())


def test_partial_rotary_passes_the_remaining_dimensions_through() -> None:
    plan = rope(head_dim=10, rotary_dim=4)
    cos, sin = Rotary(plan)(torch.arange(3))
    x = randn(1, 1, 3, 10)
    out = apply_partial_rotary(x, cos, sin, swap_halves)
    assert torch.equal(out[..., 4:], x[..., 4:])
    torch.testing.assert_close(out[..., :4], apply_rotary(x[..., :4], cos, sin, swap_halves))


def test_yarn_attention_factor_scales_the_tables() -> None:
    cos, sin = Rotary(rope(attention_factor=1.5))(torch.arange(4))
    cos1, sin1 = Rotary(rope())(torch.arange(4))
    torch.testing.assert_close(cos, 1.5 * cos1)
    torch.testing.assert_close(sin, 1.5 * sin1)


def test_rope_frequencies_for_each_scaling() -> None:
    plain = rope_inv_freq(rope())
    torch.testing.assert_close(plain, 10000.0 ** (-torch.arange(0, 8, 2).float() / 8))
    torch.testing.assert_close(rope_inv_freq(rope(scaling="linear", factor=4.0)), plain / 4)
    ntk = rope_inv_freq(rope(scaling="ntk", factor=4.0))
    torch.testing.assert_close(
        ntk, (10000.0 * 4.0 ** (8 / 6)) ** (-torch.arange(0, 8, 2).float() / 8)
    )


def test_llama3_scaling_keeps_high_and_divides_low_frequencies() -> None:
    plan = rope(
        head_dim=64,
        rotary_dim=64,
        theta=500000.0,
        scaling="llama3",
        factor=8.0,
        original_max_seq_len=8192,
        low_freq_factor=1.0,
        high_freq_factor=4.0,
    )
    plain, scaled = (
        rope_inv_freq(rope(head_dim=64, rotary_dim=64, theta=500000.0)),
        rope_inv_freq(plan),
    )
    wavelen = 2 * math.pi / plain
    high = wavelen < 8192 / 4.0
    low = wavelen > 8192 / 1.0
    assert high.any() and low.any() and (~high & ~low).any()
    torch.testing.assert_close(scaled[high], plain[high])
    torch.testing.assert_close(scaled[low], plain[low] / 8.0)
    mid = ~high & ~low  # blended: between the two
    assert ((scaled[mid] <= plain[mid]) & (scaled[mid] >= plain[mid] / 8.0)).all()


def test_yarn_scaling_keeps_high_and_interpolates_low_frequencies() -> None:
    plan = rope(head_dim=64, rotary_dim=64, scaling="yarn", factor=4.0, original_max_seq_len=4096)
    plain, scaled = rope_inv_freq(rope(head_dim=64, rotary_dim=64)), rope_inv_freq(plan)
    torch.testing.assert_close(scaled[0], plain[0])
    torch.testing.assert_close(scaled[-1], plain[-1] / 4.0)
    assert (scaled <= plain + 1e-12).all() and (scaled >= plain / 4.0 - 1e-12).all()


def test_rope_theta_must_exceed_one() -> None:
    # Frequencies theta ** (-2i / d) must decrease; YaRN's correction range divides by log(theta).
    scaling = {"kind": "yarn", "factor": 2.0, "original_max_seq_len": 8}
    with pytest.raises(ValueError, match="greater than 1"):
        tiny_spec(position={"kind": "rope", "theta": 1.0, "scaling": scaling})


def test_learned_positions_add_the_rows_of_their_positions() -> None:
    module = LearnedPositions(6, 4)
    x = randn(2, 3, 4)
    positions = torch.tensor([2, 3, 4])
    torch.testing.assert_close(module(x, positions), x + module.weight[2:5])


# --- masks -----------------------------------------------------------------------------------


def test_causal_allowed_with_and_without_a_window() -> None:
    # 2 queries at positions 2 and 3 of 4.
    assert causal_allowed(2, 4, None, torch.device("cpu")).tolist() == [
        [True, True, True, False],
        [True, True, True, True],
    ]
    assert causal_allowed(2, 4, 2, torch.device("cpu")).tolist() == [
        [False, True, True, False],
        [False, False, True, True],
    ]


def test_causal_masks_use_sdpa_flags_where_no_tensor_is_needed() -> None:
    cpu = torch.device("cpu")
    assert CausalMasks.mask(5, 5, None, cpu) == Mask(None, True)  # full prefill
    assert CausalMasks.mask(1, 5, None, cpu) == Mask(None, False)  # one decoded token
    assert CausalMasks.mask(5, 5, 5, cpu) == Mask(None, True)  # window covers everything
    chunk = CausalMasks.mask(2, 5, None, cpu)  # a chunk after a cached prefix
    assert chunk.is_causal is False and torch.equal(chunk.mask, causal_allowed(2, 5, None, cpu))
    windowed = CausalMasks.mask(1, 5, 2, cpu)  # decoding beyond the window: explicit
    assert windowed.mask.tolist() == [[False, False, False, True, True]]


def test_alibi_masks_are_minus_slope_times_distance() -> None:
    slopes = alibi_slopes(2)
    masks = AlibiMasks((None, 2), slopes)(3, 3, torch.device("cpu"), torch.float32)
    full, windowed = (m.mask[0] for m in masks)
    inf = float("-inf")
    for h, slope in enumerate(slopes):
        want = [[0.0, inf, inf], [-slope, 0.0, inf], [-2 * slope, -slope, 0.0]]
        assert full[h].tolist() == want
        want[2][0] = inf
        assert windowed[h].tolist() == want


def test_alibi_slopes_follow_the_paper() -> None:
    assert alibi_slopes(8) == tuple(2.0 ** -(i + 1) for i in range(8))
    # Not a power of two: the 4-head slopes, then every other slope of the 8-head sequence.
    assert alibi_slopes(6) == (*alibi_slopes(4), 2.0**-1, 2.0**-3)


def test_additive_mask_of_each_kind() -> None:
    like = torch.zeros(())
    causal = additive_mask(Mask(None, True), 2, 2, like)
    assert causal.tolist() == [[0.0, float("-inf")], [0.0, 0.0]]
    assert additive_mask(Mask(None, False), 1, 3, like).tolist() == [[0.0, 0.0, 0.0]]
    boolean = torch.tensor([[True, False]])
    assert additive_mask(Mask(boolean, False), 1, 2, like).tolist() == [[0.0, float("-inf")]]


# --- attention -------------------------------------------------------------------------------


def attention_plan(**attention: object):
    spec = tiny_spec(d_model=16, attention={"n_heads": 4, **attention})
    plan = lower(spec)
    return plan.layers[0].mixer, plan.rope


def test_grouped_query_attention_equals_mha_with_repeated_key_value_heads() -> None:
    gqa_plan, rope_plan = attention_plan(n_kv_heads=2)
    mha_plan, _ = attention_plan()
    gqa = randomize_(Attention(gqa_plan, rope_plan, 0))
    mha = Attention(mha_plan, rope_plan, 0)
    with torch.no_grad():
        for name in ("q_proj", "o_proj"):
            getattr(mha, name).weight.copy_(getattr(gqa, name).weight)
        for name in ("k_proj", "v_proj"):
            heads = getattr(gqa, name).weight.view(2, 4, 16)  # (kv_heads, head_dim, d_model)
            getattr(mha, name).weight.copy_(heads.repeat_interleave(2, dim=0).reshape(16, 16))
    x = randn(2, 5, 16)
    tables = Rotary(rope_plan)(torch.arange(5))
    mask = Mask(None, True)
    torch.testing.assert_close(gqa(x, tables, mask, None, 0), mha(x, tables, mask, None, 0))


def test_softcapped_attention_with_a_huge_cap_equals_plain_attention() -> None:
    plan, rope_plan = attention_plan(n_kv_heads=2, logit_softcap=1e6)
    capped = randomize_(build_attention(plan, rope_plan, 0))
    assert isinstance(capped, SoftcappedAttention)
    plain = Attention(plan, rope_plan, 0)
    plain.load_state_dict(capped.state_dict())
    x = randn(2, 5, 16)
    tables = Rotary(rope_plan)(torch.arange(5))
    for mask in (Mask(None, True), Mask(causal_allowed(5, 5, 2, x.device), False)):
        torch.testing.assert_close(
            capped(x, tables, mask, None, 0), plain(x, tables, mask, None, 0)
        )


def test_softcapped_attention_caps_the_scores() -> None:
    plan, _ = attention_plan(logit_softcap=0.5, n_heads=1, head_dim=4)
    module = randomize_(build_attention(plan, None, 0))
    q, k, v = randn(1, 1, 3, 4, seed=1), randn(1, 1, 3, 4, seed=2), randn(1, 1, 3, 4, seed=3)
    scores = q @ k.transpose(-1, -2) * plan.scale
    scores = 0.5 * torch.tanh(scores / 0.5) + additive_mask(Mask(None, True), 3, 3, q)
    want = torch.softmax(scores, dim=-1) @ v
    torch.testing.assert_close(module.attend(q, k, v, Mask(None, True)), want)


def test_qkv_clip_clamps_queries_keys_and_values() -> None:
    assert Clamp(1.5)(torch.tensor([-3.0, 0.25, 9.0])).tolist() == [-1.5, 0.25, 1.5]
    plan, _ = attention_plan(qkv_clip=0.1)
    module = randomize_(build_attention(plan, None, 0))
    x = randn(1, 3, 16) * 10
    assert module.q_proj(x).abs().max().item() > 0.1
    q, k, v = module.project(x, None)  # no rotary tables passed: nothing rotates
    assert max(t.abs().max().item() for t in (q, k, v)) == pytest.approx(0.1)


@pytest.mark.parametrize("scope", ["head", "projection"])
def test_qk_norm_normalises_per_head_or_over_the_projection(scope: str) -> None:
    plan, _ = attention_plan(qk_norm={"scope": scope}, n_kv_heads=2)
    module = randomize_(build_attention(plan, None, 0))
    with torch.no_grad():
        module.q_norm.weight.fill_(1.0)
        module.k_norm.weight.fill_(1.0)
    per_head = scope == "head"
    assert module.q_norm.weight.shape == ((4,) if per_head else (16,))  # head_dim or 4 heads
    assert module.k_norm.weight.shape == ((4,) if per_head else (8,))  # head_dim or 2 kv heads
    q, k, _ = module.project(randn(1, 3, 16), None)  # (B, heads, T, head_dim), not rotated
    for t in (q, k):
        groups = t if per_head else t.transpose(1, 2).flatten(2)  # (B, T, heads * head_dim)
        mean_square = groups.pow(2).mean(-1)
        torch.testing.assert_close(mean_square, torch.ones_like(mean_square), rtol=1e-4, atol=1e-4)


# --- feed-forward and mixture of experts -----------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "fn"),
    [
        ("gelu", F.gelu),
        ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
        ("relu", F.relu),
        ("silu", F.silu),
    ],
)
def test_dense_ffns(activation: str, fn) -> None:
    x = randn(2, 3, 8)
    mlp = randomize_(build_ffn(ffn_plan(activation, gated=False, bias=True)))
    assert isinstance(mlp, MLP)
    torch.testing.assert_close(mlp(x), mlp.down_proj(fn(mlp.up_proj(x))))
    glu = randomize_(build_ffn(ffn_plan(activation, gated=True)))
    assert isinstance(glu, GatedMLP)
    torch.testing.assert_close(glu(x), glu.down_proj(fn(glu.gate_proj(x)) * glu.up_proj(x)))


def moe_reference(moe: MixtureOfExperts, x: torch.Tensor) -> torch.Tensor:
    """Token by token: softmax router, top-k, optional renormalisation, weighted expert sum."""
    flat = x.reshape(-1, x.shape[-1])
    out = torch.zeros_like(flat)
    for n, token in enumerate(flat):
        probs = torch.softmax(moe.router(token).float(), dim=-1)
        weights, experts = torch.topk(probs, moe.top_k)
        if moe.normalize:
            weights = weights / weights.sum()
        for w, e in zip(weights, experts.tolist(), strict=True):
            out[n] += w * expert_reference(moe.experts, e, token)
    return out.view(x.shape)


def expert_reference(experts: nn.Module, e: int, x: torch.Tensor) -> torch.Tensor:
    """Expert e of the stacked weights, as a plain (gated) MLP."""

    def linear(name: str, h: torch.Tensor) -> torch.Tensor:
        bias = getattr(experts, name.replace("proj", "bias"))
        return F.linear(h, getattr(experts, name)[e], None if bias is None else bias[e])

    up = linear("up_proj", x)
    h = experts.act(linear("gate_proj", x)) * up if experts.gated else experts.act(up)
    return linear("down_proj", h)


@pytest.mark.parametrize("gated", [True, False], ids=["gated", "plain"])
@pytest.mark.parametrize("normalize", [True, False], ids=["renormalised", "raw"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_mixture_of_experts_matches_a_token_by_token_reference(
    gated: bool, normalize: bool, bias: bool
) -> None:
    plan = ffn_plan(
        "gelu",
        gated=gated,
        bias=bias,
        n_experts=4,
        experts_per_token=2,
        normalize_top_k=normalize,
        router_bias=bias,
    )
    moe = randomize_(build_ffn(plan))
    assert isinstance(moe, MixtureOfExperts)
    x = randn(3, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(moe(x), moe_reference(moe, x))


def test_one_expert_top_one_is_the_dense_ffn() -> None:
    moe = randomize_(build_ffn(ffn_plan(n_experts=1, experts_per_token=1)))
    dense = GatedMLP(ffn_plan())
    with torch.no_grad():
        dense.gate_proj.weight.copy_(moe.experts.gate_proj[0])
        dense.up_proj.weight.copy_(moe.experts.up_proj[0])
        dense.down_proj.weight.copy_(moe.experts.down_proj[0])
    x = randn(2, 3, 8)
    torch.testing.assert_close(moe(x), dense(x))


# --- KV cache and sampling -------------------------------------------------------------------


def test_kv_cache_stores_returns_and_overwrites() -> None:
    cache = KVCache([(2, 4), (1, 4)], batch_size=3, max_len=5)
    assert cache.keys[0].shape == (3, 2, 5, 4) and cache.values[1].shape == (3, 1, 5, 4)
    k, v = randn(3, 2, 3, 4, seed=1), randn(3, 2, 3, 4, seed=2)
    keys, values = cache.update(0, k, v, 0)
    assert torch.equal(keys, k) and torch.equal(values, v)
    k2, v2 = randn(3, 2, 1, 4, seed=3), randn(3, 2, 1, 4, seed=4)
    keys, values = cache.update(0, k2, v2, 1)  # rewind: overwrite position 1, see 0..1
    assert torch.equal(keys, torch.cat((k[:, :, :1], k2), dim=2))
    assert torch.equal(values, torch.cat((v[:, :, :1], v2), dim=2))


def test_kv_cache_refuses_to_overflow() -> None:
    cache = KVCache([(1, 2)], batch_size=1, max_len=2)
    with pytest.raises(ValueError, match="holds 2 positions; this step needs 3"):
        cache.update(0, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2), 0)


def test_next_token_is_argmax_at_temperature_zero() -> None:
    logits = torch.tensor([[0.1, 3.0, -1.0], [2.0, 0.0, 1.0]])
    assert next_token(logits, 0.0, None, None).tolist() == [[1], [0]]
    assert next_token(logits, 5.0, 1, None).tolist() == [[1], [0]]  # top-1 sampling is greedy


def test_sampling_stays_in_the_top_k_and_follows_the_generator() -> None:
    logits = randn(4, 50)
    top = torch.topk(logits, 3).indices

    def sample(seed: int) -> torch.Tensor:
        return next_token(logits, 1.5, 3, torch.Generator().manual_seed(seed))

    for seed in range(20):
        picked = sample(seed)
        assert (picked == top).any(dim=-1).all()
    assert torch.equal(sample(7), sample(7))


def test_grouped_linear_operator_is_registered_consistently() -> None:
    """Fake (shape) implementation, autograd formula and schema agree with the real kernel;
    gradients match finite differences, with an empty group in the middle and at the end."""
    x = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 4, 6, dtype=torch.float64, requires_grad=True)
    ends = torch.tensor([3, 3, 7, 10, 10])
    torch.library.opcheck(grouped_linear, (x, weight, ends))
    assert torch.autograd.gradcheck(lambda x, w: grouped_linear(x, w, ends), (x, weight))
    expected = torch.cat([x[0:3] @ weight[0].T, x[3:7] @ weight[2].T, x[7:10] @ weight[3].T])
    torch.testing.assert_close(grouped_linear(x, weight, ends), expected)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_mixture_of_experts_gradients_match_the_reference(k: int) -> None:
    """The hand-written backward of the grouped experts gives autograd's gradients of the
    token-by-token reference, for the input and every parameter."""
    moe = randomize_(build_ffn(ffn_plan(bias=True, n_experts=4, experts_per_token=k)))
    x = randn(2, 5, 8)

    def grads(fn) -> list[torch.Tensor]:
        moe.zero_grad(set_to_none=True)
        inp = x.clone().requires_grad_()
        fn(moe, inp).square().sum().backward()
        return [inp.grad] + [p.grad for p in moe.parameters()]

    for ours, ref in zip(grads(lambda m, i: m(i)), grads(moe_reference), strict=True):
        torch.testing.assert_close(ours, ref)


def test_grouped_experts_follow_autocast_like_linear_layers() -> None:
    """Under autocast the expert matmuls run in autocast's dtype, as F.linear's would."""
    x, weight, ends = randn(6, 8), randn(3, 4, 8), torch.tensor([2, 2, 6])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert autocast_grouped_linear(x, weight, ends).dtype == torch.bfloat16
        assert F.linear(x, weight[0]).dtype == torch.bfloat16
    assert autocast_grouped_linear(x, weight, ends).dtype == torch.float32
    moe = randomize_(build_ffn(ffn_plan(bias=True, n_experts=4, experts_per_token=2)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = moe(randn(2, 5, 8))
    torch.testing.assert_close(low.float(), moe(randn(2, 5, 8)), atol=3e-2, rtol=3e-2)


def test_mixture_of_experts_compiles_without_graph_breaks_forward_and_backward() -> None:
    """The grouped operator is opaque to dynamo: one graph, sparse, and the same gradients."""
    moe = randomize_(build_ffn(ffn_plan(bias=True, n_experts=4, experts_per_token=2)))
    x = randn(3, 7, 8).requires_grad_()
    torch._dynamo.reset()
    compiled = torch.compile(moe, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    torch.testing.assert_close(out, moe(x))
    (grad_x,) = torch.autograd.grad(out.sum(), x)
    (expected,) = torch.autograd.grad(moe(x).sum(), x)
    torch.testing.assert_close(grad_x, expected)
