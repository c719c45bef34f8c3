"""`olmoe`: OLMo 2-style q/k norms over whole projections with routed SwiGLU experts
(OlmoeForCausalLM)."""

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
    whole_heads,
    write_rope,
)
from archspec.hf.families.mixtral import MOE_IGNORABLE
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import ExpertNames
from archspec.spec.model import ModelSpec

OLMOE = {
    **LLAMA,
    "vocab_size": 50304,
    "hidden_size": 2048,
    "intermediate_size": 2048,
    "num_hidden_layers": 16,
    "num_attention_heads": 16,
    "max_position_embeddings": 4096,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "olmoe", OLMOE)
    whole_heads(s, "olmoe")  # OlmoeAttention sizes k_norm by hidden_size // heads
    eps = k.get_float("rms_norm_eps", 1e-5)
    qkvo = k.get_bool("attention_bias", False)
    if k.get_float("clip_qkv", None, null=None) is not None:
        raise HFConfigError(
            "OLMoE clamps q, k and v after its q/k norms; archspec's qkv_clip clamps the "
            "projections before them, so clip_qkv cannot be expressed exactly",
            keys=("clip_qkv",),
        )
    moe = {
        "n_experts": k.get_int("num_experts", 64),
        "experts_per_token": k.get_int("num_experts_per_tok", 8),
        # OlmoeTopKRouter: softmax, top-k, renormalised only with norm_topk_prob
        "normalize_top_k": k.get_bool("norm_topk_prob", False),
    }
    return assemble(
        s,
        norm=rms(eps),
        position=read_rope(k, "olmoe", max_seq_len=s.max_seq_len),
        ffn={**gated_ffn(k, OLMOE), "moe": moe},
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        # OlmoeAttention: q_norm/k_norm are RMSNorms over the whole projection
        attention={"qk_norm": {"scope": "projection", "norm": rms(eps)}},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    moe = v.ffn.moe
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "num_experts": moe.n_experts if moe else 1,
        "num_experts_per_tok": moe.experts_per_token if moe else 1,
        "norm_topk_prob": moe.normalize_top_k if moe else False,
        **write_rope(spec, layout),
    }


FAMILY = Family(
    "olmoe",
    "OlmoeForCausalLM",
    read,
    write,
    llama_names("olmoe", experts=ExpertNames()),
    MOE_IGNORABLE,
)
