"""`gemma`: Llama with (1 + w) RMSNorms, a scaled embedding and GeGLU (GemmaForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    BIDIRECTIONAL,
    GATED_FROM_HF,
    GATED_TO_HF,
    Family,
    assemble,
    llama_names,
    read_rope,
    read_sizes,
    rms,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

GEMMA = {
    "vocab_size": 256000,
    "hidden_size": 3072,
    "intermediate_size": 24576,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "head_dim": 256,
    "max_position_embeddings": 8192,
    "tie_word_embeddings": True,
}


def _gemmaactivation(k: ConfigKeys) -> str:
    """Gemma's MLP activation: transformers 5 reads `hidden_act` (rewriting 'gelu' to the tanh
    approximation); transformers 4 read `hidden_activation` (default tanh GELU) and ignored it."""
    act = k.get_str("hidden_act", "gelu_pytorch_tanh")
    if act == "gelu":
        k.note("Gemma's hidden_act 'gelu' is read as the tanh approximation, as transformers does")
        act = "gelu_pytorch_tanh"
    if "hidden_activation" in k:
        legacy = k.get_str("hidden_activation", None, null=None)
        if legacy is not None and legacy != act:
            raise HFConfigError(
                f"hidden_act ({act!r}) and hidden_activation ({legacy!r}) disagree; transformers 5 "
                "reads the first, transformers 4 the second",
                keys=("hidden_act", "hidden_activation"),
            )
    elif "hidden_act" in k and act != "gelu_pytorch_tanh":
        raise HFConfigError(
            f"hidden_act is {act!r} but transformers 4 ignores it for Gemma (tanh GELU unless "
            "hidden_activation says otherwise); add hidden_activation to disambiguate",
            keys=("hidden_act",),
        )
    if act not in GATED_FROM_HF:
        raise HFConfigError(
            f"'hidden_act' is {act!r}; archspec maps {', '.join(GATED_FROM_HF)}",
            keys=("hidden_act",),
        )
    return GATED_FROM_HF[act]


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "gemma", GEMMA)
    qkvo = k.get_bool("attention_bias", False)
    k.expect("use_bidirectional_attention", (None, False), BIDIRECTIONAL)
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6), unit_offset=True),  # GemmaRMSNorm: x * (1 + w)
        position=read_rope(k, "gemma", max_seq_len=s.max_seq_len),
        ffn={
            "activation": _gemmaactivation(k),
            "hidden_dim": k.get_int("intermediate_size", 24576),
        },
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        embedding={"scale_by_sqrt_d_model": True},  # GemmaModel: embed_scale = hidden_size ** 0.5
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    act = GATED_TO_HF.get(v.ffn.activation, "gelu_pytorch_tanh")
    return {
        **v.sizes(),
        "hidden_act": act,
        "hidden_activation": act,
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        **write_rope(spec, layout),
    }


def hints(spec: ModelSpec) -> list[str]:
    if view(spec).ffn.activation == "geglu":
        return ["transformers rewrites Gemma's hidden_act 'gelu' to the tanh approximation"]
    return []


FAMILY = Family("gemma", "GemmaForCausalLM", read, write, llama_names("gemma"), hints=hints)
