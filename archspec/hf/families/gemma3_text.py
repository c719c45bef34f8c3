"""`gemma3_text`: Gemma 3's decoder (Gemma3ForCausalLM): Gemma 2's sandwich norms plus QK-norm,
five local (sliding) layers per global one, and a RoPE per layer type (local theta 1e4, global
theta 1e6, the global one possibly linearly scaled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.hf.families import gemma2
from archspec.hf.families.base import (
    BIDIRECTIONAL,
    GATED_FROM_HF,
    POST_NORM_MODULES,
    Family,
    activation,
    assemble,
    layer_type_windows,
    llama_names,
    read_sizes,
    rms,
    view,
    window_rules,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec, RopePosition

GEMMA3 = {
    "vocab_size": 262_208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "max_position_embeddings": 131_072,
    "tie_word_embeddings": True,
}
THETA = {"sliding_attention": 10_000.0, "full_attention": 1_000_000.0}
"""Gemma3TextConfig.default_theta: local and global."""


def _one(rope: Any, where: str, default_theta: float) -> dict[str, Any]:
    """One layer type's RoPE (`default` or `linear`) as position override fields."""
    if not isinstance(rope, Mapping):
        raise HFConfigError(f"'{where}' must be an object, got {rope!r}", keys=(where,))
    kind = rope.get("rope_type") or rope.get("type") or "default"
    extra = sorted(set(rope) - {"rope_type", "type", "rope_theta", "factor"})
    if kind not in ("default", "linear") or extra:
        raise HFConfigError(
            f"{where}: archspec maps Gemma 3's default and linear RoPE only, got {dict(rope)}",
            keys=(where,),
        )
    theta = rope.get("rope_theta", default_theta)
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or theta <= 1:
        raise HFConfigError(f"{where}: rope_theta must be a number above 1", keys=(where,))
    out: dict[str, Any] = {"theta": float(theta)}
    if kind == "linear":
        factor = rope.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            raise HFConfigError(f"{where}: linear RoPE needs a positive factor", keys=(where,))
        out["scaling"] = {"kind": "linear", "factor": float(factor)}
    return out


def _ropes(k: ConfigKeys) -> dict[str, dict[str, Any]]:
    """RoPE of each layer type, from transformers 5's nested `rope_parameters` or transformers 4's
    `rope_theta` (global) / `rope_local_base_freq` (local) / `rope_scaling` (global); a config
    holding both spellings (as archspec exports by default) must say the same in each."""
    params = k.take("rope_parameters", None, record=False)
    v5 = None
    if params is not None:
        if not isinstance(params, Mapping) or set(params) != set(THETA):
            raise HFConfigError(
                "rope_parameters must hold sliding_attention and full_attention",
                keys=("rope_parameters",),
            )
        v5 = {t: _one(params[t], f"rope_parameters.{t}", THETA[t]) for t in THETA}
        if not any(key in k for key in ("rope_theta", "rope_local_base_freq", "rope_scaling")):
            return v5
    scaling = k.take("rope_scaling", None, record=False)
    if scaling is not None and not isinstance(scaling, Mapping):
        raise HFConfigError(
            f"'rope_scaling' must be an object, got {scaling!r}"[:200], keys=("rope_scaling",)
        )
    glob = {"rope_theta": k.get_float("rope_theta", THETA["full_attention"])}
    glob.update(scaling or {})
    local = {"rope_theta": k.get_float("rope_local_base_freq", THETA["sliding_attention"])}
    v4 = {
        "sliding_attention": _one(local, "rope_local_base_freq", THETA["sliding_attention"]),
        "full_attention": _one(glob, "rope_scaling", THETA["full_attention"]),
    }
    if v5 is not None and v5 != v4:
        raise HFConfigError(
            "rope_parameters and rope_theta / rope_local_base_freq / rope_scaling disagree",
            keys=("rope_parameters", "rope_theta"),
        )
    return v4


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "gemma3_text", GEMMA3)
    qkvo = k.get_bool("attention_bias", False)
    k.expect("use_bidirectional_attention", (None, False), BIDIRECTIONAL)
    scalar = k.get_float("query_pre_attn_scalar", 256.0)
    if scalar <= 0:
        raise HFConfigError(
            "query_pre_attn_scalar must be positive", keys=("query_pre_attn_scalar",)
        )
    eps = k.get_float("rms_norm_eps", 1e-6)
    window = k.get_int("sliding_window", 4096, null=None)
    pattern = k.get_int("sliding_window_pattern", 6, aliases=("_sliding_window_pattern",))
    derived = [
        "sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(s.n_layers)
    ]
    base, rules = window_rules(layer_type_windows(k, s.n_layers, window, derived))
    ropes = _ropes(k)
    # Each rule sets the windows of the minority layer type; its RoPE goes with it.
    minority = "sliding_attention" if base is None else "full_attention"
    majority = "full_attention" if base is None else "sliding_attention"
    for rule in rules:
        rule["position"] = {"kind": "rope", **ropes[minority]}
    return assemble(
        s,
        norm=rms(eps, unit_offset=True),
        position={"kind": "rope", **ropes[majority]},
        ffn={
            "activation": activation(k, "hidden_activation", "gelu_pytorch_tanh", GATED_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", GEMMA3["intermediate_size"]),
        },
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={
            # Gemma3Attention: scaling = query_pre_attn_scalar ** -0.5; q_norm, k_norm per head
            "scale": None if scalar == s.head_dim else scalar**-0.5,
            "sliding_window": base,
            "logit_softcap": k.get_float("attn_logit_softcapping", None, null=None),
            "qk_norm": {"norm": rms(eps, unit_offset=True)},
        },
        block={"placement": "sandwich"},
        embedding={"scale_by_sqrt_d_model": True},
        head={"logit_softcap": k.get_float("final_logit_softcapping", None, null=None)},
        layer_overrides=rules,
    )


def _rope_dict(position: RopePosition | None) -> dict[str, Any]:
    if position is None or position.kind != "rope":
        return {"rope_type": "default"}
    out: dict[str, Any] = {"rope_type": "default", "rope_theta": position.theta}
    if position.scaling is not None:
        factor = getattr(position.scaling, "factor", None)
        out.update(rope_type=position.scaling.kind, factor=factor)
    return out


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    windows = v.windows
    by_type: dict[str, Any] = {}  # each layer type's position: that of its first layer
    for layer, w in zip(v.layers, windows, strict=True):
        by_type.setdefault("full_attention" if w is None else "sliding_attention", layer.position)
    ropes = {t: _rope_dict(by_type.get(t)) for t in THETA}
    glob, local = ropes["full_attention"], ropes["sliding_attention"]
    v4: dict[str, Any] = {
        "rope_theta": glob.get("rope_theta", THETA["full_attention"]),
        "rope_local_base_freq": local.get("rope_theta", THETA["sliding_attention"]),
        "rope_scaling": None
        if glob["rope_type"] == "default"
        else {"rope_type": glob["rope_type"], "factor": glob["factor"]},
    }
    v5: dict[str, Any] = {"rope_parameters": ropes}
    rope = v5 if layout == "v5" else v4 if layout == "v4" else {**v4, **v5}
    return {**gemma2.write(spec, layout), **rope}  # Gemma 2's keys, RoPE per layer type


FAMILY = Family(
    "gemma3_text",
    "Gemma3ForCausalLM",
    read,
    write,
    llama_names("gemma3_text", modules=POST_NORM_MODULES),
    {"hidden_act": "transformers' Gemma 3 reads hidden_activation, not hidden_act"},
)
