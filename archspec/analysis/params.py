"""Exact parameter accounting from the spec alone: pure integer math, one function per component.

Tied weights are counted once in `total`; `total_untied` counts the tied output head separately,
which is how papers sometimes quote sizes (Gemma 7B: 8.54B held, 9.32B untied; Gemma report Table 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from archspec.spec import adapters, resolve
from archspec.spec.model import AttentionSpec, FfnSpec, ModelSpec, NormSpec

COMPONENTS = ("embedding", "position", "attention", "ffn", "norm", "head")


@dataclass(frozen=True)
class LayerCount:
    """Parameters of one transformer block."""

    attention: int
    ffn: int
    norm: int
    ffn_active: int
    """FFN parameters one token uses: all of them for a dense FFN, the router plus top-k experts for MoE."""
    trainable: int = 0
    """Parameters that train: the adapters' when the spec has adapters (included in `attention`
    and `ffn`), else all of them."""

    @property
    def total(self) -> int:
        return self.attention + self.ffn + self.norm

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


@dataclass(frozen=True)
class ParamCount:
    """Parameter counts of one spec; every figure an exact integer."""

    name: str
    total: int
    """Parameters the model holds, tied weights once."""
    total_untied: int
    """`total` plus the output head when it is tied to the embedding (equal when untied)."""
    non_embedding: int
    """Parameters of the blocks and the norms (final, embedding): total less embeddings, position
    table and head."""
    active: int
    """Parameters used per token: `total` less the experts a token is not routed to (MoE)."""
    breakdown: dict[str, int]
    """Total by component: embedding, position, attention, ffn, norm, head (sums to `total`)."""
    per_layer: list[LayerCount] = field(default_factory=list)
    tied: bool = False
    trainable: int = 0
    """Parameters that train: the adapters' when the spec has adapters (base weights frozen),
    else `total`."""
    frozen: int = 0
    """`total` less `trainable`."""
    trainable_breakdown: dict[str, int] = field(default_factory=dict)
    """`trainable` by component, like `breakdown`."""
    stacks: dict[str, int] = field(default_factory=dict)
    """Encoder-decoder: `total` by stack, `encoder` (its blocks, final norm, position table and
    own embedding), `decoder` (the same) and `shared` (the embedding and head they share);
    empty for a decoder-only model."""
    encoder_layers: list[LayerCount] = field(default_factory=list)
    """Encoder-decoder: one count per encoder block (`per_layer` holds the decoder's)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (what `archspec params --json` prints)."""
        data = asdict(self)
        for name in ("per_layer", "encoder_layers"):
            data[name] = [
                dict(asdict(layer), total=layer.total, frozen=layer.frozen)
                for layer in getattr(self, name)
            ]
        if not self.stacks:  # decoder-only: the form it always had
            del data["stacks"], data["encoder_layers"]
        return data


def norm_params(norm: NormSpec, width: int) -> int:
    """LayerNorm: scale and shift (or none, OLMo's parameter-free LN); RMSNorm: scale."""
    if norm.kind == "rmsnorm":
        return width
    if not norm.affine:
        return 0
    return width * (2 if resolve.layernorm_bias(norm) else 1)


def attention_params(spec: ModelSpec, att: AttentionSpec) -> int:
    """q, k, v and output projections with their biases (Vaswani et al. 2017; GQA: Ainslie et al. 2023)."""
    hd = resolve.head_dim(att, spec.d_model)
    q_width = att.n_heads * hd
    kv_width = resolve.n_kv_heads(att) * hd
    bias = resolve.attention_bias(spec, att)
    return (
        spec.d_model * q_width
        + 2 * spec.d_model * kv_width
        + q_width * spec.d_model
        + q_width * bias["q"]
        + kv_width * (bias["k"] + bias["v"])
        + spec.d_model * bias["o"]
    )


def recurrent_params(spec: ModelSpec) -> int:
    """Griffin's recurrent block (De et al. 2024, Fig. 2): x, y and output projections, the
    depthwise Conv1D (a kernel per channel), the RG-LRU's two block-diagonal gates with biases
    and its recurrence parameter a (one per channel). `RecurrentPlan.n_params` says the same."""
    r = spec.recurrent
    if r is None:
        return 0
    d, w, bias = spec.d_model, r.width, int(r.bias)
    projections = 3 * d * w + bias * (2 * w + d)
    conv = w * r.conv_width + bias * w
    gates = 2 * (w * w // r.n_heads + w)
    return projections + conv + gates + w


def qk_norm_params(spec: ModelSpec, att: AttentionSpec) -> int:
    """QK-norm: one norm per head size (Qwen3) or over the whole projection (OLMo 2), for q and k."""
    if att.qk_norm is None:
        return 0
    hd = resolve.head_dim(att, spec.d_model)
    if att.qk_norm.scope == "head":
        return 2 * norm_params(att.qk_norm.norm, hd)
    return norm_params(att.qk_norm.norm, att.n_heads * hd) + norm_params(
        att.qk_norm.norm, resolve.n_kv_heads(att) * hd
    )


def sub_norm_params(spec: ModelSpec, layer: resolve.LayerSpec, attention: bool = True) -> int:
    """BitNet b1.58 2B-4T's sub-norms: over the heads' output before o_proj, and over the FFN's
    hidden activations before down_proj (Wang et al. 2023, Magneto's sub-LN). ``attention``:
    whether the layer's mixer is attention (a recurrent block has no attention sub-norm)."""
    att, ffn = layer.attention, layer.ffn
    width = att.n_heads * resolve.head_dim(att, spec.d_model)
    return norm_params(spec.norm, width) * (att.sub_norm and attention) + (
        norm_params(spec.norm, ffn.hidden_dim) * ffn.sub_norm
    )


def expert_params(spec: ModelSpec, ffn: FfnSpec) -> int:
    """One dense FFN: up (and gate, for GLU variants) then down projection, with biases."""
    n_in = 2 if resolve.is_gated(ffn) else 1
    bias = resolve.ffn_bias(spec, ffn)
    return (n_in + 1) * spec.d_model * ffn.hidden_dim + bias * (
        n_in * ffn.hidden_dim + spec.d_model
    )


def ffn_params(spec: ModelSpec, ffn: FfnSpec) -> tuple[int, int]:
    """(held, active per token): a dense FFN, or a router plus `n_experts` expert FFNs (Mixtral)."""
    one = expert_params(spec, ffn)
    if ffn.moe is None:
        return one, one
    router = spec.d_model * ffn.moe.n_experts + ffn.moe.router_bias * ffn.moe.n_experts
    return router + ffn.moe.n_experts * one, router + ffn.moe.experts_per_token * one


def block_norm_count(spec: ModelSpec) -> int:
    """Norms per block: 2 (pre, post, branch_post), 4 (sandwich), 1 (parallel with a shared norm)."""
    if resolve.shared_norm(spec):
        return 1
    return 4 if spec.block.placement == "sandwich" else 2


def layer_adapter_params(spec: ModelSpec, layer: resolve.LayerSpec, names: tuple[str, ...]) -> int:
    """Adapter parameters on projections ``names`` of one block: LoRA r * (in + out) per adapted
    linear (Hu et al. 2021), DoRA `out` more for the magnitude (Liu et al. 2024)."""
    total = 0
    for name in names:
        adapted = adapters.adapter(spec, layer.index, name)
        if adapted is not None:
            total += adapters.adapter_params(adapted, adapters.linear_shape(spec, layer, name))
    return total


def layer_params(spec: ModelSpec, layer: resolve.LayerSpec) -> LayerCount:
    """Parameters of one block, adapters included."""
    ffn, ffn_active = ffn_params(spec, layer.ffn)
    norms = block_norm_count(spec) * norm_params(spec.norm, spec.d_model)
    recurrent = layer.mixer == "recurrent"
    att_adapters = 0 if recurrent else layer_adapter_params(spec, layer, adapters.ATTENTION)
    ffn_adapters = layer_adapter_params(spec, layer, adapters.FFN)
    mixer = recurrent_params(spec) if recurrent else attention_params(spec, layer.attention)
    cross, cross_norm = cross_attention_params(spec)
    count = LayerCount(
        attention=mixer + att_adapters + cross,
        ffn=ffn + ffn_adapters,
        norm=norms
        + (0 if recurrent else qk_norm_params(spec, layer.attention))
        + sub_norm_params(spec, layer, attention=not recurrent)
        + cross_norm,
        ffn_active=ffn_active + ffn_adapters,
    )
    trainable = att_adapters + ffn_adapters if spec.adapters is not None else count.total
    return LayerCount(count.attention, count.ffn, count.norm, count.ffn_active, trainable)


def head_adapter_params(spec: ModelSpec) -> int:
    """Adapter parameters on the output head (`lm_head` target)."""
    adapted = adapters.adapter(spec, None, "lm_head")
    if adapted is None:
        return 0
    return adapters.adapter_params(adapted, (spec.d_model, resolve.vocab_rows(spec)))


def count_params(spec: ModelSpec) -> ParamCount:
    """Count every parameter of ``spec`` without building anything.

    Args:
        spec: A validated spec.

    Returns:
        Totals, a breakdown by component and a count per layer.
    """
    rows = resolve.vocab_rows(spec)
    per_layer = [layer_params(spec, layer) for layer in resolve.layer_specs(spec)]
    final_norm = norm_params(spec.norm, spec.d_model) if spec.head.final_norm else 0
    embed_norm = norm_params(spec.embedding.norm, spec.d_model) if spec.embedding.norm else 0
    head_matrix = rows * spec.d_model
    breakdown = {
        "embedding": rows * spec.d_model,
        "position": spec.max_seq_len * spec.d_model if spec.position.kind == "learned" else 0,
        "attention": sum(layer.attention for layer in per_layer),
        "ffn": sum(layer.ffn for layer in per_layer),
        "norm": sum(layer.norm for layer in per_layer) + final_norm + embed_norm,
        "head": (0 if spec.head.tie_embeddings else head_matrix)
        + rows * spec.head.bias
        + head_adapter_params(spec),
    }
    total = sum(breakdown.values())
    if spec.adapters is None:
        trainable_breakdown = dict(breakdown)
    else:
        trainable_breakdown = dict.fromkeys(breakdown, 0)
        trainable_breakdown["attention"] = sum(
            layer_adapter_params(spec, layer, adapters.ATTENTION)
            for layer in resolve.layer_specs(spec)
        )
        trainable_breakdown["ffn"] = (
            sum(layer.trainable for layer in per_layer) - trainable_breakdown["attention"]
        )
        trainable_breakdown["head"] = head_adapter_params(spec)
    trainable = sum(trainable_breakdown.values())
    inactive = sum(layer.ffn - layer.ffn_active for layer in per_layer)
    count = ParamCount(
        name=spec.name,
        total=total,
        total_untied=total + (head_matrix if spec.head.tie_embeddings else 0),
        non_embedding=breakdown["attention"] + breakdown["ffn"] + breakdown["norm"],
        active=total - inactive,
        breakdown=breakdown,
        per_layer=per_layer,
        tied=spec.head.tie_embeddings,
        trainable=trainable,
        frozen=total - trainable,
        trainable_breakdown=trainable_breakdown,
    )
    return count if spec.encoder is None else with_encoder(spec, count)


def cross_attention_params(spec: ModelSpec) -> tuple[int, int]:
    """(projections, pre-norm) of one decoder layer's cross-attention; (0, 0) without one."""
    if spec.cross_attention is None:
        return 0, 0
    return (
        attention_params(spec, resolve.cross_attention(spec)),
        norm_params(spec.norm, spec.d_model),
    )


def relative_bias_params(spec: ModelSpec) -> int:
    """T5's relative position bias: one (n_buckets, n_heads) table per stack (Raffel et al. 2020)."""
    if spec.position.kind != "relative_bias":
        return 0
    return spec.position.n_buckets * spec.attention.n_heads


def with_encoder(spec: ModelSpec, decoder: ParamCount) -> ParamCount:
    """``decoder``'s count with the encoder stack added: its blocks, final norm, position table
    and, when it does not share the decoder's, its embedding; totals by stack in `stacks`."""
    encoder = resolve.encoder_view(spec)
    layers = [layer_params(encoder, layer) for layer in resolve.layer_specs(encoder)]
    final_norm = norm_params(encoder.norm, spec.d_model) if encoder.head.final_norm else 0
    embedding = 0 if spec.encoder.share_embedding else resolve.vocab_rows(spec) * spec.d_model
    position = relative_bias_params(encoder)
    added = {
        "embedding": embedding,
        "position": position + relative_bias_params(spec),
        "attention": sum(layer.attention for layer in layers),
        "ffn": sum(layer.ffn for layer in layers),
        "norm": sum(layer.norm for layer in layers) + final_norm,
    }
    breakdown = {key: value + added.get(key, 0) for key, value in decoder.breakdown.items()}
    total = sum(breakdown.values())
    grown = total - decoder.total
    encoder_total = grown - relative_bias_params(spec)
    shared = decoder.breakdown["embedding"] + decoder.breakdown["head"]
    inactive = sum(layer.ffn - layer.ffn_active for layer in layers)
    return replace(
        decoder,
        total=total,
        total_untied=decoder.total_untied + grown,
        non_embedding=decoder.non_embedding + added["attention"] + added["ffn"] + added["norm"],
        active=decoder.active + grown - inactive,
        breakdown=breakdown,
        trainable=decoder.trainable + grown,
        trainable_breakdown=dict(breakdown),
        stacks={
            "encoder": encoder_total,
            "decoder": total - encoder_total - shared,
            "shared": shared,
        },
        encoder_layers=layers,
    )
