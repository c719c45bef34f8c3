"""lower(spec) -> ModelPlan: resolve every choice of a spec, in one place, without torch."""

from __future__ import annotations

import math
from dataclasses import replace

from archspec.analysis.params import count_params
from archspec.plan.recurrent import recurrent_plan, round_bfloat16
from archspec.plan.types import (
    AdapterPlan,
    Adapters,
    AttentionPlan,
    FfnPlan,
    LayerPlan,
    LinearKinds,
    ModelPlan,
    NormPlan,
    QKNormPlan,
    RelativeBiasPlan,
    RopePlan,
    StackPlan,
)
from archspec.spec import adapters, resolve
from archspec.spec import linear as linear_kinds
from archspec.spec.dump import spec_sha256
from archspec.spec.model import ModelSpec, NormSpec, RopePosition

_ACTIVATIONS = {
    "gelu": ("gelu", False, "GeluMLP"),
    "gelu_tanh": ("gelu_tanh", False, "GeluTanhMLP"),
    "relu": ("relu", False, "ReluMLP"),
    "silu": ("silu", False, "SiluMLP"),
    "swiglu": ("silu", True, "SwiGLU"),
    "geglu": ("gelu", True, "GeGLU"),
    "geglu_tanh": ("gelu_tanh", True, "GeGLUTanh"),
    "reglu": ("relu", True, "ReGLU"),
    "relu2": ("relu2", False, "Relu2MLP"),
    "relu2_glu": ("relu2", True, "Relu2GLU"),
}


def lower(spec: ModelSpec) -> ModelPlan:
    """Resolve ``spec`` into a plan both backends (runtime module and generated code) follow."""
    layer_specs = resolve.layer_specs(spec)
    windows = tuple(dict.fromkeys(layer.attention.sliding_window for layer in layer_specs))
    layer_ropes = [
        _rope(layer.position, layer.attention, spec.d_model, spec.max_seq_len)
        if layer.position.kind == "rope"
        else None
        for layer in layer_specs
    ]
    ropes = tuple(dict.fromkeys(r for r in layer_ropes if r is not None))
    counts = count_params(spec)
    embedding = spec.embedding
    plan = ModelPlan(
        name=spec.name,
        spec_sha256=spec_sha256(spec),
        vocab_size=spec.vocab_size,
        vocab_rows=resolve.vocab_rows(spec),
        d_model=spec.d_model,
        n_layers=spec.n_layers,
        max_seq_len=spec.max_seq_len,
        embed_scale=_embed_scale(spec),
        position=spec.position.kind,
        ropes=ropes,
        alibi_slopes=alibi_slopes(spec.attention.n_heads)
        if spec.position.kind == "alibi"
        else None,
        alibi_scale=_alibi_scale(spec),
        alibi_bfloat16=spec.position.kind == "alibi" and spec.position.bias_dtype == "bfloat16",
        layers=tuple(
            _layer(spec, layer, windows, None if r is None else ropes.index(r))
            for layer, r in zip(layer_specs, layer_ropes, strict=True)
        ),
        windows=windows,
        final_norm=norm_plan(spec.norm, spec.d_model) if spec.head.final_norm else None,
        tie_embeddings=spec.head.tie_embeddings,
        head_bias=spec.head.bias,
        logit_softcap=spec.head.logit_softcap,
        n_params=counts.total,
        n_params_untied=counts.total_untied,
        head_adapter=_adapter_plan(spec, None, "lm_head"),
        n_adapter_params=counts.trainable if spec.adapters is not None else 0,
        embed_multiplier=embedding.multiplier,
        embed_norm=norm_plan(embedding.norm, spec.d_model) if embedding.norm else None,
        logit_scale=resolve.logit_scale(spec),
    )
    return plan if spec.encoder is None else with_encoder(spec, plan, counts.stacks["encoder"])


def _embed_scale(spec: ModelSpec) -> float | None:
    """sqrt(d_model), first rounded to bfloat16 when the spec says so (RecurrentGemma)."""
    if not spec.embedding.scale_by_sqrt_d_model:
        return None
    scale = math.sqrt(spec.d_model)
    return round_bfloat16(scale) if spec.embedding.scale_dtype == "bfloat16" else scale


def _adapter_plan(spec: ModelSpec, layer: int | None, name: str) -> AdapterPlan | None:
    a = adapters.adapter(spec, layer, name)
    return None if a is None else AdapterPlan(a.kind, a.r, a.alpha, a.scaling, a.dropout)


def _kinds(spec: ModelSpec, names: tuple[str, ...]) -> LinearKinds:
    """The projections among ``names`` of one block that are not dense, with their kind."""
    kinds = ((name, linear_kinds.kind(spec, name)) for name in names)
    return tuple((name, kind) for name, kind in kinds if kind != "dense")


def _adapters(spec: ModelSpec, layer: int, names: tuple[str, ...]) -> Adapters:
    """The adapted projections among ``names`` of one block, with their adapters."""
    plans = ((name, _adapter_plan(spec, layer, name)) for name in names)
    return tuple((name, plan) for name, plan in plans if plan is not None)


