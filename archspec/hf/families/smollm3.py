"""`smollm3`: Llama whose every fourth layer has no position encoding (SmolLM3ForCausalLM).

SmolLM3Attention rotates queries and keys only where `no_rope_layers[i]` is 1; the list defaults
to `int((i + 1) % no_rope_layer_interval != 0)`, so layers 3, 7, 11, ... are NoPE layers.
"""

from __future__ import annotations

from typing import Any

from archspec.hf.families import llama
from archspec.hf.families.base import (
    Family,
    assemble,
    gated_ffn,
    llama_names,
    read_rope,
    read_sizes,
    rms,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec import resolve
from archspec.spec.model import ModelSpec

SMOLLM3 = {
    "vocab_size": 128256,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
}


def nope_rules(uses_rope: list[bool]) -> list[dict[str, Any]]:
    """Layers without RoPE as `layer_overrides` rules: `every`/`offset` for a repeating pattern
    (SmolLM3: every 4 from 3), else one `layers` list."""
    n = len(uses_rope)
    off = [i for i, rope in enumerate(uses_rope) if not rope]
    if not off:
        return []
    for period in range(2, n // 2 + 1):
        if all(uses_rope[i] == uses_rope[i % period] for i in range(n)):
            return [
                {"every": period, "offset": offset, "position": {"kind": "none"}}
                for offset in range(period)
                if not uses_rope[offset]
            ]
    return [{"layers": off, "position": {"kind": "none"}}]


def _uses_rope(k: ConfigKeys, n_layers: int) -> list[bool]:
    interval = k.get_int("no_rope_layer_interval", 4)
    if interval <= 0:
        raise HFConfigError(
            "no_rope_layer_interval must be positive", keys=("no_rope_layer_interval",)
        )
    flags = k.take("no_rope_layers", None)
    if flags is None:
        return [(i + 1) % interval != 0 for i in range(n_layers)]
    if not isinstance(flags, list) or any(f not in (0, 1) or isinstance(f, float) for f in flags):
        raise HFConfigError("'no_rope_layers' must be a list of 0 and 1", keys=("no_rope_layers",))
    if len(flags) != n_layers:
        raise HFConfigError(
            f"'no_rope_layers' has {len(flags)} entries for {n_layers} layers",
            keys=("no_rope_layers",),
        )
    return [bool(f) for f in flags]


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "smollm3", SMOLLM3)
    qkvo = k.get_bool("attention_bias", False)
    if k.get_bool("use_sliding_window", False):
        raise HFConfigError(
            "use_sliding_window is true: SmolLM3's sliding layers are not mapped by archspec",
            keys=("use_sliding_window",),
        )
    # Without use_sliding_window, SmolLM3Attention ignores sliding_window and layer_types.
    for key in ("sliding_window", "layer_types", "max_window_layers"):
        if key in k:
            k.ignore(key, "not read by SmolLM3 while use_sliding_window is false")
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "smollm3", max_seq_len=s.max_seq_len, default_theta=2_000_000.0),
        ffn=gated_ffn(k, SMOLLM3),
        bias=(qkvo, qkvo, qkvo, qkvo, k.get_bool("mlp_bias", False)),
        layer_overrides=nope_rules(_uses_rope(k, s.n_layers)),
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    layers = resolve.layer_specs(spec)
    return {
        **llama.write(spec, layout),
        "no_rope_layers": [int(layer.position.kind == "rope") for layer in layers],
    }


FAMILY = Family("smollm3", "SmolLM3ForCausalLM", read, write, llama_names("smollm3"))
