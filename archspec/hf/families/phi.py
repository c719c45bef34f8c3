"""`phi`: parallel attention and MLP under one LayerNorm, partial RoPE (PhiForCausalLM)."""

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
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec.model import ModelSpec

PHI = {
    **LLAMA,
    "vocab_size": 51200,
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 24,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "phi", PHI)
    eps = k.get_float("layer_norm_eps", 1e-5)
    qk = k.get_bool("qk_layernorm", False)
    if qk and s.head_dim != s.d_model // s.n_heads:
        raise HFConfigError(
            "phi's q/k LayerNorms have hidden_size // num_attention_heads features; "
            "head_dim differs",
            keys=("head_dim", "qk_layernorm"),
        )
    layernorm = {"kind": "layernorm", "eps": eps}
    return assemble(
        s,
        norm=layernorm,
        # PhiConfig: partial_rotary_factor defaults to 0.5
        position=read_rope(k, "phi", max_seq_len=s.max_seq_len, fraction=0.5),
        ffn={
            "activation": activation(k, "hidden_act", "gelu_new", PLAIN_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", PHI["intermediate_size"]),
        },
        bias=(True,) * 5,
        attention={"qk_norm": {"scope": "head", "norm": layernorm}} if qk else {},
        # PhiDecoderLayer: x + attn(ln(x)) + mlp(ln(x)), one LayerNorm
        block={"parallel_residual": True, "shared_norm": True},
        head={"bias": True},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": PLAIN_TO_HF.get(v.ffn.activation, "gelu_new"),
        "layer_norm_eps": spec.norm.eps,
        "qk_layernorm": v.att.qk_norm is not None,
        **write_rope(spec, layout, fraction=True),
    }


NAMES = NameTable(
    ("phi",),
    "model.",
    {
        "embed": "model.embed_tokens",
        "final_norm": "model.final_layernorm",
        "lm_head": "lm_head",
    },
    "model.layers.{i}.",
    {
        "attn_norm": "input_layernorm",
        "attn.q_proj": "self_attn.q_proj",
        "attn.k_proj": "self_attn.k_proj",
        "attn.v_proj": "self_attn.v_proj",
        "attn.o_proj": "self_attn.dense",
        "attn.q_norm": "self_attn.q_layernorm",
        "attn.k_norm": "self_attn.k_layernorm",
        "ffn.up_proj": "mlp.fc1",
        "ffn.down_proj": "mlp.fc2",
    },
)

FAMILY = Family("phi", "PhiForCausalLM", read, write, NAMES)
