"""Logit parity with the transformers reference, one tiny model per family and feature.

Each case builds a tiny transformers model in code, perturbs every norm weight and bias (so that
Gemma's `1 + w`, LayerNorm shifts and projection biases all matter), saves it with
`save_pretrained`, loads it with :func:`archspec.hf.loader.load_pretrained` and compares fp32 logits
on random tokens. Sequences are longer than every sliding window, so windows are exercised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.hf.loader import load_pretrained, save_pretrained

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.hf

VOCAB = 96
TOLERANCE = 1e-4
"""Largest absolute logit difference accepted (fp32)."""

_COMMON: dict[str, Any] = {
    "vocab_size": VOCAB,
    "num_hidden_layers": 2,
    "attn_implementation": "eager",
    "initializer_range": 0.1,
}
_LLAMA_LIKE: dict[str, Any] = {
    **_COMMON,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
}

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    # GQA 4/2, head size 16 != 32 / 4, untied.
    "llama-gqa-head_dim": ("LlamaConfig", {**_LLAMA_LIKE, "head_dim": 16, "rms_norm_eps": 1e-5}),
    "llama-tied-bias": (
        "LlamaConfig",
        {**_LLAMA_LIKE, "tie_word_embeddings": True, "attention_bias": True, "mlp_bias": True},
    ),
    # Sliding window 6 < sequence 20.
    "mistral-window": ("MistralConfig", {**_LLAMA_LIKE, "sliding_window": 6}),
    "mixtral-moe": (
        "MixtralConfig",
        {**_LLAMA_LIKE, "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 7},
    ),
    # Gemma: (1 + w) RMSNorm, embeddings times sqrt(d_model), GeGLU-tanh, head size 16, MQA, tied.
    "gemma": ("GemmaConfig", {**_LLAMA_LIKE, "head_dim": 16, "num_key_value_heads": 1}),
    # Gemma 2: sandwich norms, attention and final soft-capping, query_pre_attn_scalar, local layer 0
    # with window 5 < 20, global layer 1 (and layer 2 local again).
    "gemma2-softcap-window": (
        "Gemma2Config",
        {
            **_LLAMA_LIKE,
            "num_hidden_layers": 3,
            "head_dim": 16,
            "sliding_window": 5,
            "query_pre_attn_scalar": 24,
            "attn_logit_softcapping": 1.5,
            "final_logit_softcapping": 2.0,
        },
    ),
    # OLMo: parameter-free LayerNorm, clip_qkv small enough to clamp, tied head.
    "olmo-clip": ("OlmoConfig", {**_LLAMA_LIKE, "clip_qkv": 0.3, "tie_word_embeddings": True}),
    # OLMo 2: QK-norm over whole projections, norms after each branch.
    "olmo2-qknorm": ("Olmo2Config", _LLAMA_LIKE),
    # phi-2: partial rotary (8 of 16 dims), parallel residual with one norm, biases, head bias.
    "phi-partial-rotary": (
        "PhiConfig",
        {
            **_COMMON,
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "partial_rotary_factor": 0.5,
        },
    ),
    "phi-qk-layernorm": (
        "PhiConfig",
        {
            **_COMMON,
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "partial_rotary_factor": 0.25,
            "qk_layernorm": True,
        },
    ),
    # GPT-2: learned positions, Conv1D layout, fused c_attn, tied head.
    "gpt2-learned": (
        "GPT2Config",
        {**_COMMON, "n_embd": 32, "n_head": 4, "n_layer": 2, "n_positions": 64, "n_inner": 80},
    ),
    # Qwen2: q/k/v bias, no o bias, GQA.
    "qwen2-qkv-bias": ("Qwen2Config", _LLAMA_LIKE),
    # Falcon 7B: multi-query, one shared norm for the parallel branches, fused qkv [q..., k, v].
    "falcon-7b-style": (
        "FalconConfig",
        {
            **_COMMON,
            "hidden_size": 32,
            "num_attention_heads": 4,
            "multi_query": True,
            "parallel_attn": True,
            "new_decoder_architecture": False,
        },
    ),
    # Falcon 40B: new decoder architecture, 2 KV groups interleaved in query_key_value, ln_attn
    # and ln_mlp, biases on (so the fused bias is split by group too).
    "falcon-40b-style": (
        "FalconConfig",
        {
            **_COMMON,
            "hidden_size": 48,
            "num_attention_heads": 6,
            "num_kv_heads": 2,
            "new_decoder_architecture": True,
            "bias": True,
            "tie_word_embeddings": False,
        },
    ),
    # Falcon RW style: per-head [q, k, v] layout, sequential pre-norm blocks.
    "falcon-mha-sequential": (
        "FalconConfig",
        {
            **_COMMON,
            "hidden_size": 32,
            "num_attention_heads": 4,
            "multi_query": False,
            "parallel_attn": False,
            "bias": True,
        },
    ),
    # Falcon new decoder architecture with one shared norm (num_ln_in_parallel_attn 1), 3 groups.
    "falcon-new-one-norm": (
        "FalconConfig",
        {
            **_COMMON,
            "hidden_size": 48,
            "num_attention_heads": 6,
            "num_kv_heads": 3,
            "new_decoder_architecture": True,
            "num_ln_in_parallel_attn": 1,
        },
    ),
    # phi-2's rotary fraction 0.4: int(20 * 0.4) = 8 of 20 dims rotate.
    "phi-fraction-0.4": (
        "PhiConfig",
        {
            **_COMMON,
            "hidden_size": 80,
            "intermediate_size": 96,
            "num_attention_heads": 4,
            "partial_rotary_factor": 0.4,
        },
    ),
    # GPT-2 with scores divided by the layer index (scale_attn_by_inverse_layer_idx).
    "gpt2-inverse-layer-scale": (
        "GPT2Config",
        {
            **_COMMON,
            "n_embd": 32,
            "n_head": 4,
            "n_positions": 64,
            "scale_attn_by_inverse_layer_idx": True,
        },
    ),
    # Qwen2 with sliding windows on the layers from max_window_layers on.
    "qwen2-sliding": (
        "Qwen2Config",
        {
            **_LLAMA_LIKE,
            "num_hidden_layers": 3,
            "use_sliding_window": True,
            "sliding_window": 5,
            "max_window_layers": 1,
        },
    ),
    "llama-rope-llama3": (
        "LlamaConfig",
        {
            **_LLAMA_LIKE,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
            },
        },
    ),
    "llama-rope-yarn": (
        "LlamaConfig",
        {
            **_LLAMA_LIKE,
            "rope_scaling": {
                "rope_type": "yarn",
                "factor": 4.0,
                "original_max_position_embeddings": 16,
            },
        },
    ),
    "mixtral-top1": (
        "MixtralConfig",
        {**_LLAMA_LIKE, "num_local_experts": 4, "num_experts_per_tok": 1},
    ),
}


def hf_model(config_class: str, kwargs: dict[str, Any], seed: int = 0) -> Any:
    """A transformers causal LM with every norm weight and every bias perturbed."""
    torch.manual_seed(seed)
    config = getattr(transformers, config_class)(**kwargs)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 1:  # norm weights and biases (Gemma's start at zero)
                param.add_(torch.randn_like(param) * 0.5)
    return model


def max_logit_error(reference: Any, folder: Path, seq_len: int = 20, seed: int = 1) -> float:
    """Load ``folder`` with archspec and compare logits with ``reference`` on random tokens."""
    return logit_error(reference, load_pretrained(folder).eval(), seq_len, seed)


def logit_error(reference: Any, ours: Any, seq_len: int = 20, seed: int = 1) -> float:
    """Largest absolute logit difference of two models (either may be archspec's) on random tokens."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, reference.config.vocab_size, (2, seq_len), generator=generator)
    with torch.no_grad():
        want = reference(ids).logits
        got = ours(ids)
        got = got if isinstance(got, torch.Tensor) else got.logits
    assert got.shape == want.shape
    return (got - want).abs().max().item()


@pytest.mark.parametrize("case", list(CASES))
def test_logits_match_the_reference(case: str, tmp_path: Path) -> None:
    config_class, kwargs = CASES[case]
    reference = hf_model(config_class, kwargs)
    reference.save_pretrained(tmp_path / "hf", safe_serialization=True)
    ours = load_pretrained(tmp_path / "hf").eval()
    assert logit_error(reference, ours) <= TOLERANCE
    # And back: archspec's export loads in transformers and gives the same logits.
    save_pretrained(ours, tmp_path / "export")
    again = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path / "export", attn_implementation="eager"
    ).eval()
    assert logit_error(reference, again) <= TOLERANCE