def norm_plan(norm: NormSpec, width: int) -> NormPlan:
    """A norm of ``width`` channels, named for what it is."""
    upcast = norm.compute_dtype == "float32"
    if norm.kind == "rmsnorm":
        name = "GemmaRMSNorm" if norm.unit_offset else "RMSNorm"
        return NormPlan("rmsnorm", width, norm.eps, True, False, norm.unit_offset, upcast, name)
    bias = norm.affine and resolve.layernorm_bias(norm)
    if not norm.affine:
        name = "NonParametricLayerNorm"
    else:
        name = "LayerNorm" if bias else "LayerNormNoBias"
    return NormPlan("layernorm", width, norm.eps, norm.affine, bias, False, upcast, name)


def _alibi_scale(spec: ModelSpec) -> float | None:
    """The score scale an ALiBi bias shares when it joins the raw scores (Falcon-RW)."""
    position, att = spec.position, spec.attention
    if position.kind != "alibi" or not position.scaled:
        return None
    return att.scale if att.scale is not None else resolve.head_dim(att, spec.d_model) ** -0.5


def alibi_slopes(n_heads: int) -> tuple[float, ...]:
    """ALiBi head slopes: a geometric sequence from 2^(-8/n); for a head count that is not a power
    of two, the closest power's slopes plus every other slope of the next (Press et al. 2022, 3)."""
    closest = 2 ** math.floor(math.log2(n_heads))
    base = [2 ** (-8 * (i + 1) / closest) for i in range(closest)]
    extra = [2 ** (-4 * (2 * i + 1) / closest) for i in range(n_heads - closest)]
    return tuple(base + extra)


def _rope(position: RopePosition, attention: object, d_model: int, max_seq_len: int) -> RopePlan:
    head = resolve.head_dim(attention, d_model)
    scaling = position.scaling
    kind = "none" if scaling is None else scaling.kind
    factor = getattr(scaling, "factor", 1.0)
    attention_factor = 1.0
    rotary = resolve.rotary_dim(position, head)
    yarn_low = yarn_high = 0.0
    short_factor = long_factor = ()
    if scaling is not None and scaling.kind == "longrope":
        short_factor, long_factor = tuple(scaling.short_factor), tuple(scaling.long_factor)
        attention_factor = scaling.attention_factor or longrope_attention_factor(
            max_seq_len, scaling.original_max_seq_len
        )
    if scaling is not None and scaling.kind == "yarn":
        attention_factor = scaling.attention_factor or (0.1 * math.log(factor) + 1.0)
        yarn_low, yarn_high = yarn_ramp(
            rotary,
            position.theta,
            scaling.original_max_seq_len,
            scaling.beta_fast,
            scaling.beta_slow,
        )
    return RopePlan(
        head_dim=head,
        rotary_dim=rotary,
        theta=position.theta,
        interleaved=position.layout == "interleaved",
        scaling=kind,
        factor=factor,
        original_max_seq_len=getattr(scaling, "original_max_seq_len", 0) or 0,
        low_freq_factor=getattr(scaling, "low_freq_factor", 1.0),
        high_freq_factor=getattr(scaling, "high_freq_factor", 1.0),
        beta_fast=getattr(scaling, "beta_fast", 32.0),
        beta_slow=getattr(scaling, "beta_slow", 1.0),
        attention_factor=attention_factor,
        yarn_low=yarn_low,
        yarn_high=yarn_high,
        short_factor=short_factor,
        long_factor=long_factor,
    )


def longrope_attention_factor(max_seq_len: int, original: int) -> float:
    """Phi-3's default LongRoPE scale of cos/sin: sqrt(1 + ln(s) / ln(original)) for the
    extension s = max_seq_len / original, 1 when there is none (as transformers computes it)."""
    s = max_seq_len / original
    return 1.0 if s <= 1.0 else math.sqrt(1 + math.log(s) / math.log(original))


def yarn_ramp(
    dim: int, theta: float, original: int, beta_fast: float, beta_slow: float
) -> tuple[float, float]:
    """YaRN's correction range (Peng et al. 2023, eq. 17-18): the rotary pairs between which
    frequencies blend from kept (fast rotations) to interpolated (slow ones), as the references
    compute it (floored / ceiled, clamped to the pairs, widened by 0.001 when empty)."""

    def pair(rotations: float) -> float:
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(theta))

    low = float(max(math.floor(pair(beta_fast)), 0))
    high = float(min(math.ceil(pair(beta_slow)), dim - 1))
    return low, high + 0.001 if low == high else high


