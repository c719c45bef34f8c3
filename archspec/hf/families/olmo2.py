"""`olmo2`: OLMo with post-branch RMSNorms and q/k norms (Olmo2ForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_TO_HF,
    POST_NORM_MODULES,
    Family,
    assemble,
    gated_ffn,
    llama_names,
    olmo_embedding_size,
    read_rope,
    read_sizes,
    rms,
    view,
    write_rope,
)
from archspec.hf.families.olmo import OLMO
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "olmo2", OLMO)
    olmo_embedding_size(k, s.vocab)
    eps = k.get_float("rms_norm_eps", 1e-5)
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        norm=rms(eps),
        position=read_rope(k, "olmo2", max_seq_len=s.max_seq_len),
        ffn=gated_ffn(k, OLMO),
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        # Olmo2Attention: q_norm/k_norm are RMSNorms over the whole projection, same eps
        attention={"qk_norm": {"scope": "projection", "norm": rms(eps)}},
        # Olmo2DecoderLayer: x + post_norm(f(x)), no pre-norm
        block={"placement": "branch_post"},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        **write_rope(spec, layout),
    }


FAMILY = Family(
    "olmo2", "Olmo2ForCausalLM", read, write, llama_names("olmo2", modules=POST_NORM_MODULES)
)
