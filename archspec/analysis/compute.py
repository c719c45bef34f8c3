"""Derived figures beyond the parameter count: forward FLOPs, KV-cache size and weight memory.

All pure integer math from the spec; each formula cites where it comes from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from archspec.analysis.params import ParamCount, count_params
from archspec.spec import adapters, linear, resolve
from archspec.spec.model import ModelSpec

KV_BYTES = 2
"""KV-cache figures assume a 16-bit cache (bf16/fp16), how these models are served, whatever the
dtype of the published weights, so that models compare on equal terms."""
WEIGHT_FORMATS = {"fp32": 32, "bf16": 16, "int8": 8, "int4": 4}
"""Bits per weight for the memory figures (int8/int4: weights only, no quantisation scales)."""


@dataclass(frozen=True)
class Analysis:
    """Figures derived from one spec."""

    name: str
    params: ParamCount
    flops_per_token: int
    """Forward FLOPs per token with `seq_len` tokens of context: 2 * N_matmul +
    4 * sum_l(n_heads * head_dim * T_l), with N_matmul the active weights of all matrix
    multiplies (output head included) and T_l the context a layer attends to, min(seq_len,
    window) (Kaplan et al. 2020, Table 1; PaLM, Chowdhery et al. 2022, Appendix B; one
    multiply-add = 2 FLOPs). A recurrent layer (Griffin) counts its projections, gates and
    Conv1D as matmul weights and attends to nothing; its elementwise scan (~10 FLOPs per
    channel) is left out."""
    seq_len: int
    """Context length `flops_per_token` is computed at: `max_seq_len` unless chosen."""
    kv_cache_bytes_per_token: int
    """Keys and values of one token over all layers in a 16-bit cache: sum_l 2 * n_kv_heads * head_dim * 2."""
    kv_cache_bytes_full_context: int
    """KV cache of one sequence at max_seq_len; a sliding-window layer keeps only its window."""
    weight_bytes: dict[str, int]
    """Bytes to hold `total` parameters at fp32 / bf16 / int8 / int4; with BitLinear
    projections also ternary (2-bit packed, and the log2(3)-bit bound) with the rest at bf16."""
    recurrent_state_bytes: int = 0
    """State of one sequence in the recurrent layers (Griffin), the same at any context length:
    per layer the Conv1D's last conv_width - 1 inputs (16-bit) and the RG-LRU state (float32,
    as the references keep it). Their layers add nothing to the KV cache."""
    stacks: dict[str, dict[str, int]] = field(default_factory=dict)
    """Encoder-decoder: `flops_per_token` and `cache_bytes_per_token` of each stack (see
    :func:`stack_figures`); the totals above are their sums. Empty for a decoder-only model."""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["params"] = self.params.to_dict()
        if not self.stacks:  # decoder-only: the form it always had
            del data["stacks"]
        return data


def analyse(spec: ModelSpec, seq_len: int | None = None) -> Analysis:
    """Compute every derived figure of ``spec``.

    Args:
        spec: A validated spec.
        seq_len: Context length for the FLOPs per token (default ``max_seq_len``); beyond
            ``max_seq_len`` the figure extrapolates the same formula.

    Raises:
        ValueError: ``seq_len`` is below 1.
    """
    if seq_len is not None and seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    length = spec.max_seq_len if seq_len is None else seq_len
    params = count_params(spec)
    layers = resolve.layer_specs(spec)
    kv_token = 0
    kv_full = 0
    attention_flops = 0
    state = 0
    for layer in layers:
        if layer.mixer == "recurrent" and spec.recurrent is not None:
            r = spec.recurrent
            state += r.width * (r.conv_width - 1) * KV_BYTES + r.width * 4
            continue
        att = layer.attention
        hd = resolve.head_dim(att, spec.d_model)
        per_token = 2 * resolve.n_kv_heads(att) * hd * KV_BYTES
        window = att.sliding_window or spec.max_seq_len
        kv_token += per_token
        kv_full += per_token * min(spec.max_seq_len, window)
        attention_flops += 4 * att.n_heads * hd * min(length, att.sliding_window or length)
    analysis = Analysis(
        name=spec.name,
        params=params,
        flops_per_token=2 * matmul_params(spec, params) + attention_flops,
        seq_len=length,
        kv_cache_bytes_per_token=kv_token,
        kv_cache_bytes_full_context=kv_full,
        weight_bytes={fmt: params.total * bits // 8 for fmt, bits in WEIGHT_FORMATS.items()}
        | ternary_weight_bytes(spec, params.total),
        recurrent_state_bytes=state,
    )
    if spec.encoder is None:
        return analysis
    stacks = stack_figures(spec, params, length)
    cross_full = stacks["encoder"]["cache_bytes_per_token"] * spec.max_seq_len
    return replace(
        analysis,
        flops_per_token=sum(s["flops_per_token"] for s in stacks.values()),
        kv_cache_bytes_per_token=sum(s["cache_bytes_per_token"] for s in stacks.values()),
        kv_cache_bytes_full_context=kv_full + cross_full,
        stacks=stacks,
    )


def stack_figures(spec: ModelSpec, params: ParamCount, length: int) -> dict[str, dict[str, int]]:
    """Per-token figures of an encoder-decoder's two stacks at ``length`` tokens of context.

    Encoder, per input token: 2 x its block weights, 4 * n_heads * head_dim * length per layer
    (bidirectional attention over the whole input), and the decoder layers' cross-attention key
    and value projections, computed once per input token; its cache is those keys and values
    (16-bit), held while decoding. Decoder, per output token: 2 x its block weights less the
    cross-attention keys and values, plus the head; causal self-attention over `length` tokens
    and cross-attention over `length` input tokens; its cache is the self-attention KV cache.
    """
    encoder = resolve.encoder_view(spec)
    cross = resolve.cross_attention(spec)
    cross_hd = resolve.head_dim(cross, spec.d_model)
    cross_kv = 2 * resolve.n_kv_heads(cross) * cross_hd  # keys and values, per decoder layer
    enc_attention = sum(
        4 * layer.attention.n_heads * resolve.head_dim(layer.attention, spec.d_model) * length
        for layer in resolve.layer_specs(encoder)
    )
    enc_weights = sum(
        layer.total - (layer.ffn - layer.ffn_active) for layer in params.encoder_layers
    )
    kv_matmul = spec.n_layers * spec.d_model * cross_kv
    dec_weights = sum(layer.total - (layer.ffn - layer.ffn_active) for layer in params.per_layer)
    dec_attention = 0
    for layer in resolve.layer_specs(spec):
        hd = resolve.head_dim(layer.attention, spec.d_model)
        dec_attention += 4 * layer.attention.n_heads * hd * length
        dec_attention += 4 * cross.n_heads * cross_hd * length
    head = resolve.vocab_rows(spec) * spec.d_model
    self_kv = sum(
        2 * resolve.n_kv_heads(layer.attention) * resolve.head_dim(layer.attention, spec.d_model)
        for layer in resolve.layer_specs(spec)
    )
    return {
        "encoder": {
            "flops_per_token": 2 * (enc_weights + kv_matmul) + enc_attention,
            "cache_bytes_per_token": spec.n_layers * cross_kv * KV_BYTES,
        },
        "decoder": {
            "flops_per_token": 2 * (dec_weights - kv_matmul + head) + dec_attention,
            "cache_bytes_per_token": self_kv * KV_BYTES,
        },
    }


TERNARY_FORMATS = ("ternary 2-bit packed, rest bf16", "ternary log2(3) bits, rest bf16")
"""Extra memory figures of a spec with BitLinear projections."""


def ternary_weight_bytes(spec: ModelSpec, total: int) -> dict[str, int]:
    """Bytes of a model whose BitLinear weights are stored ternary, every other parameter (and
    one scale per BitLinear) at 16 bits: packed four to a byte, ceil(out / 4) * in bytes per
    weight, as transformers' BitLinear keeps them; and the information bound, log2(3) = 1.585
    bits per ternary weight (Ma et al. 2024's "1.58 bits"). Empty for a dense spec."""
    chosen = linear.projections(spec)
    if not chosen:
        return {}
    ternary = packed = scales = 0
    for layer in resolve.layer_specs(spec):
        for name in chosen:
            if layer.mixer == "recurrent" and name in adapters.ATTENTION:
                continue  # a recurrent block has no attention projections
            n_in, n_out = adapters.linear_shape(spec, layer, name)
            ternary += n_in * n_out
            packed += -(-n_out // 4) * n_in
            scales += 1
    rest = (total - ternary + scales) * 2
    bound = math.ceil(ternary * math.log2(3) / 8)
    return dict(zip(TERNARY_FORMATS, (packed + rest, bound + rest), strict=True))


def tokens_text(n: int) -> str:
    """A context length as printed in labels: '1 token', '4,096 tokens'."""
    return f"{n:,} token" + ("" if n == 1 else "s")


def matmul_params(spec: ModelSpec, params: ParamCount) -> int:
    """Active weights that take part in a matrix multiply per token: the blocks (norms and
    biases are negligible and included) plus the output projection, tied or not."""
    inactive = params.total - params.active
    head_matrix = resolve.vocab_rows(spec) * spec.d_model
    return params.non_embedding - inactive + head_matrix
