"""`t5`: T5 v1.0 and v1.1 / FLAN-T5 (T5ForConditionalGeneration), an encoder-decoder.

Two stacks, so not a :class:`~archspec.hf.tables.NameTable` of one block prefix: the config
mapping and the checkpoint names live here, torch-free; :mod:`archspec.hf.t5_weights` moves the
tensors. Both FFN spellings are read: `feed_forward_proj` (`relu`, `gated-gelu`, `gated-silu`...)
and the `dense_act_fn` + `is_gated_act` pair transformers derives from it and saves too.

transformers 5.x `T5Config` always sets `tie_word_embeddings=True` and keeps the written value
only as `scale_decoder_outputs` (the v1.0 d_model**-0.5 before a tied head). The spec says what the
checkpoint holds: v1.0 ties the head and scales it, v1.1 / FLAN-T5 hold an untied `lm_head`.
"""

from __future__ import annotations

from typing import Any

from archspec.spec import resolve
from archspec.spec.model import ModelSpec

MODEL_TYPE = "t5"
ARCHITECTURE = "T5ForConditionalGeneration"

_PLAIN = {"relu": "relu", "gelu_new": "gelu_tanh", "gelu": "gelu", "silu": "silu"}
_GATED = {"relu": "reglu", "gelu_new": "geglu_tanh", "gelu": "geglu", "silu": "swiglu"}
_TO_HF = {
    "relu": ("relu", False),
    "gelu_tanh": ("gelu_new", False),
    "gelu": ("gelu", False),
    "silu": ("silu", False),
    "reglu": ("relu", True),
    "geglu_tanh": ("gelu_new", True),
    "swiglu": ("silu", True),
}


class T5ConfigError(ValueError):
    """A T5 config.json value archspec cannot map."""


def ffn_activation(config: dict[str, Any]) -> str:
    """The spec activation of a T5 config, from `feed_forward_proj` or `dense_act_fn` +
    `is_gated_act` (T5Config: `gated-gelu` means gelu_new, the tanh approximation)."""
    proj = config.get("feed_forward_proj")
    if proj is not None:
        parts = proj.split("-")
        gated = parts[0] == "gated" and len(parts) == 2
        act = "gelu_new" if proj == "gated-gelu" else parts[-1]
    else:
        gated = bool(config.get("is_gated_act", False))
        act = config.get("dense_act_fn", "relu")
    table = _GATED if gated else _PLAIN
    if act not in table:
        raise T5ConfigError(f"feed_forward_proj {proj or act!r}: archspec maps {sorted(table)}")
    return table[act]


def read(config: dict[str, Any], name: str = "t5") -> dict[str, Any]:
    """Spec data of a T5 config.json (T5Config defaults where keys are missing)."""
    d_model = config.get("d_model", 512)
    n_heads = config.get("num_heads", 8)
    n_layers = config.get("num_layers", 6)
    decoder_layers = config.get("num_decoder_layers") or n_layers
    tied = config.get("tie_word_embeddings", True) is not False
    head: dict[str, Any] = {"tie_embeddings": tied}
    if tied:  # T5 v1.0: sequence_output * d_model ** -0.5 before the tied head
        head["logit_scale"] = d_model**-0.5
    tokens = {
        key: config[hf]
        for key, hf in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("pad", "pad_token_id"))
        if config.get(hf) is not None
    }
    return {
        "name": name,
        "dtype": config.get("torch_dtype") or config.get("dtype") or "float32",
        "vocab_size": config.get("vocab_size", 32128),
        "d_model": d_model,
        "n_layers": decoder_layers,
        "max_seq_len": config.get("n_positions", 512),
        "norm": {"kind": "rmsnorm", "eps": config.get("layer_norm_epsilon", 1e-6)},
        "position": {
            "kind": "relative_bias",
            "n_buckets": config.get("relative_attention_num_buckets", 32),
            "max_distance": config.get("relative_attention_max_distance", 128),
        },
        "attention": {"n_heads": n_heads, "head_dim": config.get("d_kv", 64), "scale": 1.0},
        "ffn": {"activation": ffn_activation(config), "hidden_dim": config.get("d_ff", 2048)},
        "head": head,
        "encoder": {"n_layers": n_layers},
        "cross_attention": {},
        **({"tokens": tokens} if tokens else {}),
    }


