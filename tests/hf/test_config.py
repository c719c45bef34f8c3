"""Hugging Face config.json <-> spec: exact export, exact import, every key accounted for.

Three views are held to each other: archspec's parameter count, the count of the model transformers
builds from the exported config (on the meta device: no memory, no weights), and the spec read back
from the config, compared in meaning with :func:`archspec.hf.config.spec_meaning`. Hand-written
configs, modelled on the official `config.json` files, are read in both the transformers 4 layout
(top-level `rope_theta`, `rope_scaling`, `torch_dtype`) and the transformers 5 one
(`rope_parameters`, `dtype`, `layer_types`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import archspec
from archspec.errors import ArchspecError, UsageError
from archspec.hf.config import (
    SUPPORTED_MODEL_TYPES,
    HFConfigError,
    ImportReport,
    hf_config_to_spec,
    load_hf_config,
    spec_meaning,
    spec_to_hf_config,
)
from archspec.hf.families import FAMILIES
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import deep_merge, vocab_rows
from archspec.spec.shipped import shipped_names
from tests.strategies import specs

SHIPPED = shipped_names()
LAYOUTS = ("v5", "v4", "both")


def reimport(spec: ModelSpec, config: dict[str, Any]) -> tuple[ModelSpec, ImportReport]:
    """Read an exported config back; the tokenizer's size is not in a config, so pass it on."""
    padded = vocab_rows(spec) != spec.vocab_size
    return hf_config_to_spec(config, name=spec.name, vocab_size=spec.vocab_size if padded else None)


def field(spec: ModelSpec, dotted: str) -> Any:
    value: Any = spec.model_dump(mode="json")
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


# --- transformers, on the meta device ---------------------------------------------------------------


@pytest.fixture(scope="module")
def hf() -> Any:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    transformers.logging.set_verbosity_error()  # token ids outside tiny vocabularies, etc.
    return transformers


def hf_config(transformers: Any, config: dict[str, Any]) -> Any:
    kwargs = dict(config)
    return transformers.AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)


def hf_count(transformers: Any, config: dict[str, Any]) -> int:
    """Parameters of the model transformers builds from ``config`` (tied weights once)."""
    import torch

    auto = transformers.AutoModelForCausalLM
    if config.get("is_encoder_decoder"):  # T5
        auto = transformers.AutoModelForSeq2SeqLM
    with torch.device("meta"):
        model = auto.from_config(hf_config(transformers, config))
        if config.get("tie_word_embeddings") is False:
            # transformers 5's T5Config ties whatever is written; the checkpoints of untied T5
            # models (FLAN) hold their own lm_head, which transformers then keeps untied.
            model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    return sum(p.numel() for p in model.parameters())


# --- every shipped spec ------------------------------------------------------------------------------


@pytest.mark.hf
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", SHIPPED, ids=SHIPPED)
def test_transformers_builds_the_exported_spec_with_the_same_count(
    hf: Any, name: str, layout: str
) -> None:
    spec = archspec.load_spec(name)
    config = spec_to_hf_config(spec, layout=layout)
    assert hf_count(hf, config) == archspec.count_params(spec).total


@pytest.mark.hf
@pytest.mark.parametrize("name", SHIPPED, ids=SHIPPED)
def test_transformers_reads_the_export_as_archspec_does(hf: Any, name: str) -> None:
    """transformers' own full serialisation of the exported config (defaults, standardised RoPE,
    derived layer types) reads back as the same spec, and every key it writes is accounted for."""
    spec = archspec.load_spec(name)
    for layout in LAYOUTS:
        written = json.loads(hf_config(hf, spec_to_hf_config(spec, layout=layout)).to_json_string())
        back, report = reimport(spec, written)
        assert spec_meaning(back) == spec_meaning(spec), layout
        assert report.accounted == set(written), layout


@pytest.mark.parametrize("name", SHIPPED, ids=SHIPPED)
def test_import_of_export_is_the_same_model(name: str) -> None:
    spec = archspec.load_spec(name)
    for layout in LAYOUTS:
        config = spec_to_hf_config(spec, layout=layout)
        back, report = reimport(spec, config)
        assert spec_meaning(back) == spec_meaning(spec), layout
        assert archspec.count_params(back).total == archspec.count_params(spec).total
        assert report.accounted == set(config)
        assert report.ignored == ()  # an export writes architecture keys only
        # export of the imported spec reproduces the config
        assert spec_to_hf_config(back, layout=layout) == config


def test_export_names_model_type_architecture_and_dtype() -> None:
    config = spec_to_hf_config(archspec.load_spec("gemma-7b"))
    assert (config["model_type"], config["architectures"], config["dtype"]) == (
        "gemma",
        ["GemmaForCausalLM"],
        "bfloat16",
    )
    assert config["rope_parameters"] == {"rope_type": "default", "rope_theta": 10000.0}
    legacy = spec_to_hf_config(archspec.load_spec("gemma-7b"), layout="v4")
    assert legacy["torch_dtype"] == "bfloat16" and legacy["rope_theta"] == 10000.0
    assert legacy["rope_scaling"] is None
    assert "dtype" not in legacy and "rope_parameters" not in legacy
    assert list(config) == sorted(config)


def test_supported_families_match_the_tables() -> None:
    assert set(SUPPORTED_MODEL_TYPES) == set(FAMILIES)


# --- tiny specs of every feature a family expresses --------------------------------------------------