def test_sharded_checkpoint_loads(tmp_path: Path) -> None:
    reference = hf_model("MistralConfig", {**_LLAMA_LIKE, "sliding_window": 6})
    reference.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("*.safetensors"))) > 1
    assert max_logit_error(reference, tmp_path) <= TOLERANCE


def test_mixtral_fused_expert_layout_loads(tmp_path: Path) -> None:
    """transformers 5 keeps experts fused in memory (`mlp.experts.gate_up_proj` (E, 2h, d));
    a checkpoint written from that state dict loads like the per-expert one."""
    from safetensors.torch import save_file

    reference = hf_model(
        "MixtralConfig", {**_LLAMA_LIKE, "num_local_experts": 3, "num_experts_per_tok": 2}
    )
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    assert any(k.endswith("mlp.experts.gate_up_proj") for k in state)
    save_file(state, tmp_path / "model.safetensors")
    reference.config.save_pretrained(tmp_path)
    assert max_logit_error(reference, tmp_path) <= TOLERANCE


@settings(max_examples=10, deadline=None)
@given(
    kv_heads=st.sampled_from([1, 2, 4]),
    group=st.integers(1, 3),
    head_dim=st.sampled_from([4, 8, 12]),
    per_head=st.sampled_from([2, 4, 6]),
    intermediate=st.integers(8, 40),
    tied=st.booleans(),
)
def test_llama_parity_over_tiny_dims(
    tmp_path_factory: pytest.TempPathFactory,
    kv_heads: int,
    group: int,
    head_dim: int,
    per_head: int,
    intermediate: int,
    tied: bool,
) -> None:
    # transformers 5 wants hidden_size divisible by the heads even when head_dim is set apart.
    kwargs = {
        **_COMMON,
        "hidden_size": kv_heads * group * per_head,
        "intermediate_size": intermediate,
        "num_attention_heads": kv_heads * group,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": 32,
        "tie_word_embeddings": tied,
    }
    reference = hf_model("LlamaConfig", kwargs)
    folder = tmp_path_factory.mktemp("llama")
    reference.save_pretrained(folder, safe_serialization=True)
    assert max_logit_error(reference, folder, seq_len=12) <= TOLERANCE
