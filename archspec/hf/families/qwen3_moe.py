"""`qwen3_moe`: Qwen3 attention with routed SwiGLU experts, some layers dense (Qwen3MoeForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_FROM_HF,
    GATED_TO_HF,
    Family,
    activation,
    assemble,
    llama_names,
    read_rope,
    read_sizes,
    rms,
    view,
    write_rope,
)
from archspec.hf.families.mixtral import MOE_IGNORABLE
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout, is_int
from archspec.hf.tables import ExpertNames
from archspec.spec.model import ModelSpec

QWEN3_MOE = {
    "vocab_size": 151936,
    "hidden_size": 2048,
    "num_hidden_layers": 24,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "head_dim": None,  # not a field: Qwen3MoeAttention reads getattr(config, "head_dim", d // h)
    "max_position_embeddings": 32768,
    "tie_word_embeddings": False,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "qwen3_moe", QWEN3_MOE)
    eps = k.get_float("rms_norm_eps", 1e-6)
    qkvo = k.get_bool("attention_bias", False)
    # Qwen3MoeConfig drops the window unless use_sliding_window; the attention then applies it
    # to every layer (max_window_layers is not a Qwen3MoeConfig field)
    use = k.get_bool("use_sliding_window", False)
    window = k.get_int("sliding_window", 4096, null=None) if use else None
    if not use:
        k.ignore("sliding_window", "not used: use_sliding_window is false")
    if "max_window_layers" in k:
        first = k.config["max_window_layers"]
        if use and (not is_int(first) or first < s.n_layers):
            raise HFConfigError(
                "max_window_layers with use_sliding_window: transformers' Qwen3-MoE slides every "
                "layer and ignores it; the checkpoint may expect full attention below it",
                keys=("max_window_layers",),
            )
        k.ignore("max_window_layers", "not read by transformers' Qwen3-MoE")
    act = activation(k, "hidden_act", "silu", GATED_FROM_HF)
    experts = k.get_int("num_experts", 128, aliases=("num_local_experts",))
    moe = {
        "n_experts": experts,
        "experts_per_token": k.get_int("num_experts_per_tok", 8),
        # Qwen3MoeTopKRouter: softmax, top-k, renormalised only with norm_topk_prob
        "normalize_top_k": k.get_bool("norm_topk_prob", False),
    }
    moe_hidden = k.get_int("moe_intermediate_size", 768)
    dense_hidden = k.get_int("intermediate_size", 6144)
    step = k.get_int("decoder_sparse_step", 1)
    only = k.take("mlp_only_layers", None, record=False)
    only = [] if only is None else only
    if not isinstance(only, list) or not all(is_int(i) for i in only):
        raise HFConfigError(
            f"'mlp_only_layers' must be a list of layer indices, got {only!r}",
            keys=("mlp_only_layers",),
        )
    if step <= 0:
        raise HFConfigError("decoder_sparse_step must be positive", keys=("decoder_sparse_step",))
    # Qwen3MoeDecoderLayer: experts unless listed in mlp_only_layers or off the sparse step
    dense = [i for i in range(s.n_layers) if i in only or not (experts > 0 and (i + 1) % step == 0)]
    rules = []
    if len(dense) == s.n_layers:
        ffn: dict[str, Any] = {"activation": act, "hidden_dim": dense_hidden}
    else:
        ffn = {"activation": act, "hidden_dim": moe_hidden, "moe": moe}
        if dense:
            rules = [{"layers": dense, "ffn": {"hidden_dim": dense_hidden, "moe": None}}]
    return assemble(
        s,
        norm=rms(eps),
        position=read_rope(k, "qwen3_moe", max_seq_len=s.max_seq_len),
        ffn=ffn,
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={"sliding_window": window, "qk_norm": {"scope": "head", "norm": rms(eps)}},
        layer_overrides=rules,
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    sparse = [layer.ffn for layer in v.layers if layer.ffn.moe is not None]
    dense = [layer.index for layer in v.layers if layer.ffn.moe is None]
    moe = sparse[0].moe if sparse else None
    window = v.att.sliding_window
    return {
        **v.sizes(head_dim="when_needed"),
        "intermediate_size": next(
            (layer.ffn.hidden_dim for layer in v.layers if layer.ffn.moe is None),
            v.ffn.hidden_dim,
        ),
        "moe_intermediate_size": sparse[0].hidden_dim if sparse else v.ffn.hidden_dim,
        "num_experts": moe.n_experts if moe else 0,
        "num_experts_per_tok": moe.experts_per_token if moe else 1,
        "norm_topk_prob": moe.normalize_top_k if moe else False,
        "decoder_sparse_step": 1,
        "mlp_only_layers": dense if sparse else [],
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "use_sliding_window": window is not None,
        "sliding_window": window,
        **write_rope(spec, layout),
    }


FAMILY = Family(
    "qwen3_moe",
    "Qwen3MoeForCausalLM",
    read,
    write,
    llama_names("qwen3_moe", experts=ExpertNames()),
    MOE_IGNORABLE,
)