TINY: dict[str, Any] = {
    "name": "tiny",
    "vocab_size": 96,
    "d_model": 64,
    "n_layers": 4,
    "max_seq_len": 64,
    "dtype": "float32",
    "norm": {"kind": "rmsnorm"},
    "position": {"kind": "rope"},
    "attention": {"n_heads": 4, "n_kv_heads": 2},
    "ffn": {"activation": "swiglu", "hidden_dim": 96},
}
LN = {"kind": "layernorm", "eps": 1e-5}
QWEN2_BIAS = {"q_bias": True, "k_bias": True, "v_bias": True}
GEMMA = {
    "norm": {"unit_offset": True},
    "ffn": {"activation": "geglu_tanh"},
    "embedding": {"scale_by_sqrt_d_model": True},
    "head": {"tie_embeddings": True},
}
GEMMA2 = deep_merge(
    GEMMA,
    {
        "attention": {"head_dim": 32, "sliding_window": 16, "logit_softcap": 50.0},
        "block": {"placement": "sandwich"},
        "head": {"logit_softcap": 30.0},
        "layer_overrides": [{"every": 2, "offset": 1, "attention": {"sliding_window": None}}],
    },
)
PHI = {
    "bias": True,
    "norm": LN,
    "position": {"fraction": 0.5},
    "attention": {"n_kv_heads": 4},
    "ffn": {"activation": "gelu_tanh"},
    "block": {"parallel_residual": True},
    "head": {"bias": True},
}
GPT2 = {
    "bias": True,
    "norm": LN,
    "position": {"kind": "learned"},
    "attention": {"n_kv_heads": 4},
    "ffn": {"activation": "gelu_tanh", "hidden_dim": 256},
    "head": {"tie_embeddings": True},
}
FALCON = {
    "norm": LN,
    "ffn": {"activation": "gelu", "hidden_dim": 256},
    "head": {"tie_embeddings": True},
}

# id -> (family export must choose, changes to TINY). Names are deliberately misleading: the family
# comes from the features.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "llama-gqa": ("llama", {"name": "gemma-like-name"}),
    "llama-head_dim-mlp_bias": ("llama", {"attention": {"head_dim": 32}, "ffn": {"bias": True}}),
    "llama-all-bias-tied": ("llama", {"bias": True, "head": {"tie_embeddings": True}}),
    "llama3-rope-scaling": (
        "llama",
        {
            "position": {
                "theta": 500000.0,
                "scaling": {"kind": "llama3", "factor": 8.0, "original_max_seq_len": 32},
            }
        },
    ),
    "llama-linear-rope": ("llama", {"position": {"scaling": {"kind": "linear", "factor": 4.0}}}),
    "mistral-window": ("mistral", {"attention": {"sliding_window": 16}}),
    "mixtral-moe": (
        "mixtral",
        {"ffn": {"moe": {"n_experts": 4, "experts_per_token": 2}}, "attention": {"n_kv_heads": 1}},
    ),
    "mixtral-moe-window": (
        "mixtral",
        {
            "ffn": {"moe": {"n_experts": 3, "experts_per_token": 1}},
            "attention": {"sliding_window": 8},
        },
    ),
    "qwen2-yarn": (
        "qwen2",
        {
            "attention": QWEN2_BIAS,
            "position": {
                "theta": 1e6,
                "scaling": {"kind": "yarn", "factor": 4.0, "original_max_seq_len": 16},
            },
        },
    ),
    "qwen2-yarn-attention-factor": (
        "qwen2",
        {
            "attention": QWEN2_BIAS,
            "position": {
                "scaling": {
                    "kind": "yarn",
                    "factor": 2.0,
                    "original_max_seq_len": 32,
                    "beta_fast": 16.0,
                    "beta_slow": 2.0,
                    "attention_factor": 1.2,
                }
            },
        },
    ),
    "qwen2-upper-layers-slide": (
        "qwen2",
        {
            "attention": QWEN2_BIAS,
            "layer_overrides": [{"layers": [2, 3], "attention": {"sliding_window": 8}}],
        },
    ),
    "gemma-mqa": ("gemma", deep_merge(GEMMA, {"attention": {"n_kv_heads": 1, "head_dim": 32}})),
    "gemma-attention-bias": (
        "gemma",
        deep_merge(
            GEMMA, {"attention": {"q_bias": True, "k_bias": True, "v_bias": True, "o_bias": True}}
        ),
    ),
    "gemma2-alternating": ("gemma2", GEMMA2),
    "gemma2-query-scalar": ("gemma2", deep_merge(GEMMA2, {"attention": {"scale": 24**-0.5}})),
    "gemma2-every-third-global": (
        "gemma2",
        deep_merge(
            GEMMA2,
            {
                "n_layers": 6,
                "layer_overrides": [
                    {"every": 3, "offset": 2, "attention": {"sliding_window": None}}
                ],
            },
        ),
    ),
    "olmo-clip-padded": (
        "olmo",
        {
            "norm": {"kind": "layernorm", "affine": False},
            "attention": {"qkv_clip": 8.0},
            "vocab_size": 90,
            "padded_vocab_size": 96,
        },
    ),
    "olmo2-qk-norm": (
        "olmo2",
        {
            "norm": {"eps": 1e-6},
            "attention": {"qk_norm": {"scope": "projection"}},
            "block": {"placement": "branch_post"},
        },
    ),
    "phi-partial-rotary": ("phi", PHI),
    "phi-qk-layernorm": (
        "phi",
        deep_merge(PHI, {"attention": {"qk_norm": {"scope": "head", "norm": LN}}}),
    ),
    "gpt2": ("gpt2", GPT2),
    "gpt2-untied-unscaled": (
        "gpt2",
        deep_merge(GPT2, {"attention": {"scale": 1.0}, "head": {"tie_embeddings": False}}),
    ),
    "gpt2-scale-by-inverse-layer": (
        "gpt2",
        {
            **GPT2,
            "layer_overrides": [
                {"layers": [i], "attention": {"scale": 16**-0.5 / float(i + 1)}} for i in (1, 2, 3)
            ],
        },
    ),
    "falcon7b-like-mqa-parallel": (
        "falcon",
        deep_merge(FALCON, {"attention": {"n_kv_heads": 1}, "block": {"parallel_residual": True}}),
    ),
    "falcon40b-like-gqa-two-norms": (
        "falcon",
        deep_merge(
            FALCON,
            {
                "attention": {"n_kv_heads": 2},
                "block": {"parallel_residual": True, "shared_norm": False},
            },
        ),
    ),
    "falcon11b-like-gqa-one-norm": (
        "falcon",
        deep_merge(FALCON, {"attention": {"n_kv_heads": 2}, "block": {"parallel_residual": True}}),
    ),
    "falcon-sequential-mha-bias": (
        "falcon",
        deep_merge(
            FALCON,
            {"attention": {"n_kv_heads": 4}, "bias": True, "head": {"tie_embeddings": False}},
        ),
    ),
}


