"""`phi-msft`: the remote-code Phi layout of the first microsoft/phi-2 and phi-1_5 uploads, with a
fused `mixer.Wqkv` and the final norm inside `lm_head` (`PhiForCausalLM` of `modeling_phi.py`).

The same model as transformers' `phi` (parallel block under one LayerNorm, partial RoPE rotating
halves, biases everywhere, a biased head); only the names and the fused q/k/v differ.
"""

from __future__ import annotations

import math
from typing import Any

from archspec.hf.families.base import (
    PLAIN_FROM_HF,
    Family,
    Sizes,
    activation,
    assemble,
    view,
)
from archspec.hf.families.gptj import gpt_style_keys, rotary_fraction
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec import resolve
from archspec.spec.model import ModelSpec

_KERNELS = "kernel choice of the remote code (flash-attn, fused dense); same math"


def read(k: ConfigKeys) -> dict[str, Any]:
    d = k.get_int("n_embd", 1024)
    h = k.get_int("n_head", 16)
    if h <= 0 or d % h:
        raise HFConfigError(
            f"n_embd ({d}) must be divisible by n_head ({h})", keys=("n_embd", "n_head")
        )
    size = d // h
    kv = k.get_int("n_head_kv", None, null=None)
    fraction = rotary_fraction(k, size, 32)
    # PhiConfig (remote code) rounds the vocabulary up to pad_vocab_size_multiple rows
    multiple = k.get_int("pad_vocab_size_multiple", 64)
    vocab = k.get_int("vocab_size", 50304)
    if multiple <= 0:
        raise HFConfigError(
            "pad_vocab_size_multiple must be positive", keys=("pad_vocab_size_multiple",)
        )
    rows = math.ceil(vocab / multiple) * multiple
    if rows != vocab:
        k.note(f"vocab_size {vocab} is padded to {rows} rows (pad_vocab_size_multiple)")
    k.expect("img_processor", (None,), "an image processor makes it a multimodal model")
    inner = k.get_int("n_inner", None, null=None)
    s = Sizes(
        vocab=rows,
        d_model=d,
        n_layers=k.get_int("n_layer", 20),
        n_heads=h,
        n_kv_heads=h if kv is None else kv,
        head_dim=size,
        max_seq_len=k.get_int("n_positions", 2048),
        tie=k.get_bool("tie_word_embeddings", False),
    )
    layernorm = {"kind": "layernorm", "eps": k.get_float("layer_norm_epsilon", 1e-5)}
    return assemble(
        s,
        norm=layernorm,
        # RotaryEmbedding(rotary_dim), base 10000, halves rotated (not interleaved)
        position={"kind": "rope", "theta": 10000.0, "fraction": fraction},
        ffn={
            "activation": activation(k, "activation_function", "gelu_new", PLAIN_FROM_HF),
            "hidden_dim": 4 * d if inner is None else inner,
        },
        bias=(True,) * 5,
        # ParallelBlock: x + mixer(ln(x)) + mlp(ln(x))
        block={"parallel_residual": True, "shared_norm": True},
        head={"bias": True},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    return {
        **gpt_style_keys(spec),
        "pad_vocab_size_multiple": 1,
        "n_head_kv": resolve.n_kv_heads(view(spec).att),
    }


NAMES = NameTable(
    ("phi-msft",),
    "transformer.",
    {"embed": "transformer.embd.wte", "final_norm": "lm_head.ln", "lm_head": "lm_head.linear"},
    "transformer.h.{i}.",
    {
        "attn_norm": "ln",
        "attn.o_proj": "mixer.out_proj",
        "ffn.up_proj": "mlp.fc1",
        "ffn.down_proj": "mlp.fc2",
    },
    # MHA.Wqkv: [q heads; k heads; v heads] (rearranged "(three h d)")
    fused_qkv="mixer.Wqkv",
)

FAMILY = Family(
    "phi-msft",
    "PhiForCausalLM",
    read,
    write,
    NAMES,
    {
        "flash_attn": _KERNELS,
        "flash_rotary": _KERNELS,
        "fused_dense": _KERNELS,
    },
)
