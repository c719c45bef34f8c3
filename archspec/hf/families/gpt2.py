"""`gpt2`: learned positions, Conv1D weights and a fused `c_attn` (GPT2LMHeadModel)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    PLAIN_FROM_HF,
    PLAIN_TO_HF,
    Family,
    Sizes,
    activation,
    assemble,
    view,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec import resolve
from archspec.spec.model import ModelSpec

_GPT2_IGNORABLE = {
    **dict.fromkeys(
        (
            "summary_type",
            "summary_use_proj",
            "summary_activation",
            "summary_proj_to_labels",
            "summary_first_dropout",
        ),
        "sequence-summary head of GPT2DoubleHeadsModel; the causal LM does not have it",
    ),
    "n_ctx": "legacy duplicate of n_positions; transformers does not read it",
    "reorder_and_upcast_attn": "computes attention scores in float32; same architecture",
}


def read(k: ConfigKeys) -> dict[str, Any]:
    # GPT2Config.attribute_map lets the Llama-style names stand in for the GPT-2 ones
    d = k.get_int("n_embd", 768, aliases=("hidden_size",))
    h = k.get_int("n_head", 12, aliases=("num_attention_heads",))
    n = k.get_int("n_layer", 12, aliases=("num_hidden_layers",))
    if h <= 0 or d % h:
        raise HFConfigError(
            f"GPT2Attention needs n_embd ({d}) divisible by n_head ({h})", keys=("n_embd", "n_head")
        )
    inner = k.get_int("n_inner", None, null=None)
    s = Sizes(
        vocab=k.get_int("vocab_size", 50257),
        d_model=d,
        n_layers=n,
        n_heads=h,
        n_kv_heads=h,
        head_dim=d // h,
        max_seq_len=k.get_int("n_positions", 1024, aliases=("max_position_embeddings",)),
        tie=k.get_bool("tie_word_embeddings", True),
    )
    # GPT2Attention: scaling = head_dim ** -0.5 (or 1), divided by layer_idx + 1 when asked
    scaled = k.get_bool("scale_attn_weights", True)
    inverse = k.get_bool("scale_attn_by_inverse_layer_idx", False)
    base = (d // h) ** -0.5 if scaled else 1.0
    rules = (
        [{"layers": [i], "attention": {"scale": base / float(i + 1)}} for i in range(1, n)]
        if inverse
        else []
    )
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_epsilon", 1e-5)},
        position={"kind": "learned"},
        ffn={
            "activation": activation(k, "activation_function", "gelu_new", PLAIN_FROM_HF),
            "hidden_dim": 4 * d if inner is None else inner,  # GPT2Block: n_inner or 4 * n_embd
        },
        bias=(True,) * 5,
        attention={} if scaled else {"scale": 1.0},
        layer_overrides=rules,
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    size = v.head_dim
    scales = [
        size**-0.5 if layer.attention.scale is None else layer.attention.scale for layer in v.layers
    ]
    first = scales[0]
    inverse = len(scales) > 1 and all(s == first / float(i + 1) for i, s in enumerate(scales))
    return {
        "vocab_size": resolve.vocab_rows(spec),
        "n_embd": spec.d_model,
        "n_layer": spec.n_layers,
        "n_head": v.att.n_heads,
        "n_positions": spec.max_seq_len,
        "n_inner": v.ffn.hidden_dim,
        "activation_function": PLAIN_TO_HF.get(v.ffn.activation, "gelu_new"),
        "layer_norm_epsilon": spec.norm.eps,
        "scale_attn_weights": first != 1.0 or size == 1,
        "scale_attn_by_inverse_layer_idx": inverse,
        "tie_word_embeddings": spec.head.tie_embeddings,
    }


NAMES = NameTable(
    ("gpt2",),
    "transformer.",
    {
        "embed": "transformer.wte",
        "pos_embed": "transformer.wpe",
        "final_norm": "transformer.ln_f",
        "lm_head": "lm_head",
    },
    "transformer.h.{i}.",
    {
        "attn_norm": "ln_1",
        "ffn_norm": "ln_2",
        "attn.o_proj": "attn.c_proj",
        "ffn.up_proj": "mlp.c_fc",
        "ffn.down_proj": "mlp.c_proj",
    },
    fused_qkv="attn.c_attn",
    conv1d=frozenset({"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}),
    # GPT-2 checkpoints of transformers < 4.3x saved the causal-mask buffers.
    ignored=(r"(^|\.)attn\.(bias|masked_bias)$",),
)

FAMILY = Family("gpt2", "GPT2LMHeadModel", read, write, NAMES, _GPT2_IGNORABLE)