def variant(key: str) -> ModelSpec:
    return ModelSpec.model_validate(deep_merge(TINY, VARIANTS[key][1]))


@pytest.mark.parametrize("key", VARIANTS)
def test_variant_exports_as_its_family_and_round_trips(key: str) -> None:
    spec = variant(key)
    for layout in LAYOUTS:
        config = spec_to_hf_config(spec, layout=layout)
        assert config["model_type"] == VARIANTS[key][0]
        back, report = reimport(spec, config)
        assert spec_meaning(back) == spec_meaning(spec)
        assert report.accounted == set(config)
        assert spec_to_hf_config(back, layout=layout) == config


@pytest.mark.hf
@pytest.mark.parametrize("key", VARIANTS)
def test_variant_counts_and_reads_back_through_transformers(hf: Any, key: str) -> None:
    spec = variant(key)
    for layout in LAYOUTS:
        config = spec_to_hf_config(spec, layout=layout)
        assert hf_count(hf, config) == archspec.count_params(spec).total
        written = json.loads(hf_config(hf, config).to_json_string())
        back, report = reimport(spec, written)
        assert spec_meaning(back) == spec_meaning(spec)
        assert report.accounted == set(written)


def test_gemma2_pattern_is_read_as_a_rule_with_layer_zero_sliding() -> None:
    config = spec_to_hf_config(variant("gemma2-alternating"))
    assert config["layer_types"] == ["sliding_attention", "full_attention"] * 2
    del config["layer_types"]  # transformers 4 configs: the pattern is Gemma2Config's default
    spec, _ = hf_config_to_spec(config, name="g")
    assert spec.attention.sliding_window == 16
    assert [r.model_dump(exclude_defaults=True) for r in spec.layer_overrides] == [
        {"every": 2, "offset": 1, "attention": {"sliding_window": None}}
    ]


def test_qwen2_sliding_layers_come_from_max_window_layers() -> None:
    config = spec_to_hf_config(variant("qwen2-upper-layers-slide"), layout="v4")
    keys = ("use_sliding_window", "sliding_window", "max_window_layers")
    assert {k: config[k] for k in keys} == dict(zip(keys, (True, 8, 2), strict=True))
    assert "layer_types" not in config


def test_gpt2_inverse_layer_scaling_is_one_flag() -> None:
    config = spec_to_hf_config(variant("gpt2-scale-by-inverse-layer"))
    assert config["scale_attn_by_inverse_layer_idx"] is True
    assert config["scale_attn_weights"] is True
    assert spec_to_hf_config(variant("gpt2-untied-unscaled"))["scale_attn_weights"] is False


def test_falcon_architecture_flags_follow_the_block() -> None:
    def flags(key: str) -> tuple[Any, ...]:
        c = spec_to_hf_config(variant(key))
        names = ("new_decoder_architecture", "parallel_attn", "multi_query", "num_kv_heads")
        return tuple(c.get(n) for n in names) + (c.get("num_ln_in_parallel_attn"),)

    assert flags("falcon7b-like-mqa-parallel") == (False, True, True, None, None)
    assert flags("falcon40b-like-gqa-two-norms") == (True, True, None, 2, None)
    assert flags("falcon11b-like-gqa-one-norm") == (True, True, None, 2, 1)
    assert flags("falcon-sequential-mha-bias") == (False, False, False, None, None)


def test_padded_vocabulary_exports_the_rows() -> None:
    spec = variant("olmo-clip-padded")
    config = spec_to_hf_config(spec)
    assert config["vocab_size"] == 96  # the rows transformers builds
    back, _ = hf_config_to_spec(config, name="o")
    assert (back.vocab_size, back.padded_vocab_size) == (96, None)
    back, _ = hf_config_to_spec(config, name="o", vocab_size=90)
    assert (back.vocab_size, back.padded_vocab_size) == (90, 96)
    with pytest.raises(HFConfigError, match="vocab_size"):
        hf_config_to_spec(config, name="o", vocab_size=97)


# --- specs no family represents ------------------------------------------------------------------------

UNEXPORTABLE: dict[str, tuple[dict[str, Any], str]] = {
    "static-ntk": ({"position": {"scaling": {"kind": "ntk", "factor": 2.0}}}, "position.scaling"),
    "interleaved-rope": ({"position": {"layout": "interleaved"}}, "position.layout"),
    "norm-in-input-dtype": ({"norm": {"compute_dtype": "input"}}, "norm.compute_dtype"),
    "no-final-norm": ({"head": {"final_norm": False}}, "head.final_norm"),
    "no-position": ({"position": {"kind": "none"}}, "position"),
    "post-norm": ({"block": {"placement": "post"}}, "block.placement"),
    "per-layer-ffn": (
        {"layer_overrides": [{"layers": [1], "ffn": {"hidden_dim": 32}}]},
        "ffn.hidden_dim is 32 on layers 1",
    ),
    "alibi": (deep_merge(FALCON, {"position": {"kind": "alibi"}}), "Falcon's ALiBi divides"),
    "gemma-exact-gelu": (deep_merge(GEMMA, {"ffn": {"activation": "geglu"}}), "rewrites Gemma"),
    "moe-router-bias": (
        {"ffn": {"moe": {"n_experts": 2, "experts_per_token": 1, "router_bias": True}}},
        "router_bias",
    ),
}


