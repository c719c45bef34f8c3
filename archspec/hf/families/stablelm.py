"""`stablelm`: Llama with LayerNorms, partial RoPE, optional q/k/v biases and an optional
parallel block (StableLmForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_TO_HF,
    LLAMA,
    Family,
    assemble,
    gated_ffn,
    llama_names,
    read_rope,
    read_sizes,
    view,
    whole_heads,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

STABLELM = {
    **LLAMA,
    "vocab_size": 50304,
    "hidden_size": 2560,
    "intermediate_size": 6912,
    "num_key_value_heads": 32,
    "max_position_embeddings": 4096,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "stablelm", STABLELM)
    whole_heads(s, "stablelm")  # StableLmAttention: head_dim = hidden_size // heads
    qkv = k.get_bool("use_qkv_bias", False)
    if k.get_bool("qk_layernorm", False):
        raise HFConfigError(
            "StableLM's qk_layernorm keeps a separate LayerNorm per head (StableLmLayerNormPerHead); "
            "archspec's qk_norm shares one across heads",
            keys=("qk_layernorm",),
        )
    parallel = k.get_bool("use_parallel_residual", False)
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_eps", 1e-5)},
        # StableLmConfig: partial_rotary_factor defaults to 0.25
        position=read_rope(k, "stablelm", max_seq_len=s.max_seq_len, fraction=0.25),
        ffn=gated_ffn(k, STABLELM),
        bias=(qkv, qkv, qkv, False, False),
        # StableLmDecoderLayer: parallel blocks have no post_attention_layernorm
        block={"parallel_residual": True, "shared_norm": True} if parallel else {},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "layer_norm_eps": spec.norm.eps,
        "use_qkv_bias": v.att_bias["q"],
        "qk_layernorm": False,
        "use_parallel_residual": spec.block.parallel_residual,
        **write_rope(spec, layout, fraction=True),
    }


FAMILY = Family("stablelm", "StableLmForCausalLM", read, write, llama_names("stablelm"))
