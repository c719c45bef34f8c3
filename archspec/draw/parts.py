"""What each part of a plan says in the figure: one box (title and keyed facts) per plan type.

A new kind of part is one more registered function: a recurrent mixer registers `mixer_box` for
its plan type, a new FFN or linear kind registers `ffn_box` (or adds facts), and the layout picks
them up without an `if` on kinds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import singledispatch

from archspec.plan.types import AttentionPlan, FfnPlan, ModelPlan, NormPlan, RecurrentPlan


@dataclass(frozen=True)
class Box:
    """One box of the figure: what it is, and facts keyed so that models and layers compare."""

    key: str
    """Role in the model (`attn`, `ffn_norm`, `head`...): boxes with the same key are compared."""
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    """(fact key, text) pairs in display order."""
    style: str = "io"
    """Colour family: `mixer`, `ffn`, `norm`, `io`."""
    stacked: bool = False
    """Drawn as a stack of cards (the experts of a mixture)."""
    fields: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", dict(self.facts))

    @property
    def signature(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.title, self.facts


def merge(boxes: list[Box]) -> Box:
    """One box standing for the same part in several layer kinds: shared facts once, the ones that
    vary as 'a | b' in the order the layers first use them."""
    first = boxes[0]
    keys = list(dict.fromkeys(k for box in boxes for k, _ in box.facts))
    facts = []
    for key in keys:
        values = list(dict.fromkeys(box.fields.get(key, "—") for box in boxes))
        facts.append((key, " | ".join(values)))
    titles = list(dict.fromkeys(box.title for box in boxes))
    return Box(
        first.key,
        " | ".join(titles),
        tuple(facts),
        first.style,
        any(box.stacked for box in boxes),
    )


def _g(x: float) -> str:
    """Whole numbers in full (RoPE θ 1000000), others short (ε 1e-06, softcap 30.5)."""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e16:
        return str(int(x))
    return f"{x:g}"


def norm_box(key: str, norm: NormPlan) -> Box:
    """A norm, named as the papers name it: RMSNorm, Gemma's (1 + w) RMSNorm, LayerNorm variants."""
    if norm.kind == "rmsnorm":
        title = "RMSNorm (1+w)" if norm.unit_offset else "RMSNorm"
    elif not norm.weight:
        title = "LayerNorm, no params"
    else:
        title = "LayerNorm" if norm.bias else "LayerNorm, no bias"
    return Box(key, title, (("eps", f"ε {_g(norm.eps)}"),), "norm")


@singledispatch
def mixer_box(plan: object, model: ModelPlan, window: int | None) -> Box:
    """The token mixer of a layer; register one function per mixer plan type."""
    raise TypeError(f"no drawing for mixer {type(plan).__name__}")


@mixer_box.register
def _(plan: AttentionPlan, model: ModelPlan, window: int | None) -> Box:
    if plan.n_kv_heads == plan.n_heads:
        title = "Multi-head attention"
    elif plan.n_kv_heads == 1:
        title = "Multi-query attention"
    else:
        title = "Grouped-query attention"
    facts = [("heads", f"{plan.n_heads} heads")]
    if plan.n_kv_heads != plan.n_heads:
        facts.append(("kv", f"{plan.n_kv_heads} kv heads"))
    facts.append(("head_dim", f"head {plan.head_dim}"))
    facts.append(("position", _position(plan, model)))
    facts.append(("window", _window(model, window)))
    if plan.softcap is not None:
        facts.append(("softcap", f"softcap {_g(plan.softcap)}"))
    if plan.qk_norm is not None:
        scope = "per head" if plan.qk_norm.per_head else "per projection"
        facts.append(("qk_norm", f"QK-{norm_box('', plan.qk_norm.q).title} {scope}"))
    if plan.qkv_clip is not None:
        facts.append(("clip", f"qkv clip {_g(plan.qkv_clip)}"))
    biases = [n for n, on in zip("qkvo", _biases(plan), strict=True) if on]
    if biases:
        facts.append(("bias", "bias " + "".join(biases)))
    facts += _linear_facts(plan.linear_kinds, plan.sub_norm is not None, 4)
    return Box("attn", title, tuple(facts), "mixer")


_LINEAR_LABELS = {"bitlinear_b158": "ternary W1.58A8"}


def _linear_facts(kinds: tuple[tuple[str, str], ...], sub_norm: bool, n: int) -> list:
    """A small label of the projections' kind (all ``n`` of them, or the ones named) and the
    sub-norm, when they are not dense / absent."""
    facts = []
    for kind in dict.fromkeys(k for _, k in kinds):
        names = [name.removesuffix("_proj") for name, k in kinds if k == kind]
        where = "" if len(names) == n else " " + "+".join(names)
        facts.append(("linear", _LINEAR_LABELS.get(kind, kind) + where))
    if sub_norm:
        facts.append(("sub_norm", "sub-norm"))
    return facts