@pytest.mark.parametrize("key", UNEXPORTABLE)
def test_spec_no_family_represents_lists_what_blocks_each(key: str) -> None:
    changes, blocker = UNEXPORTABLE[key]
    spec = ModelSpec.model_validate(deep_merge(TINY, changes))
    with pytest.raises(HFConfigError) as err:
        spec_to_hf_config(spec)
    assert set(err.value.blockers) == set(SUPPORTED_MODEL_TYPES)
    assert all(err.value.blockers.values())
    assert blocker in str(err.value)
    assert "no Hugging Face family represents spec 'tiny' exactly" in str(err.value)


def test_forced_family_must_be_exact() -> None:
    spec = variant("mistral-window")
    with pytest.raises(HFConfigError) as err:
        spec_to_hf_config(spec, model_type="llama")
    assert list(err.value.blockers) == ["llama"]
    assert "attention.sliding_window is 16 on every layer; llama gives null" in str(err.value)
    with pytest.raises(HFConfigError, match="unsupported model_type 'bert'"):
        spec_to_hf_config(spec, model_type="bert")


@settings(max_examples=40)
@given(specs())
def test_any_spec_exports_exactly_or_says_why(spec: ModelSpec) -> None:
    try:
        config = spec_to_hf_config(spec)
    except HFConfigError as err:
        assert set(err.blockers) == set(SUPPORTED_MODEL_TYPES)
        return
    back, report = reimport(spec, config)
    assert spec_meaning(back) == spec_meaning(spec)
    assert report.accounted == set(config)


# --- official configs, both layouts --------------------------------------------------------------------


