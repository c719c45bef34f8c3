"""The families whose knobs arrived with per-layer positions and multipliers: granite, smollm3,
cohere and cohere2. A tiny checkpoint made by transformers loads through `load_pretrained` with
its logits (runtime module and generated file), exports back to a checkpoint transformers loads
with the same logits, and a published config imports unedited with transformers' own count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from archspec.analysis.params import count_params
from archspec.hf.config import hf_config_to_spec, spec_meaning, spec_to_hf_config
from archspec.hf.loader import load_pretrained, save_pretrained
from tests.codegen.helpers import load_generated
from tests.hf.test_parity import hf_model, logit_error
from tests.nn.test_reference import CASES

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.hf

TOLERANCE = 1e-4
FAMILY_CASES = {
    "granite": "granite-multipliers",
    "smollm3": "smollm3-nope-layer",
    "cohere": "cohere-logit-scale",
    "cohere2": "cohere2-nope-global",
    "bloom": "bloom-embedding-layernorm",
    "gemma3_text": "gemma3-local-global-rope",
}


def _reference(family: str) -> Any:
    case = CASES[FAMILY_CASES[family]]
    return hf_model(case.config, case.hf)


@pytest.mark.parametrize("family", list(FAMILY_CASES))
def test_checkpoint_loads_and_exports_with_the_same_logits(family: str, tmp_path: Path) -> None:
    reference = _reference(family)
    reference.save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = load_pretrained(tmp_path / "hf").eval()
    assert ours.spec is not None
    # The spec it imports means the hand-written one (BLOOM's config has no context length:
    # it imports as its training length, 2048).
    want = spec_meaning(type(ours.spec).model_validate(CASES[FAMILY_CASES[family]].spec))
    got = spec_meaning(ours.spec)
    assert {**got, "max_seq_len": 0, "dtype": 0} == {**want, "max_seq_len": 0, "dtype": 0}
    assert logit_error(reference, ours) <= TOLERANCE
    generated = load_generated(ours.spec).build_model().eval()
    generated.load_state_dict(ours.state_dict())
    assert logit_error(reference, generated) <= TOLERANCE
    save_pretrained(ours, tmp_path / "export")
    # (export writes no token ids; SmolLM3's and Cohere's defaults lie beyond a tiny vocabulary)
    tokens = dict.fromkeys(("pad_token_id", "bos_token_id", "eos_token_id"))
    again = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path / "export", attn_implementation="eager", **tokens
    ).eval()
    assert logit_error(reference, again) <= TOLERANCE


@pytest.mark.parametrize("layout", ["v4", "v5"])
@pytest.mark.parametrize("family", list(FAMILY_CASES))
def test_round_trip_config_spec_config(family: str, layout: str) -> None:
    spec, _ = hf_config_to_spec(_reference(family).config.to_dict(), name=family)
    config = spec_to_hf_config(spec, model_type=family, layout=layout)
    back, _ = hf_config_to_spec(config, name=family)
    assert back == spec
    with torch.device("meta"):
        built = transformers.AutoModelForCausalLM.from_config(
            getattr(transformers, CASES[FAMILY_CASES[family]].config)(
                **{**config, "pad_token_id": None, "bos_token_id": None, "eos_token_id": None}
            )
        )
    assert sum(p.numel() for p in built.parameters()) == count_params(spec).total


def test_a_nope_spec_is_not_exported_as_llama() -> None:
    spec, _ = hf_config_to_spec(_reference("smollm3").config.to_dict(), name="s")
    assert spec_to_hf_config(spec)["model_type"] == "smollm3"


# Published configs, unedited (values as in the model repositories' config.json).
GRANITE_8B_128K = {
    "architectures": ["GraniteForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attention_multiplier": 0.0078125,
    "bos_token_id": 0,
    "embedding_multiplier": 12.0,
    "eos_token_id": 0,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 12800,
    "logits_scaling": 16.0,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "granite",
    "num_attention_heads": 32,
    "num_hidden_layers": 40,
    "num_key_value_heads": 8,
    "pad_token_id": 0,
    "residual_multiplier": 0.22,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 10000000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.49.0",
    "use_cache": True,
    "vocab_size": 49159,
}
"""IBM Granite 3.x 8B instruct, 128k context (transformers 4.49)."""

SMOLLM3_3B = {
    "architectures": ["SmolLM3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128012,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 65536,
    "mlp_bias": False,
    "model_type": "smollm3",
    "no_rope_layer_interval": 4,
    "no_rope_layers": [1, 1, 1, 0] * 9,
    "num_attention_heads": 16,
    "num_hidden_layers": 36,
    "num_key_value_heads": 4,
    "pad_token_id": 128004,
    "pretraining_tp": 2,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 5000000.0,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 128256,
}
"""HuggingFaceTB/SmolLM3-3B: NoPE on layers 3, 7, ..., 35."""

BLOOM_560M = {
    "apply_residual_connection_post_layernorm": False,
    "architectures": ["BloomForCausalLM"],
    "attention_dropout": 0.0,
    "attention_softmax_in_fp32": True,
    "bias_dropout_fusion": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_dropout": 0.0,
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "masked_softmax_fusion": True,
    "model_type": "bloom",
    "n_head": 16,
    "n_inner": None,
    "n_layer": 24,
    "offset_alibi": 100,
    "pad_token_id": 3,
    "pretraining_tp": 1,
    "skip_bias_add": True,
    "skip_bias_add_qkv": False,
    "slow_but_exact": False,
    "transformers_version": "4.26.0",
    "unk_token_id": 0,
    "use_cache": True,
    "vocab_size": 250880,
}
"""bigscience/bloom-560m."""

GEMMA3_1B = {
    "architectures": ["Gemma3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": [1, 106],
    "final_logit_softcapping": None,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 1152,
    "initializer_range": 0.02,
    "intermediate_size": 6912,
    "max_position_embeddings": 32768,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 26,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": 512,
    "sliding_window_pattern": 6,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.50.0.dev0",
    "use_cache": True,
    "vocab_size": 262144,
}
"""google/gemma-3-1b-it: five local layers (window 512, theta 1e4) per global one (theta 1e6)."""


@pytest.mark.parametrize(
    ("config", "config_class"),
    [
        (GRANITE_8B_128K, "GraniteConfig"),
        (SMOLLM3_3B, "SmolLM3Config"),
        (BLOOM_560M, "BloomConfig"),
        (GEMMA3_1B, "Gemma3TextConfig"),
    ],
    ids=["granite-8b", "smollm3-3b", "bloom-560m", "gemma3-1b"],
)
def test_published_config_imports_unedited_and_counts_exactly(
    config: dict[str, Any], config_class: str
) -> None:
    spec, report = hf_config_to_spec(config, name="published")
    with torch.device("meta"):
        built = transformers.AutoModelForCausalLM.from_config(
            getattr(transformers, config_class)(**config)
        )
    assert count_params(spec).total == sum(p.numel() for p in built.parameters())
    if config_class == "SmolLM3Config":
        assert spec.layer_overrides[0].every == 4 and spec.layer_overrides[0].offset == 3
        assert spec.layer_overrides[0].position == {"kind": "none"}
    elif config_class == "Gemma3TextConfig":
        (rule,) = spec.layer_overrides
        assert (rule.every, rule.offset, rule.attention) == (6, 5, {"sliding_window": None})
        assert rule.position == {"kind": "rope", "theta": 1e6}
        assert (spec.position.theta, spec.attention.sliding_window) == (10000.0, 512)
    elif config_class == "BloomConfig":
        assert spec.position.kind == "alibi" and spec.embedding.norm is not None
        assert count_params(spec).total == 559_214_592  # bloom-560m
    else:
        assert (spec.embedding.multiplier, spec.block.residual_multiplier) == (12.0, 0.22)
        assert (spec.head.logit_scale, spec.attention.scale) == (1 / 16, 0.0078125)
