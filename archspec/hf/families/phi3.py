"""`phi3`: Llama with fused `qkv_proj` and `gate_up_proj`, an optional partial rotation and
LongRoPE scaling (the 128k models, Phi-4-mini) (Phi3ForCausalLM)."""

from __future__ import annotations

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
_RENAMED = {"su": "longrope", "yarn": "longrope"}
"""rope types Phi3Config reads as LongRoPE (its older names)."""


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "phi3", PHI3)
    # Phi3Config keeps the pretraining context at the top level, and standardize_rope_params
    # puts it over the rope dict's (transformers 4 reads it only there)
    original = k.get_int("original_max_position_embeddings", 4096)
    k.expect("attention_bias", (False, None), "transformers' Phi-3 has no attention biases")
    k.expect("mlp_bias", (False, None), "transformers' Phi-3 has no MLP biases")
    k.expect("lm_head_bias", (False, None), "transformers' Phi-3 has no output-head bias")
    for key in ("full_attn_mod", "interpolate_factor"):
        # Phi-4-mini's config carries these; transformers' Phi-3 reads neither
        k.expect(key, (1, None), "not read by transformers' Phi-3; only 1 is known to be neutral")
    position = read_rope(
        k,
        "phi3",
        max_seq_len=s.max_seq_len,
        fraction=1.0,  # Phi3Config: partial_rotary_factor defaults to 1 (Phi-4-mini: 0.75)
        original_max_seq_len=original,
        renamed=_RENAMED,
    )
    scaling = position.get("scaling")
    if scaling is not None and scaling["kind"] != "longrope":
        raise HFConfigError(
            f"rope type {scaling['kind']!r}: transformers' Phi-3 accepts only default and "
            "longrope (su, yarn)",
            keys=("rope_scaling", "rope_parameters"),
        )
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-5)),
        position=position,
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
        "original_max_position_embeddings": _original(spec),
        **write_rope(spec, layout, fraction=True),
    }


def _original(spec: ModelSpec) -> int:
    """The LongRoPE original context, else the context (then no RoPE type reads it)."""
    scaling = getattr(spec.position, "scaling", None)
    return getattr(scaling, "original_max_seq_len", spec.max_seq_len)


def hints(spec: ModelSpec) -> list[str]:
    scaling = getattr(spec.position, "scaling", None)
    if scaling is not None and scaling.kind == "longrope" and scaling.attention_factor:
        return [
            "an explicit LongRoPE attention_factor is read by transformers 5 only (transformers "
            "4's Phi-3 takes rope_scaling of exactly type, short_factor and long_factor); "
            "export for transformers 5"
        ]
    return []


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
    hints=hints,
)
