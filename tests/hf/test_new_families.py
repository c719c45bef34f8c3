"""The families added after the first eleven: a real published config.json each, imported unedited
and counted as transformers builds it; a tiny random checkpoint made by transformers reproduced by
the runtime module and by the generated code (full forward and cached decoding); and the round trip
config -> spec -> config -> transformers model.

Real configs are copied from the Hugging Face hub pages named in each key's comment (facts only;
nothing is downloaded). Tiny models are built in code with every norm weight and bias perturbed.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

import archspec
from archspec.hf.config import hf_config_to_spec, spec_meaning, spec_to_hf_config
from archspec.hf.families import FAMILIES
from tests.hf.test_config import hf_count as _hf_count

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
from tests.hf.test_parity import hf_model  # noqa: E402  (needs transformers)

TOLERANCE = 1e-4

# --- real published configs ------------------------------------------------------------------------

REAL: dict[str, dict[str, Any]] = {
    # https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json
    "Qwen/Qwen3-0.6B": {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "head_dim": 128,
        "hidden_act": "silu",
        "hidden_size": 1024,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "max_position_embeddings": 40960,
        "max_window_layers": 28,
        "model_type": "qwen3",
        "num_attention_heads": 16,
        "num_hidden_layers": 28,
        "num_key_value_heads": 8,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 151936,
    },
    # https://huggingface.co/Qwen/Qwen3-30B-A3B/blob/main/config.json
    "Qwen/Qwen3-30B-A3B": {
        "architectures": ["Qwen3MoeForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "decoder_sparse_step": 1,
        "eos_token_id": 151645,
        "head_dim": 128,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 6144,
        "max_position_embeddings": 40960,
        "max_window_layers": 48,
        "mlp_only_layers": [],
        "model_type": "qwen3_moe",
        "moe_intermediate_size": 768,
        "norm_topk_prob": True,
        "num_attention_heads": 32,
        "num_experts": 128,
        "num_experts_per_tok": 8,
        "num_hidden_layers": 48,
        "num_key_value_heads": 4,
        "output_router_logits": False,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "router_aux_loss_coef": 0.001,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 151936,
    },
    # https://huggingface.co/microsoft/Phi-3-mini-4k-instruct/blob/main/config.json
    "microsoft/Phi-3-mini-4k-instruct": {
        "_name_or_path": "Phi-3-mini-4k-instruct",
        "architectures": ["Phi3ForCausalLM"],
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_phi3.Phi3Config",
            "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM",
        },
        "bos_token_id": 1,
        "embd_pdrop": 0.0,
        "eos_token_id": 32000,
        "hidden_act": "silu",
        "hidden_size": 3072,
        "initializer_range": 0.02,
        "intermediate_size": 8192,
        "max_position_embeddings": 4096,
        "model_type": "phi3",
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "num_key_value_heads": 32,
        "original_max_position_embeddings": 4096,
        "pad_token_id": 32000,
        "resid_pdrop": 0.0,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "sliding_window": 2047,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.40.2",
        "use_cache": True,
        "attention_bias": False,
        "vocab_size": 32064,
    },
    # https://huggingface.co/stabilityai/stablelm-2-1_6b/blob/main/config.json
    "stabilityai/stablelm-2-1_6b": {
        "architectures": ["StableLmForCausalLM"],
        "bos_token_id": 100257,
        "eos_token_id": 100257,
        "hidden_act": "silu",
        "hidden_dropout": 0.0,
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 5632,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 4096,
        "model_type": "stablelm",
        "num_attention_heads": 32,
        "num_hidden_layers": 24,
        "num_key_value_heads": 32,
        "partial_rotary_factor": 0.25,
        "qk_layernorm": False,
        "rope_scaling": None,
        "rope_theta": 10000,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.38.0",
        "use_cache": True,
        "use_parallel_residual": False,
        "use_qkv_bias": True,
        "vocab_size": 100352,
    },
    # https://huggingface.co/EleutherAI/pythia-160m/blob/main/config.json
    "EleutherAI/pythia-160m": {
        "architectures": ["GPTNeoXForCausalLM"],
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_size": 768,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 2048,
        "model_type": "gpt_neox",
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "rotary_emb_base": 10000,
        "rotary_pct": 0.25,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "transformers_version": "4.24.0",
        "use_cache": True,
        "use_parallel_residual": True,
        "vocab_size": 50304,
    },
    # https://huggingface.co/EleutherAI/gpt-j-6b/blob/main/config.json
    "EleutherAI/gpt-j-6b": {
        "activation_function": "gelu_new",
        "architectures": ["GPTJForCausalLM"],
        "attn_pdrop": 0.0,
        "bos_token_id": 50256,
        "embd_pdrop": 0.0,
        "eos_token_id": 50256,
        "gradient_checkpointing": False,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gptj",
        "n_embd": 4096,
        "n_head": 16,
        "n_inner": None,
        "n_layer": 28,
        "n_positions": 2048,
        "resid_pdrop": 0.0,
        "rotary": True,
        "rotary_dim": 64,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {
            "text-generation": {"do_sample": True, "max_length": 50, "temperature": 1.0}
        },
        "tie_word_embeddings": False,
        "tokenizer_class": "GPT2Tokenizer",
        "transformers_version": "4.18.0.dev0",
        "use_cache": True,
        "vocab_size": 50400,
    },
    # https://huggingface.co/bigcode/starcoder2-3b/blob/main/config.json
    "bigcode/starcoder2-3b": {
        "architectures": ["Starcoder2ForCausalLM"],
        "attention_dropout": 0.1,
        "residual_dropout": 0.1,
        "embedding_dropout": 0.1,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": 3072,
        "initializer_range": 0.018042,
        "intermediate_size": 12288,
        "max_position_embeddings": 16384,
        "mlp_type": "default",
        "model_type": "starcoder2",
        "norm_epsilon": 1e-05,
        "norm_type": "layer_norm",
        "num_attention_heads": 24,
        "num_hidden_layers": 30,
        "num_key_value_heads": 2,
        "rope_theta": 999999.4420358813,
        "sliding_window": 4096,
        "transformers_version": "4.37.0.dev0",
        "use_bias": True,
        "use_cache": True,
        "vocab_size": 49152,
    },
    # https://huggingface.co/allenai/OLMoE-1B-7B-0924/blob/main/config.json
    "allenai/OLMoE-1B-7B-0924": {
        "architectures": ["OlmoeForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "clip_qkv": None,
        "eos_token_id": 50279,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 1024,
        "max_position_embeddings": 4096,
        "model_type": "olmoe",
        "norm_topk_prob": False,
        "num_attention_heads": 16,
        "num_experts": 64,
        "num_experts_per_tok": 8,
        "num_hidden_layers": 16,
        "num_key_value_heads": 16,
        "output_router_logits": False,
        "pad_token_id": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "router_aux_loss_coef": 0.01,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.43.0.dev0",
        "use_cache": True,
        "vocab_size": 50304,
    },
    # https://huggingface.co/mistralai/Mistral-Nemo-Base-2407/blob/main/config.json
    "mistralai/Mistral-Nemo-Base-2407": {
        "architectures": ["MistralForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": 128,
        "hidden_act": "silu",
        "hidden_size": 5120,
        "initializer_range": 0.02,
        "intermediate_size": 14336,
        "max_position_embeddings": 1024000,
        "model_type": "mistral",
        "num_attention_heads": 32,
        "num_hidden_layers": 40,
        "num_key_value_heads": 8,
        "rms_norm_eps": 1e-05,
        "rope_theta": 1000000.0,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.43.0.dev0",
        "use_cache": True,
        "vocab_size": 131072,
    },
}
"""Published configs, unedited (JSON null written as None)."""

# Published totals where the model card or the weights give one exactly.
PUBLISHED = {
    "EleutherAI/pythia-160m": 162322944,  # sum of the safetensors shapes (untied embed_out)
}


def hf_count(config: dict[str, Any]) -> int:
    return _hf_count(transformers, config)


@pytest.mark.parametrize("key", REAL)
def test_real_config_imports_unedited(key: str) -> None:
    config = REAL[key]
    spec, report = hf_config_to_spec(config, name="real", source=f"https://huggingface.co/{key}")
    assert report.accounted == set(config)
    assert report.model_type == config["model_type"]
    if key in PUBLISHED:
        assert archspec.count_params(spec).total == PUBLISHED[key]


@pytest.mark.hf
@pytest.mark.parametrize("key", REAL)
def test_real_config_counts_what_transformers_builds(key: str) -> None:
    config = REAL[key]
    spec, _ = hf_config_to_spec(config, name="real")
    assert archspec.count_params(spec).total == hf_count(config)
    # and the exported config (both spellings) builds the same model
    for layout in ("v5", "v4"):
        again = spec_to_hf_config(spec, model_type=config["model_type"], layout=layout)
        assert hf_count(again) == hf_count(config), layout
        assert spec_meaning(hf_config_to_spec(again, name="real")[0]) == spec_meaning(spec)


# --- tiny random checkpoints made by transformers --------------------------------------------------

VOCAB = 96
_COMMON: dict[str, Any] = {
    "vocab_size": VOCAB,
    "num_hidden_layers": 2,
    "initializer_range": 0.1,
    "max_position_embeddings": 64,
    "attn_implementation": "eager",
}
_LLAMA_LIKE = {
    **_COMMON,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}

TINY: dict[str, tuple[str, dict[str, Any]]] = {
    # per-head q/k RMSNorm, head_dim 16 != 32 / 4, tied head
    "qwen3": ("Qwen3Config", {**_LLAMA_LIKE, "head_dim": 16, "tie_word_embeddings": True}),
    # q/k/v/o biases, sliding window 5 on layers from 1 on
    "qwen3-bias-window": (
        "Qwen3Config",
        {
            **_LLAMA_LIKE,
            "num_hidden_layers": 3,
            "attention_bias": True,
            "use_sliding_window": True,
            "sliding_window": 5,
            "max_window_layers": 1,
        },
    ),
    # renormalised top-2 of 4 experts; layer 1 dense
    "qwen3_moe": (
        "Qwen3MoeConfig",
        {
            **_LLAMA_LIKE,
            "num_hidden_layers": 3,
            "head_dim": 12,
            "num_experts": 4,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 24,
            "norm_topk_prob": True,
            "mlp_only_layers": [1],
        },
    ),
    # fused qkv_proj and gate_up_proj, GQA, window 6, partial rotary 0.5
    "phi3": (
        "Phi3Config",
        {**_LLAMA_LIKE, "sliding_window": 6, "partial_rotary_factor": 0.5, "pad_token_id": 0},
    ),
    # LayerNorm with bias, partial rotary 0.25, q/k/v biases
    "stablelm": ("StableLmConfig", {**_LLAMA_LIKE, "use_qkv_bias": True}),
    # parallel block with one shared norm
    "stablelm-parallel": ("StableLmConfig", {**_LLAMA_LIKE, "use_parallel_residual": True}),
    # per-head fused qkv, two norms in parallel, rotary 0.5
    "gpt_neox": (
        "GPTNeoXConfig",
        {
            **_COMMON,
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_attention_heads": 4,
            "rotary_pct": 0.5,
        },
    ),
    "gpt_neox-sequential": (
        "GPTNeoXConfig",
        {
            **_COMMON,
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_attention_heads": 4,
            "use_parallel_residual": False,
        },
    ),
    # interleaved rotary on 4 of 8 dims, biased head
    "gptj": (
        "GPTJConfig",
        {
            "vocab_size": VOCAB,
            "n_embd": 32,
            "n_head": 4,
            "n_layer": 2,
            "rotary_dim": 4,
            "n_positions": 64,
            "initializer_range": 0.1,
            "attn_implementation": "eager",
        },
    ),
    # biases everywhere, plain MLP, window 6, GQA, tied
    "starcoder2": ("Starcoder2Config", {**_LLAMA_LIKE, "sliding_window": 6}),
    # q/k norms over the projections, top-2 of 4 experts without renormalisation
    "olmoe": (
        "OlmoeConfig",
        {**_LLAMA_LIKE, "num_experts": 4, "num_experts_per_tok": 2, "intermediate_size": 24},
    ),
    # Mistral-NeMo: head_dim 16 set apart from hidden_size / heads
    "mistral-head_dim": ("MistralConfig", {**_LLAMA_LIKE, "head_dim": 16, "sliding_window": None}),
}


@pytest.fixture(scope="module", params=list(TINY))
def saved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny transformers model of one family, saved; shared by the tests of that family."""
    config_class, kwargs = TINY[request.param]
    reference = hf_model(config_class, kwargs).eval()
    folder = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(folder, safe_serialization=True)
    return request.param, reference, folder


