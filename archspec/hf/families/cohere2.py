"""`cohere2`: Command R7B / A (Cohere2ForCausalLM): Cohere with sliding-window layers that rotate
and global layers without positions (Cohere2Attention applies RoPE only where it slides)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    Family,
    assemble,
    layer_type_windows,
    llama_names,
    read_sizes,
    view,
    window_rules,
)
from archspec.hf.families.cohere import COHERE, cohere_parts, cohere_position, write_cohere
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "cohere2", COHERE)
    qkvo = k.get_bool("attention_bias", False)
    window = k.get_int("sliding_window", 4096, null=None)
    pattern = k.get_int("sliding_window_pattern", 4)
    if pattern <= 0:
        raise HFConfigError(
            "sliding_window_pattern must be positive", keys=("sliding_window_pattern",)
        )
    derived = [
        "sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(s.n_layers)
    ]
    windows = layer_type_windows(k, s.n_layers, window, derived)
    if window is None:
        raise HFConfigError(
            "sliding_window is null: Cohere 2's sliding layers would neither slide nor rotate",
            keys=("sliding_window",),
        )
    base, rules = window_rules(windows)
    # Cohere2Attention rotates only where it slides: global layers have no positions.
    position = cohere_position(k, "cohere2", s.max_seq_len)
    if base is None and rules:
        raise HFConfigError(
            "most layers are global: archspec writes Cohere 2's RoPE per sliding layer only when "
            "sliding layers are the majority",
            keys=("layer_types",),
        )
    if base is None:
        position = {"kind": "none"}
    for rule in rules:
        rule["position"] = {"kind": "none"}
    return assemble(
        s,
        position=position,
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={"sliding_window": base},
        layer_overrides=rules,
        **cohere_parts(k, COHERE),
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    windows = view(spec).windows
    return {
        **write_cohere(spec, layout),
        "sliding_window": next((w for w in windows if w is not None), None),
        "layer_types": ["full_attention" if w is None else "sliding_attention" for w in windows],
    }


FAMILY = Family(
    "cohere2",
    "Cohere2ForCausalLM",
    read,
    write,
    llama_names("cohere2"),
)
