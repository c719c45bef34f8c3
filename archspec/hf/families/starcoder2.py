"""`starcoder2`: LayerNorms, biases everywhere, a plain GELU MLP and one sliding window
(Starcoder2ForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    LLAMA,
    LLAMA_MODULES,
    PLAIN_FROM_HF,
    PLAIN_TO_HF,
    Family,
    activation,
    assemble,
    llama_names,
    read_rope,
    read_sizes,
    uniform_window,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec

STARCODER2 = {
    **LLAMA,
    "vocab_size": 49152,
    "hidden_size": 3072,
    "intermediate_size": 12288,
    "num_hidden_layers": 30,
    "num_attention_heads": 24,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "starcoder2", STARCODER2)
    bias = k.get_bool("use_bias", True)
    # Pre-release configs name what transformers' Starcoder2 always builds
    k.expect("norm_type", ("layer_norm",), "transformers' Starcoder2 builds LayerNorms only")
    k.expect("mlp_type", ("default",), "transformers' Starcoder2 builds the plain MLP only")
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("norm_epsilon", 1e-5)},
        position=read_rope(k, "starcoder2", max_seq_len=s.max_seq_len),
        ffn={
            "activation": activation(k, "hidden_act", "gelu_pytorch_tanh", PLAIN_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", STARCODER2["intermediate_size"]),
        },
        bias=(bias,) * 5,
        attention={"sliding_window": uniform_window(k, "starcoder2", s.n_layers, None)},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": PLAIN_TO_HF.get(v.ffn.activation, "gelu_pytorch_tanh"),
        "norm_epsilon": spec.norm.eps,
        "use_bias": v.att_bias["q"],
        "sliding_window": v.att.sliding_window,
        **write_rope(spec, layout),
    }


FAMILY = Family(
    "starcoder2",
    "Starcoder2ForCausalLM",
    read,
    write,
    llama_names(
        "starcoder2",
        modules={**LLAMA_MODULES, "ffn.up_proj": "mlp.c_fc", "ffn.down_proj": "mlp.c_proj"},
    ),
    {
        "residual_dropout": "training-only setting (initialisation or dropout)",
        "embedding_dropout": "training-only setting (initialisation or dropout)",
    },
)