@mixer_box.register
def _(plan: RecurrentPlan, model: ModelPlan, window: int | None) -> Box:
    facts = [
        ("width", f"width {plan.width}"),
        ("gates", f"{plan.n_heads} gate blocks"),
        ("conv", f"Conv1D {plan.conv_width}"),
        ("c", f"RG-LRU c={_g(plan.c)}"),
    ]
    return Box("attn", "Recurrent block (RG-LRU)", tuple(facts), "mixer")


def _biases(plan: AttentionPlan) -> tuple[bool, bool, bool, bool]:
    return plan.q_bias, plan.k_bias, plan.v_bias, plan.o_bias


def _window(model: ModelPlan, window: int | None) -> str:
    bias = model.relative_bias
    if bias is not None and bias.bidirectional:
        return "bidirectional"
    return "full causal" if window is None else f"window {window}"


def cross_attention_box(plan: AttentionPlan, model: ModelPlan) -> Box:
    """Attention of the decoder to the encoder's output: the self-attention's facts less its
    position and mask (queries from the decoder, keys and values from every encoder token)."""
    self_box = mixer_box(plan, model, None)
    facts = [(k, t) for k, t in self_box.facts if k not in ("position", "window")]
    facts.append(("source", "K, V: encoder output"))
    return Box("cross_attn", "Cross-attention", tuple(facts), "mixer")


def _position(plan: AttentionPlan, model: ModelPlan) -> str:
    if model.relative_bias is not None:
        bias = model.relative_bias
        return f"T5 relative bias ({bias.n_buckets} buckets, max {bias.max_distance})"
    rope = model.rope
    if plan.rope and rope is not None:
        text = f"RoPE θ {_g(rope.theta)}"
        if rope.partial:
            text += f" on {rope.rotary_dim}/{rope.head_dim}"
        if rope.scaling != "none":
            text += f" {rope.scaling} ×{_g(rope.factor)}"
        return text
    return {"alibi": "ALiBi", "learned": "no rotation", "none": "no position"}.get(
        model.position, "no rotation"
    )


_ACTIVATION_NAMES = {
    "gelu": "GELU",
    "gelu_tanh": "GELU (tanh)",
    "relu": "ReLU",
    "silu": "SiLU",
    "relu2": "ReLU²",
}


@singledispatch
def ffn_box(plan: object, model: ModelPlan) -> Box:
    """The channel mixer of a layer; register one function per FFN plan type."""
    raise TypeError(f"no drawing for feed-forward {type(plan).__name__}")


@ffn_box.register
def _(plan: FfnPlan, model: ModelPlan) -> Box:
    act = _ACTIVATION_NAMES[plan.activation]
    kind = f"{plan.class_name.removeprefix('MoE')} ({act})" if plan.gated else f"MLP, {act}"
    hidden = f"2×{plan.hidden_dim}" if plan.gated else str(plan.hidden_dim)
    facts = [("act", kind), ("sizes", f"{plan.d_model}→{hidden}→{plan.d_model}")]
    if plan.bias:
        facts.append(("bias", "bias"))
    facts += _linear_facts(plan.linear_kinds, plan.sub_norm is not None, 3 if plan.gated else 2)
    if plan.moe:
        facts.insert(0, ("experts", f"{plan.n_experts} experts, top-{plan.experts_per_token}"))
        if plan.router_bias:
            facts.append(("router", "router bias"))
        return Box("ffn", "Mixture of experts", tuple(facts), "ffn", stacked=True)
    return Box("ffn", "Feed-forward", tuple(facts), "ffn")


def embedding_box(model: ModelPlan) -> Box:
    facts = [("vocab", f"vocab {model.vocab_size}")]
    if model.vocab_rows != model.vocab_size:
        facts.append(("rows", f"{model.vocab_rows} rows"))
    facts.append(("width", f"d {model.d_model}"))
    if model.embed_scale is not None:
        facts.append(("scale", f"× √d = {model.embed_scale:.2f}"))
    if model.position == "learned":
        facts.append(("position", f"+ learned positions ({model.max_seq_len})"))
    if model.encoder is not None:
        shared = not model.encoder.own_embedding
        facts.append(("shared", "encoder + decoder" if shared else "decoder only"))
    return Box("embed", "Token embedding", tuple(facts), "io")


def head_box(model: ModelPlan) -> Box:
    facts = [("tied", "tied to embedding" if model.tie_embeddings else "untied")]
    facts.append(("width", f"{model.d_model}→{model.vocab_rows}"))
    if model.head_bias:
        facts.append(("bias", "bias"))
    if model.logit_scale is not None:
        scale = model.logit_scale
        is_rsqrt = math.isclose(scale, model.d_model**-0.5)
        facts.append(("scale", "× d^-0.5" if is_rsqrt else f"× {_g(scale)}"))
    if model.logit_softcap is not None:
        facts.append(("softcap", f"softcap {_g(model.logit_softcap)}"))
    return Box("head", "Output head", tuple(facts), "io")
