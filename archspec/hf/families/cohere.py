"""`cohere`: Command R (CohereForCausalLM): one bias-free LayerNorm feeding parallel attention and
FFN branches, interleaved RoPE, tied embeddings, logits times `logit_scale`."""

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
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

COHERE = {
    "vocab_size": 256000,
    "hidden_size": 8192,
    "intermediate_size": 22528,
    "num_hidden_layers": 40,
    "num_attention_heads": 64,
    "num_key_value_heads": None,
    "max_position_embeddings": 8192,
    "tie_word_embeddings": True,
}


def cohere_parts(k: ConfigKeys, defaults: dict[str, Any]) -> dict[str, Any]:
    """What Cohere and Cohere 2 share: the norm, block, RoPE layout, FFN and logit scale."""
    scale = k.get_float("logit_scale", 0.0625)
    if scale <= 0:
        raise HFConfigError(f"logit_scale must be positive, got {scale}", keys=("logit_scale",))
    return {
        # CohereLayerNorm: mean and variance in float32, a weight and no bias
        "norm": {"kind": "layernorm", "bias": False, "eps": k.get_float("layer_norm_eps", 1e-5)},
        "ffn": gated_ffn(k, defaults),
        # CohereDecoderLayer: residual + attn(norm(x)) + mlp(norm(x))
        "block": {"parallel_residual": True},
        "head": {"logit_scale": scale},
    }


def cohere_position(k: ConfigKeys, family: str, max_seq_len: int) -> dict[str, Any]:
    # CohereRotaryEmbedding repeat_interleaves the frequencies: pairs (2i, 2i+1) rotate together
    return {**read_rope(k, family, max_seq_len=max_seq_len), "layout": "interleaved"}


def write_cohere(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    """Cohere's keys, shared with Cohere 2."""
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "layer_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "logit_scale": spec.head.logit_scale or 1.0,
        **write_rope(spec, layout),
    }


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "cohere", COHERE)
    if k.get_bool("use_qk_norm", False):
        raise HFConfigError(
            "use_qk_norm is true: Cohere's QK-norm has a weight per head (n_heads x head_dim), "
            "which archspec's qk_norm (one norm shared by the heads) cannot express",
            keys=("use_qk_norm",),
        )
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        position=cohere_position(k, "cohere", s.max_seq_len),
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        **cohere_parts(k, COHERE),
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    return {**write_cohere(spec, layout), "use_qk_norm": False}


FAMILY = Family("cohere", "CohereForCausalLM", read, write, llama_names("cohere"))
