"""`phi3`: Llama with fused `qkv_proj` and `gate_up_proj` and an optional partial rotation
(Phi3ForCausalLM). LongRoPE scaling (the 128k models) is refused until the spec expresses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.hf.families.base import (
    GATED_TO_HF,
    LLAMA,
    LLAMA_MODULES,
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
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

PHI3 = {
    **LLAMA,
    "vocab_size": 32064,
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "max_position_embeddings": 4096,
}
_LONGROPE = ("longrope", "su", "yarn")
"""rope types Phi3Config turns into LongRoPE (`su` and `yarn` are its older names)."""


def _refuse_longrope(k: ConfigKeys) -> None:
    for key in ("rope_scaling", "rope_parameters"):
        rope = k.config.get(key)
        if isinstance(rope, Mapping):
            kind = rope.get("rope_type", rope.get("type"))
            if kind in _LONGROPE:
                raise HFConfigError(
                    f"'{key}' asks for rope_type {kind!r}, which transformers' Phi-3 reads as "
                    "LongRoPE (short/long factor lists); archspec's position.scaling cannot "
                    "express it yet",
                    keys=(key,),
                )


def read(k: ConfigKeys) -> dict[str, Any]:
    _refuse_longrope(k)
    s = read_sizes(k, "phi3", PHI3)
    k.get_int("original_max_position_embeddings", 4096)  # read by LongRoPE only, refused above
    k.expect("attention_bias", (False, None), "transformers' Phi-3 has no attention biases")
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-5)),
        # Phi3Config: partial_rotary_factor defaults to 1 (Phi-4-mini: 0.75)
        position=read_rope(k, "phi3", max_seq_len=s.max_seq_len, fraction=1.0),
        ffn=gated_ffn(k, PHI3),
        bias=(False,) * 5,
        attention={"sliding_window": uniform_window(k, "phi3", s.n_layers, None)},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "sliding_window": v.att.sliding_window,
        "original_max_position_embeddings": spec.max_seq_len,
        **write_rope(spec, layout, fraction=True),
    }


FAMILY = Family(
    "phi3",
    "Phi3ForCausalLM",
    read,
    write,
    llama_names(
        "phi3",
        modules={k: v for k, v in LLAMA_MODULES.items() if k not in ("attn.q_norm", "attn.k_norm")},
        fused_qkv="self_attn.qkv_proj",
        fused_gate_up="mlp.gate_up_proj",
    ),
)
