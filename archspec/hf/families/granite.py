"""`granite`: Llama with Granite's four multipliers (GraniteForCausalLM, IBM Granite 3.x).

GraniteModel multiplies the embeddings by `embedding_multiplier`, each branch output by
`residual_multiplier` before it joins the residual stream, uses `attention_multiplier` as the
attention scale (no head_dim ** -0.5) and divides the logits by `logits_scaling`.
"""

from __future__ import annotations

from typing import Any

from archspec.hf.families import llama
from archspec.hf.families.base import Family, llama_names, view
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec.model import ModelSpec


def _multiplier(k: ConfigKeys, key: str) -> float | None:
    """A positive multiplier (default 1), as the spec field: None for 1."""
    value = k.get_float(key, 1.0)
    if value <= 0:
        raise HFConfigError(f"'{key}' must be positive, got {value}", keys=(key,))
    return None if value == 1.0 else value


def read(k: ConfigKeys) -> dict[str, Any]:
    data = llama.read(k)  # the Llama keys, defaults and checks (GraniteConfig shares them)
    logits_scaling = _multiplier(k, "logits_scaling")
    # GraniteAttention: scaling = attention_multiplier (1.0 by default, not head_dim ** -0.5)
    data["attention"]["scale"] = _multiplier(k, "attention_multiplier") or 1.0
    data["embedding"] = {"multiplier": _multiplier(k, "embedding_multiplier")}
    data["block"] = {"residual_multiplier": _multiplier(k, "residual_multiplier")}
    # GraniteForCausalLM: logits / logits_scaling
    data["head"]["logit_scale"] = None if logits_scaling is None else 1.0 / logits_scaling
    return data


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    logit_scale = spec.head.logit_scale
    return {
        **llama.write(spec, layout),
        "attention_multiplier": v.att.scale if v.att.scale is not None else v.head_dim**-0.5,
        "embedding_multiplier": spec.embedding.multiplier or 1.0,
        "residual_multiplier": spec.block.residual_multiplier or 1.0,
        "logits_scaling": 1.0 if logit_scale is None else 1.0 / logit_scale,
    }


FAMILY = Family("granite", "GraniteForCausalLM", read, write, llama_names("granite"))
