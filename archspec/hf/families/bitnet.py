"""`bitnet`: BitNet b1.58 (BitNetForCausalLM): Llama with sub-norms, a squared-ReLU gated MLP and,
under its `quantization_config`, every block projection a ternary BitLinear.

transformers builds plain `nn.Linear`s from the config alone (models/bitnet/modeling_bitnet.py);
the quantizer (quantizers/quantizer_bitnet.py, integrations/bitnet.py) swaps every linear but the
output head for a BitLinear (packed ternary weights) or an AutoBitLinear. How a checkpoint stores
the weights is read from the same `quantization_config` (:func:`archspec.hf.weights.stored_table`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.hf.families.base import (
    GATED_FROM_HF,
    GATED_TO_HF,
    LLAMA_MODULES,
    Family,
    activation,
    assemble,
    llama_names,
    read_rope,
    read_sizes,
    rms,
    view,
    whole_heads,
    write_rope,
)
from archspec.hf.keys import ConfigKeys, HFConfigError, Layout
from archspec.spec import linear
from archspec.spec.model import ModelSpec

BITNET = {  # BitNetConfig defaults (microsoft/bitnet-b1.58-2B-4T)
    "vocab_size": 128256,
    "hidden_size": 2560,
    "intermediate_size": 6912,
    "num_hidden_layers": 30,
    "num_attention_heads": 20,
    "num_key_value_heads": 5,
    "head_dim": None,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
}
ACTIVATIONS = {**GATED_FROM_HF, "relu2": "relu2_glu"}
"""BitNetMLP: down(sub_norm(act(gate(x)) * up(x))); 2B-4T's `hidden_act` is `relu2`."""
QUANTIZATION = {
    "quant_method": "bitnet",
    "linear_class": "bitlinear",
    "quantization_mode": "offline",
}
"""What export writes: packed ternary weights, as microsoft/bitnet-b1.58-2B-4T ships them."""
_KEYS = ("quantization_config",)


def _bitlinear(k: ConfigKeys, bias: bool) -> bool:
    """Whether the config's `quantization_config` makes the block projections BitLinears."""
    quant = k.take("quantization_config", None, record=False)
    if quant is None:
        return False
    if not isinstance(quant, Mapping) or quant.get("quant_method") != "bitnet":
        raise HFConfigError(
            "quantization_config is not BitNet's (quant_method 'bitnet'); archspec reads only "
            "that one for this family",
            keys=_KEYS,
        )
    if quant.get("use_rms_norm"):
        raise HFConfigError(
            "quantization_config.use_rms_norm adds an RMSNorm inside every BitLinear, which "
            "archspec does not build",
            keys=_KEYS,
        )
    skipped = quant.get("modules_to_not_convert")
    if skipped not in (None, [], ["lm_head"]):
        raise HFConfigError(
            f"quantization_config.modules_to_not_convert is {skipped!r}: archspec reads BitNet "
            "with every block projection ternary and the output head dense",
            keys=_KEYS,
        )
    auto = quant.get("linear_class", "bitlinear") == "autobitlinear"
    if auto and quant.get("quantization_mode", "offline") == "offline" and bias:
        raise HFConfigError(
            "an offline AutoBitLinear multiplies its bias by weight_scale, which archspec's "
            "BitLinear (bias added after scaling) does not",
            keys=(*_KEYS, "attention_bias"),
        )
    return True


def read(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "bitnet", BITNET)
    whole_heads(s, "bitnet")  # BitNetAttention sizes attn_sub_norm by hidden_size
    qkvo = k.get_bool("attention_bias", False)
    data = assemble(
        s,
        norm=rms(k.get_float("rms_norm_eps", 1e-5)),
        position=read_rope(k, "bitnet", max_seq_len=s.max_seq_len, default_theta=500000.0),
        ffn={
            "activation": activation(k, "hidden_act", "relu2", ACTIVATIONS),
            "hidden_dim": k.get_int("intermediate_size", BITNET["intermediate_size"]),
            "sub_norm": True,  # BitNetMLP.ffn_sub_norm
        },
        bias=(qkvo, qkvo, qkvo, qkvo, False),  # BitNetMLP: no bias
        attention={"sub_norm": True},  # BitNetAttention.attn_sub_norm
    )
    if _bitlinear(k, qkvo):
        data["linear"] = {"kind": "bitlinear_b158"}
    return data


def write(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    act = "relu2" if v.ffn.activation == "relu2_glu" else GATED_TO_HF.get(v.ffn.activation, "relu2")
    out = {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": act,
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        **write_rope(spec, layout),
    }
    if linear.projections(spec):
        out["quantization_config"] = dict(QUANTIZATION)
    return out


def hints(spec: ModelSpec) -> list[str]:
    chosen = linear.projections(spec)
    if chosen and len(chosen) != len(linear.BLOCK_PROJECTIONS):
        return ["transformers' BitNet makes every block projection a BitLinear, or none"]
    return []


FAMILY = Family(
    "bitnet",
    "BitNetForCausalLM",
    read,
    write,
    llama_names(
        "bitnet",
        modules={
            **LLAMA_MODULES,
            "attn.sub_norm": "self_attn.attn_sub_norm",
            "ffn.sub_norm": "mlp.ffn_sub_norm",
        },
        ternary="bitlinear",
    ),
    hints=hints,
)