def _ids(seq_len: int = 20) -> Any:
    return torch.randint(0, VOCAB, (2, seq_len), generator=torch.Generator().manual_seed(1))


def _logits(model: Any, ids: Any) -> Any:
    with torch.no_grad():
        out = model(ids)
    return out if isinstance(out, torch.Tensor) else out.logits


def _cached_logits(model: Any, ids: Any, prefix: int = 7) -> Any:
    """Logits of a prompt then one token at a time through the KV cache."""
    cache = model.new_cache(ids.shape[0], ids.shape[1])
    with torch.no_grad():
        parts = [model(ids[:, :prefix], cache=cache)]
        parts += [model(ids[:, t : t + 1], cache=cache) for t in range(prefix, ids.shape[1])]
    return torch.cat(parts, dim=1)


def _generated(spec: Any) -> Any:
    module = types.ModuleType(f"generated_{spec.name.replace('-', '_')}")
    exec(compile(archspec.emit_code(spec), "<generated>", "exec"), module.__dict__)
    return module.build_model()


@pytest.mark.hf
def test_runtime_and_generated_code_reproduce_the_logits(saved: Any) -> None:
    from archspec.hf.loader import load_pretrained, load_state_dict_into

    key, reference, folder = saved
    ids = _ids()
    want = _logits(reference, ids)
    runtime = load_pretrained(folder).eval()
    generated = load_state_dict_into(_generated(runtime.spec), folder).eval()
    for name, model in (("runtime", runtime), ("generated", generated)):
        got = _logits(model, ids)
        assert (got - want).abs().max().item() <= TOLERANCE, name
        cached = _cached_logits(model, ids)
        assert (cached - got).abs().max().item() <= TOLERANCE, f"{name} cached"


@pytest.mark.hf
def test_round_trip_through_transformers(saved: Any, tmp_path: Path) -> None:
    """config -> spec -> config -> transformers model: same count, same logits."""
    from archspec.hf.loader import load_pretrained, save_pretrained

    key, reference, folder = saved
    config = json.loads((folder / "config.json").read_text())
    spec, report = hf_config_to_spec(config, name=key)
    assert report.accounted == set(config)
    ours = load_pretrained(folder).eval()
    save_pretrained(ours, tmp_path, spec, model_type=config["model_type"])
    exported = json.loads((tmp_path / "config.json").read_text())
    assert exported["model_type"] == config["model_type"]
    again = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path, attn_implementation="eager"
    ).eval()
    assert sum(p.numel() for p in again.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )
    ids = _ids()
    assert (_logits(again, ids) - _logits(reference, ids)).abs().max().item() <= TOLERANCE


def test_every_new_family_has_a_real_config_and_a_tiny_model() -> None:
    new = {"qwen3", "qwen3_moe", "phi3", "stablelm", "gpt_neox", "gptj", "starcoder2", "olmoe"}
    assert new <= set(FAMILIES)
    assert new <= {config["model_type"] for config in REAL.values()}
    assert new <= {key.split("-")[0] for key in TINY}
