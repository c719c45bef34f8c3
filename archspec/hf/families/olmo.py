"""`olmo`: Llama with weightless LayerNorms and optional q/k/v clipping (OlmoForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_TO_HF,
    LLAMA,
    Family,
    assemble,
    gated_ffn,
    llama_names,
    olmo_embedding_size,
    read_rope,
    read_sizes,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec

OLMO = {**LLAMA, "vocab_size": 50304}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "olmo", OLMO)
    olmo_embedding_size(k, s.vocab)
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        # OlmoLayerNorm: F.layer_norm in float32, no weight or bias, eps fixed at 1e-5
        norm={"kind": "layernorm", "eps": 1e-5, "affine": False},
        position=read_rope(k, "olmo", max_seq_len=s.max_seq_len),
        ffn=gated_ffn(k, OLMO),
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={"qkv_clip": k.get_float("clip_qkv", None, null=None)},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "attention_bias": v.att_bias["q"],
        "clip_qkv": v.att.qkv_clip,
        **write_rope(spec, layout),
    }


FAMILY = Family("olmo", "OlmoForCausalLM", read, write, llama_names("olmo"))
