"""Export that transformers 4.4x-4.57 and 5.x read the same, and token ids that survive the trip.

transformers 4 is not installed next to 5, so its reading is proven against the key spellings each
family's 4.x configuration class reads (its `__init__` arguments): a config cut down to those keys
must import as the same model as the whole config, and so must a config cut down to the keys
transformers 5 reads.
"""

from __future__ import annotations

from typing import Any

import pytest

import archspec
from archspec.hf.config import hf_config_to_spec, spec_meaning, spec_to_hf_config
from archspec.spec.dump import to_yaml
from archspec.spec.load import load_spec
from archspec.spec.shipped import shipped_names
from tests.hf.test_new_families import REAL

_COMMON_V4 = {
    "model_type",
    "architectures",
    "torch_dtype",
    "vocab_size",
    "tie_word_embeddings",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
}
_LLAMA_V4 = {
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
}
_QWEN_WINDOWS = {"use_sliding_window", "sliding_window", "max_window_layers"}

V4_KEYS: dict[str, set[str]] = {
    "llama": _LLAMA_V4 | {"attention_bias", "mlp_bias", "head_dim"},
    "bitnet": _LLAMA_V4 | {"attention_bias", "quantization_config"},  # transformers >= 4.52
    "mistral": _LLAMA_V4 | {"head_dim", "sliding_window"},
    "mixtral": _LLAMA_V4
    | {"head_dim", "sliding_window", "num_local_experts", "num_experts_per_tok"},
    "qwen2": _LLAMA_V4 | _QWEN_WINDOWS,
    "gemma": _LLAMA_V4 | {"head_dim", "hidden_activation", "attention_bias"},
    "gemma2": _LLAMA_V4
    | {
        "head_dim",
        "hidden_activation",
        "attention_bias",
        "query_pre_attn_scalar",
        "sliding_window",
        "final_logit_softcapping",
        "attn_logit_softcapping",
    },
    "olmo": _LLAMA_V4 - {"rms_norm_eps"} | {"attention_bias", "clip_qkv"},
    "olmo2": _LLAMA_V4 | {"attention_bias"},
    "phi": _LLAMA_V4 - {"rms_norm_eps"}
    | {"layer_norm_eps", "partial_rotary_factor", "qk_layernorm"},
    # T5: every key but transformers 5's scale_decoder_outputs (4.x reads tie_word_embeddings)
    "t5": {
        "d_model",
        "d_kv",
        "d_ff",
        "num_layers",
        "num_decoder_layers",
        "num_heads",
        "relative_attention_num_buckets",
        "relative_attention_max_distance",
        "layer_norm_epsilon",
        "feed_forward_proj",
        "dense_act_fn",
        "is_gated_act",
        "tie_word_embeddings",
        "n_positions",
        "is_encoder_decoder",
    },
    "gpt2": {
        "n_positions",
        "n_embd",
        "n_layer",
        "n_head",
        "n_inner",
        "activation_function",
        "layer_norm_epsilon",
        "scale_attn_weights",
        "scale_attn_by_inverse_layer_idx",
    },
    "falcon": {
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_kv_heads",
        "layer_norm_epsilon",
        "bias",
        "alibi",
        "new_decoder_architecture",
        "multi_query",
        "parallel_attn",
        "max_position_embeddings",
        "rope_theta",
        "rope_scaling",
        "ffn_hidden_size",
        "activation",
        "num_ln_in_parallel_attn",
    },
    "qwen3": _LLAMA_V4 | _QWEN_WINDOWS | {"head_dim", "attention_bias"},
    "qwen3_moe": _LLAMA_V4
    | _QWEN_WINDOWS
    | {
        "head_dim",
        "attention_bias",
        "decoder_sparse_step",
        "moe_intermediate_size",
        "num_experts",
        "num_experts_per_tok",
        "norm_topk_prob",
        "mlp_only_layers",
    },
    "phi3": _LLAMA_V4
    | {"original_max_position_embeddings", "partial_rotary_factor", "sliding_window"},
    "stablelm": _LLAMA_V4 - {"rms_norm_eps"}
    | {
        "layer_norm_eps",
        "use_qkv_bias",
        "qk_layernorm",
        "use_parallel_residual",
        "partial_rotary_factor",
    },
    "gpt_neox": {
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_act",
        "rotary_pct",
        "rotary_emb_base",
        "max_position_embeddings",
        "layer_norm_eps",
        "use_parallel_residual",
        "rope_scaling",
        "attention_bias",
    },
    "gptj": {
        "n_positions",
        "n_embd",
        "n_layer",
        "n_head",
        "rotary_dim",
        "n_inner",
        "activation_function",
        "layer_norm_epsilon",
    },
    "starcoder2": _LLAMA_V4 - {"rms_norm_eps", "rope_scaling"}
    | {"norm_epsilon", "sliding_window", "use_bias"},
    "olmoe": _LLAMA_V4
    | {"attention_bias", "clip_qkv", "num_experts", "num_experts_per_tok", "norm_topk_prob"},
    # RecurrentGemmaConfig (4.40+): no max_position_embeddings, no head_dim (derived).
    "recurrent_gemma": {
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "lru_width",
        "attention_window_size",
        "conv1d_width",
        "logits_soft_cap",
        "rms_norm_eps",
        "hidden_activation",
        "partial_rotary_factor",
        "rope_theta",
        "block_types",
        "attention_bias",
        "tie_word_embeddings",
    },
}
"""Architecture keys each family's transformers 4.x configuration class reads."""

