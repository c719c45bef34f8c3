"""`recurrent_gemma`: Griffin (RecurrentGemmaForCausalLM): recurrent blocks and local MQA in a
repeating pattern (`block_types`), Gemma's (1 + w) RMSNorm, a GeGLU MLP with biases whose
`intermediate_size` is twice its hidden width, the embedding scale rounded to bfloat16, final
logit soft-capping and a tied head (transformers' `modeling_recurrent_gemma.py`)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_FROM_HF,
    GATED_TO_HF,
    Family,
    activation,
    assemble,
    read_rope,
    read_sizes,
    rms,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec.model import ModelSpec

RECURRENT_GEMMA = {
    "vocab_size": 256000,
    "hidden_size": 2560,
    "num_hidden_layers": 26,
    "num_attention_heads": 10,
    "num_key_value_heads": None,
    "max_position_embeddings": 8192,  # no such key: RecurrentGemma's 8192-token training context
    "tie_word_embeddings": True,
}
BLOCK_TYPES = ["recurrent", "recurrent", "attention"]


def _mixer_rules(types: list[str]) -> dict[str, Any]:
    """`block_types` (repeated over the layers) as the model-wide mixer plus one rule per
    position of the pattern that differs from it."""
    base = "recurrent" if "recurrent" in types else "attention"
    period = len(types)
    rules = [
        {"every": period, "offset": j, "mixer": kind}
        for j, kind in enumerate(types)
        if kind != base
    ]
    return {"mixer": base, "layer_overrides": rules} if period > 1 or rules else {"mixer": base}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "recurrent_gemma", RECURRENT_GEMMA)
    types = k.take("block_types", BLOCK_TYPES)
    if not isinstance(types, list) or not types or set(types) - {"recurrent", "attention"}:
        raise HFConfigError(
            f"'block_types' must be a list of 'recurrent' and 'attention', got {types!r}",
            keys=("block_types",),
        )
    k.take("_block_types", None)  # a copy some checkpoints keep
    inter = k.get_int("intermediate_size", 3 * 2560)
    if inter % 2:
        raise HFConfigError(
            f"intermediate_size ({inter}) must be even: the MLP's width is half of it",
            keys=("intermediate_size",),
        )
    qkv = k.get_bool("attention_bias", False)
    k.expect("embeddings_scale_by_sqrt_dim", (True, None), "the modeling always scales")
    mixers = _mixer_rules(types)
    data = assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6), unit_offset=True),
        position=read_rope(k, "recurrent_gemma", max_seq_len=s.max_seq_len, fraction=0.5),
        ffn={
            "activation": activation(k, "hidden_activation", "gelu_pytorch_tanh", GATED_FROM_HF),
            "hidden_dim": inter // 2,  # RecurrentGemmaMlp: intermediate_size // 2
        },
        bias=(qkv, qkv, qkv, True, True),  # o_proj and the MLP always have biases
        attention={"sliding_window": k.get_int("attention_window_size", 2048)},
        embedding={"scale_by_sqrt_d_model": True, "scale_dtype": "bfloat16"},
        head={"logit_softcap": k.get_float("logits_soft_cap", 30.0)},
        layer_overrides=mixers.get("layer_overrides"),
    )
    data["mixer"] = mixers["mixer"]
    data["recurrent"] = {
        "width": k.get_int("lru_width", None, null=None) or s.d_model,
        "n_heads": s.n_heads,  # the RG-LRU's gate blocks are num_attention_heads
        "conv_width": k.get_int("conv1d_width", 4),
    }
    return data


def _pattern(kinds: list[str]) -> list[str]:
    """The shortest prefix whose repetition gives every layer's mixer."""
    for period in range(1, len(kinds) + 1):
        if all(kind == kinds[i % period] for i, kind in enumerate(kinds)):
            return kinds[:period]
    return kinds


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    sizes = v.sizes()
    sizes["intermediate_size"] = 2 * v.ffn.hidden_dim
    windows = [
        w for layer, w in zip(v.layers, v.windows, strict=True) if layer.mixer != "recurrent"
    ]
    recurrent = spec.recurrent
    return {
        **sizes,
        "block_types": _pattern([layer.mixer for layer in v.layers]),
        "lru_width": recurrent.width if recurrent else spec.d_model,
        "conv1d_width": recurrent.conv_width if recurrent else 4,
        "attention_window_size": (windows or v.windows)[0] or spec.max_seq_len,
        "logits_soft_cap": spec.head.logit_softcap or 30.0,
        "rms_norm_eps": spec.norm.eps,
        "hidden_activation": GATED_TO_HF.get(v.ffn.activation, "gelu_pytorch_tanh"),
        "attention_bias": v.att_bias["q"],
        **write_rope(spec, layout, fraction=True),
    }


NAMES = NameTable(
    ("recurrent_gemma",),
    base="model.",
    top={"embed": "model.embed_tokens", "final_norm": "model.final_norm", "lm_head": "lm_head"},
    layer="model.layers.{i}.",
    modules={
        "attn_norm": "temporal_pre_norm",
        "ffn_norm": "channel_pre_norm",
        **{f"attn.{p}_proj": f"temporal_block.{p}_proj" for p in "qkvo"},
        "attn.x_proj": "temporal_block.linear_x",
        "attn.y_proj": "temporal_block.linear_y",
        "attn.out_proj": "temporal_block.linear_out",
        "attn.conv": "temporal_block.conv_1d",
        "attn.lru": "temporal_block.rg_lru",
        "attn.lru.a_param": "temporal_block.rg_lru.recurrent_param",  # a whole tensor renamed
        "ffn.gate_proj": "mlp_block.gate_proj",
        "ffn.up_proj": "mlp_block.up_proj",
        "ffn.down_proj": "mlp_block.down_proj",
    },
)

FAMILY = Family(
    "recurrent_gemma",
    "RecurrentGemmaForCausalLM",
    read,
    write,
    NAMES,
    ignorable={
        "w_init_variance_scale": "initialisation only",
        "final_w_init_variance_scale": "initialisation only",
        "attention_dropout": "training-time dropout",
        "use_cache": "inference option",
    },
)