def write(spec: ModelSpec) -> dict[str, Any]:
    """A T5 config.json of an encoder-decoder spec (the same layout `read` maps back)."""
    if spec.encoder is None:
        raise T5ConfigError(f"{spec.name} is decoder-only; the t5 family is encoder-decoder")
    act, gated = _TO_HF[spec.ffn.activation]
    position = spec.position
    tokens = spec.tokens
    return {
        "model_type": MODEL_TYPE,
        "architectures": [ARCHITECTURE],
        "vocab_size": resolve.vocab_rows(spec),
        "d_model": spec.d_model,
        "d_kv": resolve.head_dim(spec.attention, spec.d_model),
        "d_ff": spec.ffn.hidden_dim,
        "num_layers": spec.encoder.n_layers,
        "num_decoder_layers": spec.n_layers,
        "num_heads": spec.attention.n_heads,
        "relative_attention_num_buckets": getattr(position, "n_buckets", 32),
        "relative_attention_max_distance": getattr(position, "max_distance", 128),
        "layer_norm_epsilon": spec.norm.eps,
        "feed_forward_proj": ("gated-" if gated else "")
        + ("gelu" if gated and act == "gelu_new" else act),
        "dense_act_fn": act,
        "is_gated_act": gated,
        "tie_word_embeddings": spec.head.tie_embeddings,
        "n_positions": spec.max_seq_len,
        "is_encoder_decoder": True,
        "decoder_start_token_id": 0 if tokens is None or tokens.pad is None else tokens.pad,
        "pad_token_id": 0 if tokens is None or tokens.pad is None else tokens.pad,
        "eos_token_id": 1 if tokens is None or tokens.eos is None else tokens.eos,
        "torch_dtype": spec.dtype,
    }


def names(n_encoder: int, n_decoder: int, gated: bool) -> dict[str, str]:
    """archspec state-dict key -> T5 checkpoint key (v1.1 / FLAN: `wi_0`, `wi_1`; v1.0: `wi`)."""
    ffn = (
        {"gate_proj": "wi_0", "up_proj": "wi_1", "down_proj": "wo"}
        if gated
        else {"up_proj": "wi", "down_proj": "wo"}
    )
    table = {
        "embed.weight": "shared.weight",
        "encoder.embed.weight": "encoder.embed_tokens.weight",
        "encoder.relative_bias.weight": (
            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
        ),
        "encoder.final_norm.weight": "encoder.final_layer_norm.weight",
        "relative_bias.weight": "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        "final_norm.weight": "decoder.final_layer_norm.weight",
        "lm_head.weight": "lm_head.weight",
    }
    for i in range(n_encoder):
        ours, hf = f"encoder.layers.{i}.", f"encoder.block.{i}.layer."
        table[ours + "attn_norm.weight"] = hf + "0.layer_norm.weight"
        table[ours + "ffn_norm.weight"] = hf + "1.layer_norm.weight"
        for p in "qkvo":
            table[ours + f"attn.{p}_proj.weight"] = hf + f"0.SelfAttention.{p}.weight"
        for mine, theirs in ffn.items():
            table[ours + f"ffn.{mine}.weight"] = hf + f"1.DenseReluDense.{theirs}.weight"
    for i in range(n_decoder):
        ours, hf = f"layers.{i}.", f"decoder.block.{i}.layer."
        table[ours + "attn_norm.weight"] = hf + "0.layer_norm.weight"
        table[ours + "cross_attn_norm.weight"] = hf + "1.layer_norm.weight"
        table[ours + "ffn_norm.weight"] = hf + "2.layer_norm.weight"
        for p in "qkvo":
            table[ours + f"attn.{p}_proj.weight"] = hf + f"0.SelfAttention.{p}.weight"
            table[ours + f"cross_attn.{p}_proj.weight"] = hf + f"1.EncDecAttention.{p}.weight"
        for mine, theirs in ffn.items():
            table[ours + f"ffn.{mine}.weight"] = hf + f"2.DenseReluDense.{theirs}.weight"
    return table


def spec_names(spec: ModelSpec) -> dict[str, str]:
    """:func:`names` for an encoder-decoder spec."""
    if spec.encoder is None:
        raise T5ConfigError(f"{spec.name} is decoder-only; the t5 family is encoder-decoder")
    return names(spec.encoder.n_layers, spec.n_layers, resolve.is_gated(spec.ffn))