def v5(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The transformers-5 spelling of a transformers-4 config: `dtype` for `torch_dtype`, RoPE in
    `rope_parameters` (given in ``changes``), a 5.x version; other changes as written."""
    out = {
        k: v
        for k, v in config.items()
        if k not in ("torch_dtype", "rope_theta", "rope_scaling", "partial_rotary_factor")
    }
    out["dtype"] = config["torch_dtype"]
    out["transformers_version"] = "5.0.0"
    return {**out, **changes}


LLAMA2_7B = {
    "_name_or_path": "meta-llama/Llama-2-7b-hf",
    "architectures": ["LlamaForCausalLM"],
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.31.0.dev0",
    "use_cache": True,
    "vocab_size": 32000,
}
LLAMA31_8B = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}
MISTRAL_7B = {
    "architectures": ["MistralForCausalLM"],
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mistral",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.34.0.dev0",
    "use_cache": True,
    "vocab_size": 32000,
}
MIXTRAL_8X7B = {
    "architectures": ["MixtralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mixtral",
    "num_attention_heads": 32,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "output_router_logits": False,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.02,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.36.0.dev0",
    "use_cache": True,
    "vocab_size": 32000,
}
QWEN2_7B = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 131072,
    "max_window_layers": 28,
    "model_type": "qwen2",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.37.2",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 152064,
}
GEMMA_7B = {
    "architectures": ["GemmaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "head_dim": 256,
    "hidden_act": "gelu",
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 3072,
    "initializer_range": 0.02,
    "intermediate_size": 24576,
    "max_position_embeddings": 8192,
    "model_type": "gemma",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 16,
    "pad_token_id": 0,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.38.0.dev0",
    "use_cache": True,
    "vocab_size": 256000,
}
GEMMA2_9B = {
    "architectures": ["Gemma2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": 50.0,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": 1,
    "final_logit_softcapping": 30.0,
    "head_dim": 256,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 8192,
    "model_type": "gemma2",
    "num_attention_heads": 16,
    "num_hidden_layers": 42,
    "num_key_value_heads": 8,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "sliding_window_size": 4096,
    "torch_dtype": "float32",
    "transformers_version": "4.42.0.dev0",
    "use_cache": True,
    "vocab_size": 256000,
}
OLMO_1B = {
    "architectures": ["OlmoForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "clip_qkv": None,
    "eos_token_id": 50279,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 2048,
    "model_type": "olmo",
    "num_attention_heads": 16,
    "num_hidden_layers": 16,
    "num_key_value_heads": 16,
    "pad_token_id": 1,
    "pretraining_tp": 1,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.40.0.dev0",
    "use_cache": True,
    "vocab_size": 50304,
}
OLMO2_7B = {
    "architectures": ["Olmo2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "eos_token_id": 100257,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "model_type": "olmo2",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "pad_token_id": 100277,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 500000,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "transformers_version": "4.47.0.dev0",
    "use_cache": True,
    "vocab_size": 100352,
}
PHI_2 = {
    "_name_or_path": "microsoft/phi-2",
    "architectures": ["PhiForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 50256,
    "embd_pdrop": 0.0,
    "eos_token_id": 50256,
    "hidden_act": "gelu_new",
    "hidden_size": 2560,
    "initializer_range": 0.02,
    "intermediate_size": 10240,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 2048,
    "model_type": "phi",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "partial_rotary_factor": 0.4,
    "qk_layernorm": False,
    "resid_pdrop": 0.1,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.37.0",
    "use_cache": True,
    "vocab_size": 51200,
}
GPT2_SMALL = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 50256,
    "embd_pdrop": 0.1,
    "eos_token_id": 50256,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 1024,
    "n_embd": 768,
    "n_head": 12,
    "n_layer": 12,
    "n_positions": 1024,
    "resid_pdrop": 0.1,
    "summary_activation": None,
    "summary_first_dropout": 0.1,
    "summary_proj_to_labels": True,
    "summary_type": "cls_index",
    "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
    "torch_dtype": "float32",
    "vocab_size": 50257,
}
FALCON_7B = {
    "alibi": False,
    "apply_residual_connection_post_layernorm": False,
    "architectures": ["FalconForCausalLM"],
    "attention_dropout": 0.0,
    "bias": False,
    "bos_token_id": 11,
    "eos_token_id": 11,
    "hidden_dropout": 0.0,
    "hidden_size": 4544,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "falcon",
    "multi_query": True,
    "new_decoder_architecture": False,
    "num_attention_heads": 71,
    "num_hidden_layers": 32,
    "parallel_attn": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.27.4",
    "use_cache": True,
    "vocab_size": 65024,
}
FALCON_40B = {
    **FALCON_7B,
    "hidden_size": 8192,
    "new_decoder_architecture": True,
    "num_attention_heads": 128,
    "num_hidden_layers": 60,
    "num_kv_heads": 8,
}
del FALCON_40B["multi_query"]

# id -> (config, expected spec fields, published or reference total parameter count or None)
OFFICIAL: dict[str, tuple[dict[str, Any], dict[str, Any], int | None]] = {
    "llama2-7b-v4": (
        LLAMA2_7B,
        {
            "norm.eps": 1e-5,
            "attention.n_kv_heads": 32,
            "position.theta": 10000.0,
            "dtype": "float16",
        },
        6738415616,
    ),
    "llama31-8b-v5": (
        v5(
            LLAMA31_8B,
            head_dim=128,
            rope_parameters={**LLAMA31_8B["rope_scaling"], "rope_theta": 500000.0},
        ),
        {
            "position.scaling": {
                "kind": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_seq_len": 8192,
            },
            "position.theta": 500000.0,
            "attention.n_kv_heads": 8,
        },
        8030261248,
    ),
    "mistral-7b-v4": (MISTRAL_7B, {"attention.sliding_window": 4096, "norm.eps": 1e-5}, 7241732096),
    "mistral-7b-v03-v5": (
        v5(
            MISTRAL_7B,
            vocab_size=32768,
            sliding_window=None,
            head_dim=128,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        ),
        {"attention.sliding_window": None, "position.theta": 1e6, "vocab_size": 32768},
        7248023552,
    ),
    "mixtral-8x7b-v4": (
        MIXTRAL_8X7B,
        {"ffn.moe.n_experts": 8, "ffn.moe.experts_per_token": 2, "position.theta": 1e6},
        46702792704,
    ),
    "mixtral-8x7b-v5": (
        v5(
            MIXTRAL_8X7B,
            head_dim=None,
            router_jitter_noise=0.0,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        ),
        {"ffn.moe.n_experts": 8, "attention.sliding_window": None},
        46702792704,
    ),
    "qwen2-7b-v4": (
        QWEN2_7B,
        {"attention.q_bias": True, "attention.o_bias": None, "attention.sliding_window": None},
        7615616512,
    ),
    "qwen25-7b-yarn-v5": (
        v5(
            QWEN2_7B,
            max_position_embeddings=32768,
            sliding_window=None,
            layer_types=["full_attention"] * 28,
            rope_parameters={
                "rope_type": "yarn",
                "factor": 4.0,
                "original_max_position_embeddings": 32768,
                "rope_theta": 1000000.0,
            },
        ),
        {
            "position.scaling.kind": "yarn",
            "position.scaling.factor": 4.0,
            "position.scaling.original_max_seq_len": 32768,
            "max_seq_len": 32768,
        },
        7615616512,
    ),
    "gemma-7b-v4": (
        GEMMA_7B,
        {
            "norm.unit_offset": True,
            "attention.head_dim": 256,
            "ffn.activation": "geglu_tanh",
            "embedding.scale_by_sqrt_d_model": True,
            "head.tie_embeddings": True,
        },
        8537680896,
    ),
    "gemma-2b-v5": (
        v5(
            GEMMA_7B,
            hidden_size=2048,
            intermediate_size=16384,
            num_hidden_layers=18,
            num_attention_heads=8,
            num_key_value_heads=1,
            hidden_act="gelu_pytorch_tanh",
            use_bidirectional_attention=None,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
        {"attention.n_kv_heads": 1, "attention.n_heads": 8, "d_model": 2048},
        2506172416,
    ),
    "gemma2-9b-v4": (
        GEMMA2_9B,
        {
            "block.placement": "sandwich",
            "attention.sliding_window": 4096,
            "attention.scale": None,
            "attention.logit_softcap": 50.0,
            "head.logit_softcap": 30.0,
            "layer_overrides": [
                {
                    "layers": None,
                    "every": 2,
                    "offset": 1,
                    "attention": {"sliding_window": None},
                    "ffn": {},
                    "position": {},
                }
            ],
        },
        9241705984,
    ),
    "gemma2-27b-v5": (
        v5(
            GEMMA2_9B,
            hidden_size=4608,
            intermediate_size=36864,
            num_hidden_layers=46,
            num_attention_heads=32,
            num_key_value_heads=16,
            head_dim=128,
            query_pre_attn_scalar=144,
            layer_types=["sliding_attention", "full_attention"] * 23,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
        {"attention.scale": 144**-0.5, "attention.head_dim": 128, "n_layers": 46},
        None,
    ),
    "olmo-1b-v4": (
        OLMO_1B,
        {
            "norm.kind": "layernorm",
            "norm.affine": False,
            "attention.qkv_clip": None,
            "vocab_size": 50304,
        },
        1176764416,
    ),
    "olmo17-7b-clip-v5": (
        v5(
            OLMO_1B,
            hidden_size=4096,
            intermediate_size=11008,
            num_attention_heads=32,
            num_hidden_layers=32,
            num_key_value_heads=32,
            max_position_embeddings=4096,
            tie_word_embeddings=False,
            clip_qkv=8.0,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
        {"attention.qkv_clip": 8.0, "max_seq_len": 4096},
        6888095744,
    ),
    "olmo2-7b-v4": (
        OLMO2_7B,
        {
            "block.placement": "branch_post",
            "attention.qk_norm": {
                "scope": "projection",
                "norm": {
                    "kind": "rmsnorm",
                    "eps": 1e-6,
                    "unit_offset": False,
                    "compute_dtype": "float32",
                },
            },
            "position.theta": 500000.0,
        },
        7298617344,
    ),
    "olmo2-7b-v5": (
        v5(OLMO2_7B, rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
        {"block.placement": "branch_post"},
        7298617344,
    ),
    "phi-2-v4": (
        PHI_2,
        {
            "position.fraction": 0.4,
            "block.parallel_residual": True,
            "head.bias": True,
            "bias": True,
            "ffn.activation": "gelu_tanh",
        },
        2779683840,
    ),
    "phi-2-v5": (
        v5(
            PHI_2,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "partial_rotary_factor": 0.4,
            },
        ),
        {"position.fraction": 0.4},
        2779683840,
    ),
    "gpt2-v4": (
        GPT2_SMALL,
        {
            "position.kind": "learned",
            "ffn.hidden_dim": 3072,
            "head.tie_embeddings": True,
            "norm.kind": "layernorm",
            "max_seq_len": 1024,
        },
        124439808,
    ),
    "gpt2-medium-v5": (
        v5(
            GPT2_SMALL,
            n_embd=1024,
            n_head=16,
            n_layer=24,
            n_inner=None,
            tie_word_embeddings=True,
            scale_attn_weights=True,
            scale_attn_by_inverse_layer_idx=False,
            reorder_and_upcast_attn=False,
            add_cross_attention=False,
        ),
        {"d_model": 1024, "ffn.hidden_dim": 4096},
        354823168,
    ),
    "falcon-7b-v4": (
        FALCON_7B,
        {
            "attention.n_kv_heads": 1,
            "block.parallel_residual": True,
            "block.shared_norm": True,
            "ffn.hidden_dim": 18176,
            "ffn.activation": "gelu",
            "max_seq_len": 2048,
        },
        6921720704,
    ),
    "falcon-40b-v4": (
        FALCON_40B,
        {"attention.n_kv_heads": 8, "block.shared_norm": False, "block.parallel_residual": True},
        None,
    ),
    "falcon2-11b-v5": (
        v5(
            FALCON_40B,
            hidden_size=4096,
            num_attention_heads=32,
            num_hidden_layers=60,
            num_kv_heads=8,
            num_ln_in_parallel_attn=1,
            max_position_embeddings=8192,
            ffn_hidden_size=16384,
            activation="gelu",
            tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": 500042.0},
        ),
        {"block.shared_norm": True, "attention.n_kv_heads": 8, "position.theta": 500042.0},
        None,
    ),
}


@pytest.mark.parametrize("key", OFFICIAL)
def test_official_config_reads_as_expected(key: str) -> None:
    config, expected, total = OFFICIAL[key]
    spec, report = hf_config_to_spec(config, name=key, source="https://huggingface.co/example")
    for dotted, value in expected.items():
        assert field(spec, dotted) == value, dotted
    if total is not None:
        assert archspec.count_params(spec).total == total
    assert report.accounted == set(config)
    assert not set(report.mapped) & {item.key for item in report.ignored}
    assert spec.source == {"config": "https://huggingface.co/example"}
    assert report.model_type == config["model_type"]


@pytest.mark.hf
@pytest.mark.parametrize("key", OFFICIAL)
def test_official_config_counts_as_transformers_builds_it(hf: Any, key: str) -> None:
    config, _, _ = OFFICIAL[key]
    spec, _ = hf_config_to_spec(config, name=key)
    assert archspec.count_params(spec).total == hf_count(hf, config)


@pytest.mark.parametrize("key", OFFICIAL)
def test_official_config_re_exports_its_architecture_keys(key: str) -> None:
    """Export of the imported spec gives back every mapped key, or a value that means the same
    (`head_dim: null` and 128, Gemma's `hidden_act: gelu` and `gelu_pytorch_tanh`, ...)."""
    config, _, _ = OFFICIAL[key]
    spec, report = hf_config_to_spec(config, name=key)
    layout = "v5" if "dtype" in config else "v4"
    # forced: Mistral v0.3 without a window is also exactly a Llama, which export would pick first
    again = spec_to_hf_config(spec, model_type=config["model_type"], layout=layout)
    meaning = spec_meaning(spec)
    for k in report.mapped:
        if k in again and again[k] != config[k]:
            swapped, _ = hf_config_to_spec({**config, k: again[k]}, name=key)
            assert spec_meaning(swapped) == meaning, k
    assert spec_meaning(hf_config_to_spec(again, name=key)[0]) == meaning


def test_report_lists_defaults_ignored_keys_and_notes() -> None:
    spec, report = hf_config_to_spec(GPT2_SMALL, name="gpt2")
    assert report.reason("summary_type") and "GPT2DoubleHeadsModel" in report.reason("summary_type")
    assert report.reason("n_ctx") and report.reason("sep_token_id") is None
    # token ids are kept as metadata, not ignored
    assert "bos_token_id" in report.mapped and spec.tokens is not None
    assert (spec.tokens.bos, spec.tokens.eos) == (50256, 50256)
    assert ("n_inner", None) in report.defaults
    assert ("tie_word_embeddings", True) in report.defaults
    assert {"n_embd", "n_layer", "n_head", "n_positions", "vocab_size"} <= set(report.mapped)
    assert report.reason("n_embd") is None

    _, report = hf_config_to_spec(FALCON_7B, name="falcon")
    assert ("ffn_hidden_size", None) in report.defaults
    assert ("rope_theta", 10000.0) in report.defaults
    assert ("max_position_embeddings", 2048) in report.defaults

    _, report = hf_config_to_spec(GEMMA_7B, name="gemma")
    assert any("tanh approximation" in note for note in report.notes)

    _, report = hf_config_to_spec(MIXTRAL_8X7B, name="mixtral")
    assert "training" in (report.reason("router_aux_loss_coef") or "")


def test_absent_keys_take_each_family_s_transformers_defaults() -> None:
    def minimal(model_type: str) -> ModelSpec:
        return hf_config_to_spec({"model_type": model_type}, name=model_type)[0]

    assert minimal("mixtral").position.theta == 1e6  # MixtralConfig.default_theta
    assert minimal("mistral").attention.n_kv_heads == 8  # MistralConfig default, not n_heads
    assert minimal("llama").attention.n_kv_heads == 32  # None -> num_attention_heads
    assert minimal("gemma").attention.n_kv_heads == 16
    assert minimal("phi").position.fraction == 0.5
    assert minimal("gpt2").ffn.hidden_dim == 4 * 768
    assert minimal("falcon").ffn.hidden_dim == 4 * 4544
    assert minimal("qwen2").attention.sliding_window is None  # use_sliding_window false
    assert [r.every for r in minimal("gemma2").layer_overrides] == [2]
    nulls = hf_config_to_spec(
        {"model_type": "mistral", "num_key_value_heads": None, "head_dim": None}, name="m"
    )[0]
    assert nulls.attention.n_kv_heads == 32 and nulls.attention.head_dim is None


def test_both_spellings_of_rope_read_the_same() -> None:
    v4_spec, _ = hf_config_to_spec(LLAMA31_8B, name="x")
    nested, _ = hf_config_to_spec(
        v5(LLAMA31_8B, rope_parameters={**LLAMA31_8B["rope_scaling"], "rope_theta": 500000.0}),
        name="x",
    )
    # transformers 5 nests RoPE per layer type for models with layer_types (Gemma 3 style)
    per_type = {"rope_type": "default", "rope_theta": 10000.0}
    flat, _ = hf_config_to_spec(v5(GEMMA2_9B, rope_parameters=per_type), name="x")
    by_type = {"full_attention": per_type, "sliding_attention": per_type}
    nested_by_type, _ = hf_config_to_spec(v5(GEMMA2_9B, rope_parameters=by_type), name="x")
    assert spec_meaning(flat) == spec_meaning(nested_by_type)
    legacy_type = {**LLAMA2_7B, "rope_scaling": {"type": "linear", "factor": 2.0}}
    linear, _ = hf_config_to_spec(legacy_type, name="x")
    assert spec_meaning(v4_spec) == spec_meaning(nested)
    assert linear.position.scaling.kind == "linear" and linear.position.scaling.factor == 2.0
    yarn_mscale = v5(
        QWEN2_7B,
        rope_parameters={
            "rope_type": "yarn",
            "factor": 4.0,
            "mscale": 0.707,
            "mscale_all_dim": 0.707,
        },
    )
    spec, _ = hf_config_to_spec(yarn_mscale, name="x")
    assert spec.position.scaling.attention_factor == 1.0  # equal mscales cancel
    assert spec.position.scaling.original_max_seq_len == 131072  # defaults to max_position


def test_falcon_rw_names_are_read_with_care() -> None:
    rw = {
        k: v for k, v in FALCON_7B.items() if k not in ("num_attention_heads", "num_hidden_layers")
    }
    spec, report = hf_config_to_spec({**rw, "n_head": 71, "n_layer": 32}, name="rw")
    assert (spec.attention.n_heads, spec.n_layers) == (71, 32)
    assert any("RW names" in note for note in report.notes)
    del rw["parallel_attn"]
    with pytest.raises(HFConfigError, match="parallel_attn"):
        hf_config_to_spec({**rw, "n_head": 71, "n_layer": 32}, name="rw")


# --- configs archspec refuses ---------------------------------------------------------------------------

REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-model-type": ({"model_type": "bert"}, "supported: llama, mistral"),
    "no-model-type": ({"hidden_size": 8}, "has no model_type"),
    "unknown-key": ({**LLAMA2_7B, "use_parallel_residual": True}, "use_parallel_residual"),
    "sequence-classifier": (
        {**LLAMA2_7B, "architectures": ["LlamaForSequenceClassification"]},
        "causal-LM class",
    ),
    "partial-rotary-on-llama": (
        {**LLAMA2_7B, "partial_rotary_factor": 0.5},
        "rotates whole heads",
    ),
    "dynamic-ntk": (
        {**LLAMA2_7B, "rope_scaling": {"type": "dynamic", "factor": 2.0}},
        "dynamic NTK",
    ),
    "longrope": (
        {**LLAMA2_7B, "rope_scaling": {"rope_type": "longrope", "short_factor": [1.0]}},
        "'longrope' cannot be expressed",
    ),
    "rope-theta-disagrees": (
        {**LLAMA31_8B, "rope_scaling": {**LLAMA31_8B["rope_scaling"], "rope_theta": 10000.0}},
        "transformers 4 reads",
    ),
    "rope-both-spellings": (
        {**LLAMA31_8B, "rope_parameters": {"rope_type": "default"}},
        "'rope_parameters' and 'rope_scaling' disagree",
    ),
    "nested-rope-differs": (
        v5(
            GEMMA2_9B,
            rope_parameters={
                "full_attention": {"rope_type": "default", "rope_theta": 1e6},
                "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
            },
        ),
        "differs between layer types",
    ),
    "gemma-activations-disagree": (
        {**GEMMA_7B, "hidden_activation": "gelu"},
        "hidden_act ('gelu_pytorch_tanh') and hidden_activation ('gelu') disagree",
    ),
    "gemma-hidden-act-alone": (
        {k: v for k, v in {**GEMMA_7B, "hidden_act": "silu"}.items() if k != "hidden_activation"},
        "transformers 4 ignores it",
    ),
    "mistral-mixed-layer-types": (
        {
            **MISTRAL_7B,
            "num_hidden_layers": 2,
            "layer_types": ["sliding_attention", "full_attention"],
        },
        "ignores layer_types",
    ),
    "qwen2-layer-types-disagree": (
        {**QWEN2_7B, "use_sliding_window": True, "layer_types": ["sliding_attention"] * 28},
        "layer_types disagree",
    ),
    "olmo-native-embedding-size": (
        {**OLMO_1B, "vocab_size": 50280, "embedding_size": 50304},
        "OLMo-native",
    ),
    "gpt2-aliases-disagree": ({**GPT2_SMALL, "hidden_size": 1024}, "n_embd=768, hidden_size=1024"),
    "gpt2-cross-attention": ({**GPT2_SMALL, "add_cross_attention": True}, "cross-attention"),
    "encoder-decoder": ({**LLAMA2_7B, "is_encoder_decoder": True}, "decoder-only"),
    "llama-heads-do-not-divide": (
        {**LLAMA2_7B, "hidden_size": 4100, "head_dim": 128},
        "not divisible",
    ),
    "wrong-type": ({**LLAMA2_7B, "hidden_size": "4096"}, "'hidden_size' must be an integer"),
    "bidirectional-gemma": ({**GEMMA_7B, "use_bidirectional_attention": True}, "not a causal"),
    "falcon-new-arch-sequential": (
        {**FALCON_40B, "parallel_attn": False},
        "new_decoder_architecture with parallel_attn false",
    ),
    "invalid-spec": ({**LLAMA2_7B, "num_key_value_heads": 5}, "does not give a valid spec"),
}


@pytest.mark.parametrize("key", REFUSED)
def test_config_that_could_be_a_different_model_is_refused(key: str) -> None:
    config, message = REFUSED[key]
    with pytest.raises(HFConfigError) as err:
        hf_config_to_spec(config, name=key)
    assert message in str(err.value)
    assert isinstance(err.value, ArchspecError)


# Every key transformers 4's PretrainedConfig.to_dict() writes besides the model's own, with the
# values it writes by default (use_diff=False, as in older hub uploads).
TRANSFORMERS4_BASE_KEYS: dict[str, Any] = {
    "add_cross_attention": False,
    "bad_words_ids": None,
    "begin_suppress_tokens": None,
    "chunk_size_feed_forward": 0,
    "cross_attention_hidden_size": None,
    "decoder_start_token_id": None,
    "diversity_penalty": 0.0,
    "do_sample": False,
    "early_stopping": False,
    "encoder_no_repeat_ngram_size": 0,
    "exponential_decay_length_penalty": None,
    "finetuning_task": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
    "is_decoder": False,
    "is_encoder_decoder": False,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1},
    "length_penalty": 1.0,
    "max_length": 20,
    "min_length": 0,
    "no_repeat_ngram_size": 0,
    "num_beam_groups": 1,
    "num_beams": 1,
    "num_return_sequences": 1,
    "output_attentions": False,
    "output_hidden_states": False,
    "output_scores": False,
    "prefix": None,
    "problem_type": None,
    "pruned_heads": {},
    "remove_invalid_values": False,
    "repetition_penalty": 1.0,
    "return_dict": True,
    "return_dict_in_generate": False,
    "sep_token_id": None,
    "suppress_tokens": None,
    "task_specific_params": None,
    "temperature": 1.0,
    "tf_legacy_loss": False,
    "tie_encoder_decoder": False,
    "tokenizer_class": None,
    "top_k": 50,
    "top_p": 1.0,
    "torchscript": False,
    "typical_p": 1.0,
    "use_bfloat16": False,
    "_name_or_path": "",
    "_attn_implementation_autoset": True,
}


