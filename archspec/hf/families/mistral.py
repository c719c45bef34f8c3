"""`mistral`: Llama with one sliding window on every layer (MistralForCausalLM)."""

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
    uniform_window,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec

MISTRAL = {
    **LLAMA,
    "intermediate_size": 14336,
    "num_key_value_heads": 8,
    "max_position_embeddings": 131072,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "mistral", MISTRAL, head_dim_null=True)
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "mistral", max_seq_len=s.max_seq_len),
        ffn=gated_ffn(k, MISTRAL),
        bias=(False,) * 5,
        attention={"sliding_window": uniform_window(k, "mistral", s.n_layers, 4096)},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "sliding_window": v.att.sliding_window,
        **write_rope(spec, layout),
    }


FAMILY = Family("mistral", "MistralForCausalLM", read, write, llama_names("mistral"))
