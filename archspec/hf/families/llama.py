"""`llama`: the Llama layout the other families vary (LlamaForCausalLM)."""

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
    rms,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "llama", LLAMA, head_dim_null=True, divisible=True)
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "llama", max_seq_len=s.max_seq_len),
        ffn=gated_ffn(k, LLAMA),
        bias=(qkvo, qkvo, qkvo, qkvo, k.get_bool("mlp_bias", False)),
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "mlp_bias": v.ffn_bias,
        **write_rope(spec, layout),
    }


FAMILY = Family("llama", "LlamaForCausalLM", read, write, llama_names("llama"))
