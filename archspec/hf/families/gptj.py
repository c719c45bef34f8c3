"""`gptj`: parallel attention and MLP under one LayerNorm, interleaved partial RoPE and a biased
head (GPTJForCausalLM)."""

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
from archspec.hf.families.gpt2 import SUMMARY_IGNORABLE
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec import resolve
from archspec.spec.model import ModelSpec


def read(k: ConfigKeys) -> dict[str, Any]:
    # GPTJConfig.attribute_map lets the Llama-style names stand in for the GPT-2 ones
    d = k.get_int("n_embd", 4096, aliases=("hidden_size",))
    h = k.get_int("n_head", 16, aliases=("num_attention_heads",))
    if h <= 0 or d % h:
        raise HFConfigError(
            f"GPTJAttention needs n_embd ({d}) divisible by n_head ({h})", keys=("n_embd", "n_head")
        )
    size = d // h
    # GPTJAttention rotates the first rotary_dim dimensions of each head, in pairs
    fraction = rotary_fraction(k, size, 64)
    # legacy keys of the original GPT-J config: transformers always rotates and always scales
    k.expect("rotary", (True, None), "transformers' GPT-J always applies rotary embeddings")
    k.expect("scale_attn_weights", (True, None), "transformers' GPT-J always scales by sqrt(d)")
    inner = k.get_int("n_inner", None, null=None)
    s = Sizes(
        vocab=k.get_int("vocab_size", 50400),
        d_model=d,
        n_layers=k.get_int("n_layer", 28, aliases=("num_hidden_layers",)),
        n_heads=h,
        n_kv_heads=h,
        head_dim=size,
        max_seq_len=k.get_int("n_positions", 2048, aliases=("max_position_embeddings",)),
        tie=k.get_bool("tie_word_embeddings", False),
    )
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_epsilon", 1e-5)},
        # create_sinusoidal_positions: base 10000, no config key
        position={
            "kind": "rope",
            "theta": 10000.0,
            "fraction": fraction,
            "layout": "interleaved",
        },
        ffn={
            "activation": activation(k, "activation_function", "gelu_new", PLAIN_FROM_HF),
            "hidden_dim": 4 * d if inner is None else inner,  # GPTJBlock: n_inner or 4 * n_embd
        },
        bias=(False, False, False, False, True),  # GPTJMLP: fc_in/fc_out biased, attention not
        # GPTJBlock: x + attn(ln_1(x)) + mlp(ln_1(x))
        block={"parallel_residual": True, "shared_norm": True},
        head={"bias": True},
    )


def rotary_fraction(k: ConfigKeys, size: int, default: int) -> float:
    """`rotary_dim` (GPT-J, phi-msft) as the spec's fraction of the head, checked to round back."""
    rotary = k.get_int("rotary_dim", default)
    if not 0 < rotary <= size or rotary % 2 or int(size * (rotary / size)) != rotary:
        raise HFConfigError(
            f"rotary_dim {rotary} must be an even number of dimensions of the {size}-wide heads",
            keys=("rotary_dim",),
        )
    return rotary / size


def gpt_style_keys(spec: ModelSpec) -> dict[str, Any]:
    """The GPT-2-style size keys with `rotary_dim` (GPT-J, phi-msft)."""
    v = view(spec)
    position = spec.position
    rotary = resolve.rotary_dim(position, v.head_dim) if position.kind == "rope" else v.head_dim
    return {
        "vocab_size": resolve.vocab_rows(spec),
        "n_embd": spec.d_model,
        "n_layer": spec.n_layers,
        "n_head": v.att.n_heads,
        "n_positions": spec.max_seq_len,
        "n_inner": v.ffn.hidden_dim,
        "rotary_dim": rotary,
        "activation_function": PLAIN_TO_HF.get(v.ffn.activation, "gelu_new"),
        "layer_norm_epsilon": spec.norm.eps,
        "tie_word_embeddings": spec.head.tie_embeddings,
    }


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    return gpt_style_keys(spec)


NAMES = NameTable(
    ("gptj",),
    "transformer.",
    {"embed": "transformer.wte", "final_norm": "transformer.ln_f", "lm_head": "lm_head"},
    "transformer.h.{i}.",
    {
        "attn_norm": "ln_1",
        "attn.q_proj": "attn.q_proj",
        "attn.k_proj": "attn.k_proj",
        "attn.v_proj": "attn.v_proj",
        "attn.o_proj": "attn.out_proj",
        "ffn.up_proj": "mlp.fc_in",
        "ffn.down_proj": "mlp.fc_out",
    },
    # older checkpoints saved the causal-mask buffers
    ignored=(r"(^|\.)attn\.(bias|masked_bias)$",),
)

FAMILY = Family("gptj", "GPTJForCausalLM", read, write, NAMES, SUMMARY_IGNORABLE)
