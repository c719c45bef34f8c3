"""`falcon`: parallel blocks, a grouped fused `query_key_value`, RW legacy names (FalconForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    PLAIN_FROM_HF,
    PLAIN_TO_HF,
    Family,
    Sizes,
    activation,
    assemble,
    read_rope,
    view,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.hf.tables import NameTable
from archspec.spec import resolve
from archspec.spec.model import ModelSpec

_RW_NAMES = ("n_head", "n_layer", "n_head_kv")


def read(k: ConfigKeys) -> dict[str, Any]:
    rw = [name for name in _RW_NAMES if name in k]
    if rw and "parallel_attn" not in k:
        raise HFConfigError(
            f"the config uses the RW remote-code names ({', '.join(rw)}) and omits "
            "parallel_attn, whose default differs (RW: false, transformers: true); set it",
            keys=("parallel_attn",),
        )
    if rw:
        k.note(
            f"RW names {', '.join(rw)} read as the transformers names (transformers 5 ignores them)"
        )
    d = k.get_int("hidden_size", 4544, aliases=("n_embed",))
    h = k.get_int("num_attention_heads", 71, aliases=("n_head",))
    kv_given = k.get_int("num_kv_heads", None, null=None, aliases=("n_head_kv",))
    # FalconConfig's flags are `bool | None`: null reads as false
    new = k.get_bool("new_decoder_architecture", False, null=False)
    parallel = k.get_bool("parallel_attn", True, null=False)
    multi_query = k.get_bool("multi_query", True, null=False)
    n_ln = k.get_int("num_ln_in_parallel_attn", None, null=None)
    bias = k.get_bool("bias", False, null=False)
    k.expect(
        "apply_residual_connection_post_layernorm",
        (False, None),
        "the RW code then adds the residual after the norm; transformers' Falcon ignores the key",
    )
    alibi = k.get_bool("alibi", False, null=False)
    if h <= 0 or d % h:
        raise HFConfigError(
            f"FalconAttention needs hidden_size ({d}) divisible by heads ({h})",
            keys=("hidden_size",),
        )
    if new:
        # FalconDecoderLayer: the new architecture is always parallel; 2 norms unless told 1
        if not parallel:
            raise HFConfigError(
                "new_decoder_architecture with parallel_attn false fails in transformers' Falcon",
                keys=("parallel_attn",),
            )
        n_ln = 2 if n_ln is None else n_ln
        kv = h if kv_given is None else kv_given
        block = {"parallel_residual": True, "shared_norm": n_ln == 1}
    else:
        if parallel and n_ln not in (None, 1):
            raise HFConfigError(
                f"num_ln_in_parallel_attn={n_ln} needs new_decoder_architecture in "
                "transformers' Falcon",
                keys=("num_ln_in_parallel_attn",),
            )
        kv = 1 if multi_query else h  # FalconAttention: qkv is hidden + 2 * head_dim, or 3 * hidden
        if not multi_query and kv_given not in (None, h):
            raise HFConfigError(
                "num_kv_heads differs from the heads without multi_query or "
                "new_decoder_architecture; transformers' Falcon cannot build it",
                keys=("num_kv_heads",),
            )
        if multi_query and kv_given not in (None, 1, h):
            k.note(f"num_kv_heads={kv_given} is ignored: multi_query gives one KV head")
        block = {"parallel_residual": True, "shared_norm": True} if parallel else {}
    if n_ln not in (None, 1, 2):
        raise HFConfigError(
            f"num_ln_in_parallel_attn must be 1 or 2, got {n_ln}", keys=("num_ln_in_parallel_attn",)
        )
    inner = k.get_int("ffn_hidden_size", None, null=None)
    s = Sizes(
        vocab=k.get_int("vocab_size", 65024),
        d_model=d,
        n_layers=k.get_int("num_hidden_layers", 32, aliases=("n_layer",)),
        n_heads=h,
        n_kv_heads=kv,
        head_dim=d // h,
        max_seq_len=k.get_int("max_position_embeddings", 2048),
        tie=k.get_bool("tie_word_embeddings", True),
    )
    rope = read_rope(k, "falcon", max_seq_len=s.max_seq_len)  # built but unused with ALiBi
    # FalconModel: build_alibi_tensor makes slope * key position in bfloat16, and the causal
    # mask carries it as alibi / sqrt(head_dim), which SDPA adds to q.k / sqrt(head_dim):
    # (q.k + alibi) / sqrt(head_dim), as the RW code computes it. (The eager path adds it a
    # second time; archspec follows the default SDPA path and the RW code.)
    alibi_position = {"kind": "alibi", "scaled": True, "bias_dtype": "bfloat16"}
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_epsilon", 1e-5)},
        position=alibi_position if alibi else rope,
        ffn={
            "activation": activation(k, "activation", "gelu", PLAIN_FROM_HF),
            "hidden_dim": 4 * d if inner is None else inner,  # FalconConfig: ffn_hidden_size or 4x
        },
        bias=(bias,) * 5,
        block=block,
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    h, kv = v.att.n_heads, resolve.n_kv_heads(v.att)
    out: dict[str, Any] = {
        "vocab_size": resolve.vocab_rows(spec),
        "hidden_size": spec.d_model,
        "num_hidden_layers": spec.n_layers,
        "num_attention_heads": h,
        "layer_norm_epsilon": spec.norm.eps,
        "bias": v.att_bias["q"],
        "ffn_hidden_size": v.ffn.hidden_dim,
        "activation": PLAIN_TO_HF.get(v.ffn.activation, "gelu"),
        "max_position_embeddings": spec.max_seq_len,
        "tie_word_embeddings": spec.head.tie_embeddings,
        "alibi": spec.position.kind == "alibi",
        **write_rope(spec, layout),
    }
    shared = resolve.shared_norm(spec)
    if not spec.block.parallel_residual or (shared and kv in (1, h)):
        out.update(new_decoder_architecture=False, parallel_attn=spec.block.parallel_residual)
        out["multi_query"] = kv == 1 and h > 1
    else:
        out.update(new_decoder_architecture=True, parallel_attn=True, num_kv_heads=kv)
        if shared:
            out["num_ln_in_parallel_attn"] = 1
    return out


def hints(spec: ModelSpec) -> list[str]:
    position = spec.position
    if position.kind == "alibi" and (not position.scaled or position.bias_dtype != "bfloat16"):
        return [
            "Falcon's ALiBi divides the bias by sqrt(head_dim) with the scores and computes it "
            "in bfloat16: position: {kind: alibi, scaled: true, bias_dtype: bfloat16}"
        ]
    return []


NAMES = NameTable(
    ("falcon",),
    "transformer.",
    {
        "embed": "transformer.word_embeddings",
        "final_norm": "transformer.ln_f",
        "lm_head": "lm_head",
    },
    "transformer.h.{i}.",
    {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn.o_proj": "self_attention.dense",
        "ffn.up_proj": "mlp.dense_h_to_4h",
        "ffn.down_proj": "mlp.dense_4h_to_h",
    },
    parallel_norms={"attn_norm": "ln_attn", "ffn_norm": "ln_mlp"},
    fused_qkv="self_attention.query_key_value",
    qkv_layout="grouped",
)

FAMILY = Family(
    "falcon",
    "FalconForCausalLM",
    read,
    write,
    NAMES,
    other_classes=("RWForCausalLM",),
    hints=hints,
)