@pytest.mark.parametrize("key", ["llama2-7b-v4", "gpt2-v4", "falcon-7b-v4", "gemma2-9b-v4"])
def test_transformers4_full_serialisation_is_accounted_for(key: str) -> None:
    config = {**TRANSFORMERS4_BASE_KEYS, **OFFICIAL[key][0]}
    spec, report = hf_config_to_spec(config, name=key)
    assert spec_meaning(spec) == spec_meaning(hf_config_to_spec(OFFICIAL[key][0], name=key)[0])
    assert report.accounted == set(config)


def test_hf_config_mapping_does_not_import_torch_or_transformers() -> None:
    import subprocess
    import sys

    code = (
        "import sys, archspec\n"
        "from archspec.hf import spec_to_hf_config, hf_config_to_spec\n"
        "for name in ('gemma2-9b', 'falcon-7b', 'mixtral-8x7b'):\n"
        "    config = spec_to_hf_config(archspec.load_spec(name))\n"
        "    hf_config_to_spec(config, name=name)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_key_names_it_and_can_be_vouched_for() -> None:
    config = {**LLAMA2_7B, "use_parallel_residual": True, "my_note": "x"}
    with pytest.raises(HFConfigError) as err:
        hf_config_to_spec(config, name="x")
    assert err.value.keys == ("use_parallel_residual", "my_note")
    _, report = hf_config_to_spec(config, name="x", ignore=["use_parallel_residual", "my_note"])
    assert report.reason("my_note") == "ignored at the caller's request"


# --- reading files ----------------------------------------------------------------------------------------


def test_load_hf_config_reads_a_file_or_a_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(GPT2_SMALL), encoding="utf-8")
    assert load_hf_config(tmp_path) == GPT2_SMALL
    assert load_hf_config(tmp_path / "config.json") == GPT2_SMALL
    assert load_hf_config(str(tmp_path)) == GPT2_SMALL


def test_load_hf_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no config.json in folder"):
        load_hf_config(tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        load_hf_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"model_type": "llama",\n  oops}', encoding="utf-8")
    with pytest.raises(HFConfigError, match=r"bad.json:2:\d+: not valid JSON"):
        load_hf_config(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(HFConfigError, match="must be a JSON object"):
        load_hf_config(bad)
    assert issubclass(HFConfigError, ArchspecError)
