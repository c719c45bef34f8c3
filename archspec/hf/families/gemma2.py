"""`gemma2`: Gemma with sandwich norms, soft-capping and alternating windows (Gemma2ForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    BIDIRECTIONAL,
    GATED_FROM_HF,
    GATED_TO_HF,
    POST_NORM_MODULES,
    Family,
    activation,
    assemble,
    layer_type_windows,
    llama_names,
    read_rope,
    read_sizes,
    rms,
    view,
    window_rules,
    write_rope,
)
from archspec.hf.families.gemma import GEMMA
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

GEMMA2 = {
    **GEMMA,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "gemma2", GEMMA2, divisible=True)
    qkvo = k.get_bool("attention_bias", False)
    k.expect("use_bidirectional_attention", (None, False), BIDIRECTIONAL)
    scalar = k.get_float("query_pre_attn_scalar", 256.0)
    if scalar <= 0:
        raise HFConfigError(
            "query_pre_attn_scalar must be positive", keys=("query_pre_attn_scalar",)
        )
    window = k.get_int("sliding_window", 4096, null=None, aliases=("sliding_window_size",))
    # Gemma2Config: layer i slides when (i + 1) % 2, so layer 0 slides and odd layers are global
    derived = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(s.n_layers)]
    base, rules = window_rules(layer_type_windows(k, s.n_layers, window, derived))
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6), unit_offset=True),
        position=read_rope(k, "gemma2", max_seq_len=s.max_seq_len),
        ffn={
            "activation": activation(k, "hidden_activation", "gelu_pytorch_tanh", GATED_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", GEMMA2["intermediate_size"]),
        },
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={
            # Gemma2Attention: scaling = query_pre_attn_scalar ** -0.5
            "scale": None if scalar == s.head_dim else scalar**-0.5,
            "sliding_window": base,
            "logit_softcap": k.get_float("attn_logit_softcapping", 50.0, null=None),
        },
        block={"placement": "sandwich"},
        embedding={"scale_by_sqrt_d_model": True},
        head={"logit_softcap": k.get_float("final_logit_softcapping", 30.0, null=None)},
        layer_overrides=rules,
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    act = GATED_TO_HF.get(v.ffn.activation, "gelu_pytorch_tanh")
    windows = v.windows
    window = next((w for w in windows if w is not None), None)
    scale = v.att.scale
    return {
        **v.sizes(),
        "hidden_activation": act,
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "query_pre_attn_scalar": v.head_dim if scale is None else max(1, round(scale**-2)),
        "attn_logit_softcapping": v.att.logit_softcap,
        "final_logit_softcapping": spec.head.logit_softcap,
        "sliding_window": window,
        "layer_types": ["full_attention" if w is None else "sliding_attention" for w in windows],
        **write_rope(spec, layout),
    }


FAMILY = Family(
    "gemma2",
    "Gemma2ForCausalLM",
    read,
    write,
    llama_names("gemma2", modules=POST_NORM_MODULES),
    {"hidden_act": "transformers' Gemma 2 reads hidden_activation, not hidden_act"},
)
