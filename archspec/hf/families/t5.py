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

from archspec.hf.families.base import Family
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
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


def ffn_activation(k: ConfigKeys) -> str:
    """The spec activation of a T5 config, from `feed_forward_proj` or the `dense_act_fn` +
    `is_gated_act` pair (T5Config: `gated-gelu` means gelu_new, the tanh approximation)."""
    if not k.present("feed_forward_proj") and k.present("dense_act_fn"):
        gated, act = k.get_bool("is_gated_act", False), k.get_str("dense_act_fn")
        return _lookup(act, gated, "dense_act_fn")
    proj = k.get_str("feed_forward_proj", "relu")
    parts = proj.split("-")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise HFConfigError(
            f"feed_forward_proj {proj!r} is not `ACT` or `gated-ACT`", keys=("feed_forward_proj",)
        )
    gated, act = len(parts) == 2, "gelu_new" if proj == "gated-gelu" else parts[-1]
    # T5Config derives these two from feed_forward_proj and saves them: they must agree.
    if k.present("dense_act_fn") and k.get_str("dense_act_fn") != act:
        raise HFConfigError(
            f"dense_act_fn {k.config['dense_act_fn']!r} disagrees with feed_forward_proj {proj!r}",
            keys=("dense_act_fn", "feed_forward_proj"),
        )
    if k.present("is_gated_act") and k.get_bool("is_gated_act") != gated:
        raise HFConfigError(
            f"is_gated_act disagrees with feed_forward_proj {proj!r}",
            keys=("is_gated_act", "feed_forward_proj"),
        )
    return _lookup(act, gated, "feed_forward_proj")


def _lookup(act: str, gated: bool, key: str) -> str:
    table = _GATED if gated else _PLAIN
    if act not in table:
        kind = "gated " if gated else ""
        raise HFConfigError(
            f"{key}: {kind}activation {act!r} is not one archspec maps ({', '.join(sorted(table))})",
            keys=(key,),
        )
    return table[act]


def read(k: ConfigKeys) -> dict[str, Any]:
    """Spec data of a T5 config (T5Config defaults where keys are missing)."""
    d_model = k.get_int("d_model", 512, aliases=("hidden_size",))
    n_layers = k.get_int("num_layers", 6, aliases=("num_hidden_layers",))
    decoder_layers = k.get_int("num_decoder_layers", None, null=None) or n_layers
    # Hub configs: `tie_word_embeddings` false for v1.1 / FLAN's own lm_head. transformers 5
    # saves `tie_word_embeddings: true` always and the written value as `scale_decoder_outputs`
    # (and unties the head when the checkpoint holds its own `lm_head`, as v1.1 ones do).
    # The id decoding starts from (T5: 0, the pad id): generate()'s `decoder_start_token_id`
    # argument, not architecture; written back on export so that transformers can generate.
    k.get_int("decoder_start_token_id", 0, null=0)
    written = k.get_bool("tie_word_embeddings", True)
    scaled = k.get_bool("scale_decoder_outputs", written)
    tied = written and scaled
    head: dict[str, Any] = {"tie_embeddings": tied}
    if scaled:  # T5 v1.0: sequence_output * d_model ** -0.5 before the tied head
        head["scale_by_inv_sqrt_d_model"] = True
    return {
        "vocab_size": k.get_int("vocab_size", 32128),
        "d_model": d_model,
        "n_layers": decoder_layers,
        "max_seq_len": k.get_int("n_positions", 512),
        "bias": False,
        "norm": {"kind": "rmsnorm", "eps": k.get_float("layer_norm_epsilon", 1e-6)},
        "position": {
            "kind": "relative_bias",
            "n_buckets": k.get_int("relative_attention_num_buckets", 32),
            "max_distance": k.get_int("relative_attention_max_distance", 128),
        },
        "attention": {
            "n_heads": k.get_int("num_heads", 8, aliases=("num_attention_heads",)),
            "head_dim": k.get_int("d_kv", 64, aliases=("head_dim",)),
            "scale": 1.0,
        },
        "ffn": {"activation": ffn_activation(k), "hidden_dim": k.get_int("d_ff", 2048)},
        "head": head,
        "encoder": {"n_layers": n_layers},
        "cross_attention": {},
    }


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    """The T5 architecture keys of a spec (what `read` maps back; a decoder-only spec reads back
    as an encoder-decoder, so the export refuses it as not exact)."""
    act, gated = _TO_HF.get(spec.ffn.activation, ("relu", False))
    position = spec.position
    encoder_layers = spec.encoder.n_layers if spec.encoder is not None else spec.n_layers
    return {
        "vocab_size": resolve.vocab_rows(spec),
        "d_model": spec.d_model,
        "d_kv": resolve.head_dim(spec.attention, spec.d_model),
        "d_ff": spec.ffn.hidden_dim,
        "num_layers": encoder_layers,
        "num_decoder_layers": spec.n_layers,
        "num_heads": spec.attention.n_heads,
        "relative_attention_num_buckets": getattr(position, "n_buckets", 32),
        "relative_attention_max_distance": getattr(position, "max_distance", 128),
        "layer_norm_epsilon": spec.norm.eps,
        "feed_forward_proj": ("gated-gelu" if act == "gelu_new" else f"gated-{act}")
        if gated
        else act,
        "dense_act_fn": act,
        "is_gated_act": gated,
        "tie_word_embeddings": spec.head.tie_embeddings,
        "scale_decoder_outputs": spec.head.scale_by_inv_sqrt_d_model,
        "n_positions": spec.max_seq_len,
        "is_encoder_decoder": True,
        "decoder_start_token_id": 0,
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


FAMILY = Family(
    MODEL_TYPE,
    ARCHITECTURE,
    read,
    write,
    NameTable(
        (MODEL_TYPE,),
        base="",
        top={"embed": "shared", "final_norm": "decoder.final_layer_norm", "lm_head": "lm_head"},
        layer="decoder.block.{i}.",
        modules={},
        # transformers saves the stacks' embed_tokens tied to `shared` (or leaves them out)
        ignored=(r"^(encoder|decoder)\.embed_tokens\.weight$",),
        explicit=names,
    ),
    {
        "dropout_rate": "dropout, training only",
        "classifier_dropout": "dropout of the classification head, not in the LM",
        "initializer_factor": "initialisation scale, training only",
        "output_past": "legacy cache flag",
        "is_decoder": "T5Config flag for the stacks; the conditional-generation model has both",
        "use_cache": "generation setting",
        "task_specific_params": "generation prompts, not architecture",
    },
    encoder_decoder=True,
)
