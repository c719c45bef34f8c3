"""`mixtral`: Mistral with a routed mixture of SwiGLU experts (MixtralForCausalLM)."""

from __future__ import annotations

from typing import Any

from archspec.hf.families.base import (
    Family,
    assemble,
    gated_ffn,
    llama_names,
    read_rope,
    read_sizes,
    rms,
    uniform_window,
    view,
)
from archspec.hf.families.mistral import MISTRAL
from archspec.hf.families.mistral import write as write_mistral
from archspec.hf.keys import ConfigKeys, Layout
from archspec.spec.model import ModelSpec

_MIXTRAL_IGNORABLE = {
    "router_aux_loss_coef": "load-balancing loss weight (training only)",
    "output_router_logits": "returns router logits for the auxiliary loss (training only)",
    "router_jitter_noise": "multiplicative noise on router inputs while training; off at inference",
}


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "mixtral", MISTRAL, head_dim_null=True)
    moe = {
        "n_experts": k.get_int("num_local_experts", 8, aliases=("num_experts",)),
        "experts_per_token": k.get_int("num_experts_per_tok", 2),
    }
    return assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-5)),
        position=read_rope(k, "mixtral", max_seq_len=s.max_seq_len, default_theta=1e6),
        # MixtralTopKRouter: softmax, top-k, renormalised; no router bias
        ffn={**gated_ffn(k, MISTRAL), "moe": moe},
        bias=(False,) * 5,
        attention={"sliding_window": uniform_window(k, "mixtral", s.n_layers, None)},
    )


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    moe = v.ffn.moe
    return {
        **write_mistral(spec, layout),
        "num_local_experts": moe.n_experts if moe else 1,
        "num_experts_per_tok": moe.experts_per_token if moe else 1,
    }


FAMILY = Family(
    "mixtral",
    "MixtralForCausalLM",
    read,
    write,
    llama_names("mixtral", moe_layouts=("per_expert", "fused")),
    _MIXTRAL_IGNORABLE,
)
