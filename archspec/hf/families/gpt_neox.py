"""`gpt_neox` (Pythia, GPT-NeoX-20B): parallel attention and MLP with a LayerNorm each, partial
RoPE and a per-head fused `query_key_value` (GPTNeoXForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    LLAMA,
    PLAIN_FROM_HF,
    PLAIN_TO_HF,
    Family,
    activation,
    assemble,
    read_rope,
    read_sizes,
    view,
    whole_heads,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec.model import ModelSpec

NEOX = {
    **LLAMA,
    "vocab_size": 50432,
    "hidden_size": 6144,
    "intermediate_size": 24576,
    "num_hidden_layers": 44,
    "num_attention_heads": 64,
    "max_position_embeddings": 2048,
}


def _legacy(k: ConfigKeys, key: str, legacy: str, default: float) -> float:
    """GPTNeoXConfig reads `rotary_emb_base` / `rotary_pct` when `rope_parameters` lacks a value."""
    if legacy not in k:
        return default
    value = k.get_float(legacy)
    if key in k and k.present(key) and k.config[key] != value:
        raise HFConfigError(
            f"{legacy} ({value}) and {key} ({k.config[key]}) disagree", keys=(legacy, key)
        )
    return value


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "gpt_neox", NEOX, divisible=True)
    whole_heads(s, "gpt_neox")
    if s.n_kv_heads != s.n_heads:
        raise HFConfigError(
            "transformers' GPT-NeoX has one key/value head per query head; "
            f"num_key_value_heads is {s.n_kv_heads}",
            keys=("num_key_value_heads",),
        )
    theta = _legacy(k, "rope_theta", "rotary_emb_base", 10000.0)
    fraction = _legacy(k, "partial_rotary_factor", "rotary_pct", 0.25)
    position = read_rope(
        k, "gpt_neox", max_seq_len=s.max_seq_len, default_theta=theta, fraction=fraction
    )
    legacy = ("rotary_emb_base" in k and position["theta"] != theta) or (
        "rotary_pct" in k and position["fraction"] != fraction
    )
    if legacy:
        raise HFConfigError(
            "rotary_emb_base/rotary_pct disagree with the RoPE parameters",
            keys=("rotary_emb_base", "rotary_pct"),
        )
    qkvo = k.get_bool("attention_bias", True)
    parallel = k.get_bool("use_parallel_residual", True)
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_eps", 1e-5)},
        position=position,
        ffn={
            "activation": activation(k, "hidden_act", "gelu", PLAIN_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", NEOX["intermediate_size"]),
        },
        bias=(qkvo, qkvo, qkvo, qkvo, True),  # GPTNeoXMLP: biased dense_h_to_4h / dense_4h_to_h
        # GPTNeoXLayer: x + attn(ln1(x)) + mlp(ln2(x)) when parallel
        block={"parallel_residual": True, "shared_norm": False} if parallel else {},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    sizes = v.sizes(head_dim="when_needed")
    del sizes["num_key_value_heads"]
    out = {
        **sizes,
        "hidden_act": PLAIN_TO_HF.get(v.ffn.activation, "gelu"),
        "layer_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "use_parallel_residual": spec.block.parallel_residual,
        **write_rope(spec, layout, fraction=True),
    }
    if layout != "v5" and spec.position.kind == "rope":  # GPTNeoXConfig 4.x: its own names
        out.update(rotary_emb_base=spec.position.theta, rotary_pct=spec.position.fraction)
    return out


NAMES = NameTable(
    ("gpt_neox",),
    "gpt_neox.",
    {
        "embed": "gpt_neox.embed_in",
        "final_norm": "gpt_neox.final_layer_norm",
        "lm_head": "embed_out",
    },
    "gpt_neox.layers.{i}.",
    {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn.o_proj": "attention.dense",
        "ffn.up_proj": "mlp.dense_h_to_4h",
        "ffn.down_proj": "mlp.dense_4h_to_h",
    },
    # GPTNeoXAttention: query_key_value holds [q, k, v] per head
    fused_qkv="attention.query_key_value",
    qkv_layout="grouped",
    # older checkpoints saved the causal mask and rotary buffers
    ignored=(r"(^|\.)attention\.(bias|masked_bias)$", r"(^|\.)rotary_emb\.inv_freq$"),
)

FAMILY = Family(
    "gpt_neox",
    "GPTNeoXForCausalLM",
    read,
    write,
    NAMES,
    {"classifier_dropout": "dropout of the classification head; a causal LM does not use it"},
)
