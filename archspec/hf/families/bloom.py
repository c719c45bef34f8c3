"""`bloom`: BLOOM (BloomForCausalLM): ALiBi, a LayerNorm on the embeddings, one fused per-head
q/k/v projection, biases everywhere, a GELU-tanh MLP four times as wide, tied embeddings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archspec.hf.families import falcon
from archspec.hf.families.base import Family, view
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

CONTEXT = 2048
"""BLOOM's configs hold no context length (ALiBi has no table); its models were trained on 2048
tokens (BigScience, BLOOM paper section 3.5), which becomes `max_seq_len`."""

_MEGATRON = "Megatron training/kernel option; transformers' BLOOM does not read it"


def read(k: ConfigKeys) -> dict[str, Any]:
    d = k.get_int("hidden_size", 64, aliases=("n_embed",))
    heads = k.get_int("n_head", 8, aliases=("num_attention_heads",))
    if d <= 0 or heads <= 0 or d % heads:
        raise HFConfigError(
            f"hidden_size ({d}) must be a positive multiple of n_head ({heads})",
            keys=("hidden_size", "n_head"),
        )
    k.expect(
        "apply_residual_connection_post_layernorm",
        (False,),
        "the residual would start after the norm; archspec's blocks add it before",
    )
    k.note(f"BLOOM configs hold no context length: max_seq_len is {CONTEXT}, its training length")
    for key in (
        "attention_softmax_in_fp32",
        "bias_dropout_fusion",
        "masked_softmax_fusion",
        "offset_alibi",
        "skip_bias_add",
        "skip_bias_add_qkv",
        "n_inner",
        "unk_token_id",
    ):
        if key in k:
            k.ignore(key, _MEGATRON)
    if "slow_but_exact" in k:
        k.ignore("slow_but_exact", "splits linear layers over pretraining_tp slices: same result")
    eps = k.get_float("layer_norm_epsilon", 1e-5)
    norm = {"kind": "layernorm", "eps": eps}
    return {
        "vocab_size": k.get_int("vocab_size", 250880),
        "d_model": d,
        "n_layers": k.get_int("n_layer", 2, aliases=("num_hidden_layers",)),
        "max_seq_len": CONTEXT,
        "bias": True,
        "norm": norm,
        # build_alibi_tensor: Press et al.'s slopes, added to the scaled scores unscaled
        "position": {"kind": "alibi"},
        "attention": {"n_heads": heads},
        # BloomMLP: dense_4h_to_h(bloom_gelu(dense_h_to_4h(x))), the tanh GELU
        "ffn": {"activation": "gelu_tanh", "hidden_dim": 4 * d},
        "embedding": {"norm": norm},
        "head": {"tie_embeddings": k.get_bool("tie_word_embeddings", True), "bias": False},
    }


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        "vocab_size": spec.padded_vocab_size or spec.vocab_size,
        "hidden_size": spec.d_model,
        "n_layer": spec.n_layers,
        "n_head": v.att.n_heads,
        "layer_norm_epsilon": spec.norm.eps,
        "tie_word_embeddings": spec.head.tie_embeddings,
        "apply_residual_connection_post_layernorm": False,
    }


# Falcon kept BLOOM's module names (and the per-head [q, k, v] rows of its multi-head layout).
NAMES = replace(
    falcon.NAMES,
    model_types=("bloom",),
    top={**falcon.NAMES.top, "embed_norm": "transformer.word_embeddings_layernorm"},
    parallel_norms={},
)

FAMILY = Family("bloom", "BloomForCausalLM", read, write, NAMES)