V4_ONLY = {"torch_dtype", "rope_theta", "rope_scaling", "rotary_pct", "rotary_emb_base"}
"""Keys transformers 5 does not need (it reads `dtype` and `rope_parameters`)."""


def _specs() -> dict[str, Any]:
    out = {name: load_spec(name) for name in shipped_names()}
    out.update({key: hf_config_to_spec(config, name="real")[0] for key, config in REAL.items()})
    return out


SPECS = _specs()


@pytest.mark.parametrize("key", SPECS)
def test_transformers4_and_5_spellings_read_the_same(key: str) -> None:
    spec = SPECS[key]
    config = spec_to_hf_config(spec)
    model_type = config["model_type"]
    assert "rope_parameters" not in config or "rope_theta" in config  # both spellings written
    v4 = {k: v for k, v in config.items() if k in _COMMON_V4 | V4_KEYS[model_type]}
    v5 = {k: v for k, v in config.items() if k not in V4_ONLY}
    meaning = spec_meaning(spec)
    rows = spec.vocab_size if spec.padded_vocab_size else None
    assert spec_meaning(hf_config_to_spec(v4, name=spec.name, vocab_size=rows)[0]) == meaning
    assert spec_meaning(hf_config_to_spec(v5, name=spec.name, vocab_size=rows)[0]) == meaning


def test_llama31_keeps_its_rope_scaling_for_transformers4() -> None:
    spec = hf_config_to_spec(REAL_LLAMA31, name="llama31")[0]
    config = spec_to_hf_config(spec)
    assert config["rope_theta"] == 500000.0
    assert config["rope_scaling"]["rope_type"] == "llama3"
    assert config["rope_parameters"]["rope_theta"] == 500000.0
    assert config["dtype"] == config["torch_dtype"] == "bfloat16"


REAL_LLAMA31 = {
    "model_type": "llama",
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_attention_heads": 32,
    "num_hidden_layers": 16,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "max_position_embeddings": 131072,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "vocab_size": 128256,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
}


@pytest.mark.parametrize("key", REAL)
def test_token_ids_survive_import_spec_yaml_export(key: str, tmp_path: Any) -> None:
    config = REAL[key]
    spec, _ = hf_config_to_spec(config, name="tokens")
    path = tmp_path / "spec.yaml"
    path.write_text(to_yaml(spec), encoding="utf-8")
    again = spec_to_hf_config(archspec.load_spec(str(path)), model_type=config["model_type"])
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        assert again[name] == config.get(name), name


def test_eos_list_and_odd_token_ids() -> None:
    spec, _ = hf_config_to_spec(REAL_LLAMA31, name="llama31")
    assert spec.tokens is not None and spec.tokens.eos == [128001, 128008, 128009]
    odd, report = hf_config_to_spec({**REAL_LLAMA31, "pad_token_id": -1}, name="odd")
    assert odd.tokens is not None and odd.tokens.pad is None
    assert any("pad_token_id -1" in note for note in report.notes)
    # tokens are metadata: they do not change the meaning
    assert spec_meaning(odd) == spec_meaning(spec)
