"""`qwen2`: Llama with q/k/v biases and windows from `max_window_layers` (Qwen2ForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    GATED_TO_HF,
    LLAMA,
    Family,
    assemble,
    gated_ffn,
    layer_type_windows,
    llama_names,
    read_rope,
    read_sizes,
    rms,
    view,
    window_rules,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec

QWEN2 = {
    **LLAMA,
    "vocab_size": 151936,
    "intermediate_size": 22016,
    "num_key_value_heads": 32,
    "max_position_embeddings": 32768,
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "qwen2", QWEN2)
    use = k.get_bool("use_sliding_window", False)
    window = k.get_int("sliding_window", 4096, null=None)
    first = k.get_int("max_window_layers", 28)
    # Qwen2Config: sliding_window is dropped unless use_sliding_window; then layers from
    # max_window_layers on slide (transformers 4 tests the same in Qwen2Attention)
    active = window if use else None
    derived = [
        "sliding_attention" if active is not None and i >= first else "full_attention"
        for i in range(s.n_layers)
    ]
    windows = layer_type_windows(k, s.n_layers, active, derived)
    if windows != [active if t == "sliding_attention" else None for t in derived]:
        raise HFConfigError(
            "layer_types disagree with use_sliding_window/max_window_layers; transformers 5 "
            "follows layer_types, transformers 4 the other two",
            keys=("layer_types", "max_window_layers"),
        )
    k.expect("use_mrope", (False, None), "multimodal RoPE is Qwen2-VL's, not Qwen2's")
    base, rules = window_rules(windows)
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "qwen2", max_seq_len=s.max_seq_len),
        ffn=gated_ffn(k, QWEN2),
        bias=(True, True, True, False, False),  # modeling_qwen2: q/k/v biased, o and MLP not
        attention={"sliding_window": base},
        layer_overrides=rules,
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    windows = v.windows
    sliding = [i for i, w in enumerate(windows) if w is not None]
    out = {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "use_sliding_window": bool(sliding),
        "sliding_window": windows[sliding[0]] if sliding else None,
        "max_window_layers": sliding[0] if sliding else spec.n_layers,
        **write_rope(spec, layout),
    }
    if layout == "v5":
        first = sliding[0] if sliding else spec.n_layers
        out["layer_types"] = [
            "sliding_attention" if i >= first else "full_attention" for i in range(spec.n_layers)
        ]
    return out


FAMILY = Family("qwen2", "Qwen2ForCausalLM", read, write, llama_names("qwen2"))
