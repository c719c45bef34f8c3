"""`qwen3`: Qwen2 without q/k/v biases, with per-head RMSNorm on queries and keys (Qwen3ForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_TO_HF,
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
from archspec.hf.families.qwen2 import QWEN2, read_windows, write_windows
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec

QWEN3 = {**QWEN2, "head_dim": 128}
"""Qwen3Config defaults (head_dim is a field, 128)."""


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "qwen3", QWEN3)
    eps = k.get_float("rms_norm_eps", 1e-6)
    qkvo = k.get_bool("attention_bias", False)  # Qwen3Attention: one flag for q, k, v and o
    base, rules = read_windows(k, s.n_layers)
    return assemble(
        s,
        norm=rms(eps),
        position=read_rope(k, "qwen3", max_seq_len=s.max_seq_len),
        ffn=gated_ffn(k, QWEN3),
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        # Qwen3Attention: q_norm/k_norm are RMSNorms over head_dim, before RoPE
        attention={"sliding_window": base, "qk_norm": {"scope": "head", "norm": rms(eps)}},
        layer_overrides=rules,
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        **write_windows(spec, layout),
        **write_rope(spec, layout),
    }


FAMILY = Family("qwen3", "Qwen3ForCausalLM", read, write, llama_names("qwen3"))