def _attention(spec: ModelSpec, layer: resolve.LayerSpec) -> AttentionPlan:
    att = layer.attention
    hd = resolve.head_dim(att, spec.d_model)
    kv = resolve.n_kv_heads(att)
    bias = resolve.attention_bias(spec, att)
    qk = None
    if att.qk_norm is not None:
        per_head = att.qk_norm.scope == "head"
        q_width, k_width = (hd, hd) if per_head else (att.n_heads * hd, kv * hd)
        qk = QKNormPlan(
            per_head, norm_plan(att.qk_norm.norm, q_width), norm_plan(att.qk_norm.norm, k_width)
        )
    if att.logit_softcap is not None:
        name = "SoftcappedAttention"
    elif kv == att.n_heads:
        name = "MultiHeadAttention"
    elif kv == 1:
        name = "MultiQueryAttention"
    else:
        name = "GroupedQueryAttention"
    return AttentionPlan(
        d_model=spec.d_model,
        n_heads=att.n_heads,
        n_kv_heads=kv,
        head_dim=hd,
        q_bias=bias["q"],
        k_bias=bias["k"],
        v_bias=bias["v"],
        o_bias=bias["o"],
        scale=att.scale if att.scale is not None else hd**-0.5,
        softcap=att.logit_softcap,
        qkv_clip=att.qkv_clip,
        qk_norm=qk,
        rope=layer.position.kind == "rope",
        class_name=name,
        adapters=_adapters(spec, layer.index, adapters.ATTENTION),
        linear_kinds=_kinds(spec, adapters.ATTENTION),
        sub_norm=norm_plan(spec.norm, att.n_heads * hd) if att.sub_norm else None,
    )


def _ffn(spec: ModelSpec, layer: resolve.LayerSpec) -> FfnPlan:
    ffn = layer.ffn
    activation, gated, name = _ACTIVATIONS[ffn.activation]
    moe = ffn.moe
    return FfnPlan(
        d_model=spec.d_model,
        hidden_dim=ffn.hidden_dim,
        activation=activation,
        gated=gated,
        bias=resolve.ffn_bias(spec, ffn),
        class_name=f"MoE{name}" if moe else name,
        n_experts=moe.n_experts if moe else 0,
        experts_per_token=moe.experts_per_token if moe else 0,
        normalize_top_k=moe.normalize_top_k if moe else True,
        router_bias=moe.router_bias if moe else False,
        adapters=_adapters(spec, layer.index, adapters.FFN),
        linear_kinds=_kinds(spec, adapters.FFN),
        sub_norm=norm_plan(spec.norm, ffn.hidden_dim) if ffn.sub_norm else None,
    )


def _layer(
    spec: ModelSpec, layer: resolve.LayerSpec, windows: tuple[int | None, ...], rope: int | None
) -> LayerPlan:
    norm = norm_plan(spec.norm, spec.d_model)
    placement = spec.block.placement
    if spec.block.parallel_residual:
        wiring = "parallel"
        norms = (norm, None, None if resolve.shared_norm(spec) else norm, None)
    elif placement == "post":
        wiring = "post"
        norms = (norm, None, norm, None)
    else:
        wiring = "sequential"
        pre = norm if placement in ("pre", "sandwich") else None
        post = norm if placement in ("branch_post", "sandwich") else None
        norms = (pre, post, pre, post)
    return LayerPlan(
        index=layer.index,
        wiring=wiring,
        attn_norm=norms[0],
        attn_post_norm=norms[1],
        ffn_norm=norms[2],
        ffn_post_norm=norms[3],
        mixer=recurrent_plan(spec) if layer.mixer == "recurrent" else _attention(spec, layer),
        ffn=_ffn(spec, layer),
        mask=windows.index(layer.attention.sliding_window),
        rope=rope,
        residual_scale=spec.block.residual_multiplier,
    )


def relative_bias_plan(spec: ModelSpec, bidirectional: bool) -> RelativeBiasPlan | None:
    """A stack's relative-bias table (T5), or None when its position kind is not `relative_bias`."""
    position = spec.position
    if position.kind != "relative_bias":
        return None
    return RelativeBiasPlan(
        position.n_buckets, position.max_distance, spec.attention.n_heads, bidirectional
    )


def with_encoder(spec: ModelSpec, decoder: ModelPlan, encoder_params: int) -> ModelPlan:
    """An encoder-decoder's plan: ``decoder`` (the top-level stack) with a cross-attention in
    every layer and its causal relative bias, and the encoder stack, lowered as a decoder stack
    is from :func:`resolve.encoder_view`; bidirectional buckets and masks make it an encoder.
    ``encoder_params``: the encoder stack's count (`count_params(spec).stacks`)."""
    view = resolve.encoder_view(spec)
    flat = lower(view)
    stack = StackPlan(
        d_model=spec.d_model,
        layers=flat.layers,
        final_norm=flat.final_norm,
        relative_bias=relative_bias_plan(view, bidirectional=True),
        own_embedding=not spec.encoder.share_embedding,
        n_params=encoder_params,
    )
    cross_spec = resolve.LayerSpec(0, resolve.cross_attention(spec), spec.ffn, spec.position)
    cross = replace(_attention(spec, cross_spec), rope=False, class_name="CrossAttention")
    norm = norm_plan(spec.norm, spec.d_model)
    layers = tuple(
        replace(layer, cross_attention=cross, cross_attn_norm=norm) for layer in decoder.layers
    )
    return replace(
        decoder,
        layers=layers,
        encoder=stack,
        relative_bias=relative_bias_plan(spec, bidirectional=False),
    )
