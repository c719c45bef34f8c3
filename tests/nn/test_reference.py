"""Each spec knob against transformers' own model at tiny size: Granite's multipliers, Cohere's
logit scale and bias-free LayerNorm, BLOOM's embedding LayerNorm (with ALiBi), Gemma 3's local and
global RoPE, SmolLM3's and Cohere 2's layers without positions, and Phi-3's LongRoPE.

A transformers model is built from a config in code, every weight randomised, and copied into the
runtime module and the generated one (test-local name maps); fp32 logits agree to 1e-4, the
parameter counts agree with what transformers builds, and cached decoding equals a full forward
(for LongRoPE, it follows transformers' own cached decoding across the original context).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from archspec.analysis.params import count_params
from archspec.nn.model import build_model
from archspec.spec.model import ModelSpec
from tests.codegen.helpers import load_generated
from tests.nn.helpers import tokens
from tests.nn.reference import LLAMA_NAMES, SANDWICH_NAMES, TINY_HF, TINY_SPEC, reference_pair

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.hf

TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}
VOCAB = TINY_HF["vocab_size"]
SEQ = 12
_HF = TINY_HF


def _spec(**changes: Any) -> dict[str, Any]:
    from archspec.spec.resolve import deep_merge

    return deep_merge(TINY_SPEC, changes)


def _phi3_split(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Phi-3's fused qkv_proj (q, k, v rows) and gate_up_proj (gate rows, then up rows)."""
    if "qkv_proj" in name:
        q, k, v = torch.split(tensor, [32, 16, 16], dim=0)
        return {
            name.replace("qkv_proj", p): t
            for p, t in zip(("q_proj", "k_proj", "v_proj"), (q, k, v), strict=True)
        }
    if "gate_up_proj" in name:
        gate, up = tensor.chunk(2, dim=0)
        return {
            name.replace("gate_up_proj", "gate_proj"): gate,
            name.replace("gate_up_proj", "up_proj"): up,
        }
    return {name: tensor}


def _bloom_split(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """BLOOM's query_key_value holds (heads, 3, head_dim) rows: q, k, v interleaved per head."""
    if "query_key_value" not in name:
        return {name: tensor}
    per_head = tensor.view(4, 3, 8, *tensor.shape[1:])
    return {
        name.replace("query_key_value", proj): per_head[:, i].reshape(32, *tensor.shape[1:])
        for i, proj in enumerate(("q_proj", "k_proj", "v_proj"))
    }


@dataclass(frozen=True)
class Case:
    config: str
    model: str
    hf: dict[str, Any]
    spec: dict[str, Any]
    names: tuple[tuple[str, str], ...] = LLAMA_NAMES
    split: Callable[[str, torch.Tensor], dict[str, torch.Tensor]] | None = None
    lengths: tuple[int, ...] = (SEQ,)


_PHI3_PAIRS = 6  # head 16, partial rotary 0.75: 12 rotary dimensions
CASES = {
    # Granite: embeddings x 12, branches x 0.22, attention scale 1/64, logits / 8.
    "granite-multipliers": Case(
        "GraniteConfig",
        "GraniteForCausalLM",
        {
            **_HF,
            "embedding_multiplier": 12.0,
            "residual_multiplier": 0.22,
            "attention_multiplier": 0.015625,
            "logits_scaling": 8.0,
        },
        _spec(
            attention={"scale": 0.015625},
            embedding={"multiplier": 12.0},
            block={"residual_multiplier": 0.22},
            head={"logit_scale": 0.125},
        ),
    ),
    # Cohere: LayerNorm without bias, one norm for parallel branches, interleaved RoPE, tied,
    # logits x 0.0625.
    "cohere-logit-scale": Case(
        "CohereConfig",
        "CohereForCausalLM",
        {**_HF, "logit_scale": 0.0625, "rope_theta": 10000.0},
        _spec(
            norm={"kind": "layernorm", "bias": False, "eps": 1e-5},
            block={"parallel_residual": True},
            position={"layout": "interleaved"},
            head={"tie_embeddings": True, "logit_scale": 0.0625},
        ),
    ),
    # Cohere 2: sliding layers rotate, the global layer has no positions.
    "cohere2-nope-global": Case(
        "Cohere2Config",
        "Cohere2ForCausalLM",
        {
            **_HF,
            "num_hidden_layers": 3,
            "sliding_window": 5,
            "layer_types": ["sliding_attention", "sliding_attention", "full_attention"],
            "logit_scale": 0.25,
        },
        _spec(
            n_layers=3,
            norm={"kind": "layernorm", "bias": False, "eps": 1e-5},
            block={"parallel_residual": True},
            position={"layout": "interleaved"},
            attention={"sliding_window": 5},
            head={"tie_embeddings": True, "logit_scale": 0.25},
            layer_overrides=[
                {
                    "layers": [2],
                    "attention": {"sliding_window": None},
                    "position": {"kind": "none"},
                }
            ],
        ),
    ),
    # BLOOM: ALiBi, LayerNorm on the embeddings, fused per-head q/k/v, biases, GELU-tanh, tied.
    "bloom-embedding-layernorm": Case(
        "BloomConfig",
        "BloomForCausalLM",
        {
            "vocab_size": VOCAB,
            "hidden_size": 32,
            "n_layer": 2,
            "n_head": 4,
            "attn_implementation": "eager",
        },
        _spec(
            n_layers=2,
            bias=True,
            norm={"kind": "layernorm", "eps": 1e-5},
            position={"kind": "alibi"},
            attention={"n_kv_heads": 4},
            ffn={"activation": "gelu_tanh", "hidden_dim": 128},
            embedding={"norm": {"kind": "layernorm", "eps": 1e-5}},
            head={"tie_embeddings": True},
        ),
        names=(
            (r"^transformer\.word_embeddings_layernorm\.", "embed_norm."),
            (r"^transformer\.word_embeddings\.", "embed."),
            (r"^transformer\.ln_f\.", "final_norm."),
            (r"^transformer\.h\.(\d+)\.input_layernorm\.", r"layers.\1.attn_norm."),
            (r"^transformer\.h\.(\d+)\.post_attention_layernorm\.", r"layers.\1.ffn_norm."),
            (r"^transformer\.h\.(\d+)\.self_attention\.dense\.", r"layers.\1.attn.o_proj."),
            (r"^transformer\.h\.(\d+)\.self_attention\.", r"layers.\1.attn."),
            (r"^transformer\.h\.(\d+)\.mlp\.dense_h_to_4h\.", r"layers.\1.ffn.up_proj."),
            (r"^transformer\.h\.(\d+)\.mlp\.dense_4h_to_h\.", r"layers.\1.ffn.down_proj."),
        ),
        split=_bloom_split,
    ),
    # Gemma 3: local layers at theta 1e4 with a window, the global layer at theta 1e6 with linear
    # scaling 8; QK-norm, sandwich norms, (1 + w) RMSNorm, query_pre_attn_scalar.
    "gemma3-local-global-rope": Case(
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        {
            **_HF,
            "num_hidden_layers": 3,
            "head_dim": 16,
            "sliding_window": 4,
            "query_pre_attn_scalar": 24,
            "layer_types": ["sliding_attention", "full_attention", "sliding_attention"],
            "rope_parameters": {
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
            },
        },
        _spec(
            n_layers=3,
            norm={"unit_offset": True},
            block={"placement": "sandwich"},
            embedding={"scale_by_sqrt_d_model": True},
            head={"tie_embeddings": True},
            attention={
                "head_dim": 16,
                "scale": 24**-0.5,
                "sliding_window": 4,
                "qk_norm": {"norm": {"unit_offset": True}},
            },
            ffn={"activation": "geglu_tanh"},
            position={"theta": 10000.0},
            layer_overrides=[
                {
                    "layers": [1],
                    "attention": {"sliding_window": None},
                    "position": {"theta": 1e6, "scaling": {"kind": "linear", "factor": 8.0}},
                }
            ],
        ),
        names=SANDWICH_NAMES,
    ),
    # SmolLM3: RoPE except on layer 1 (no_rope_layers), theta 2e6.
    "smollm3-nope-layer": Case(
        "SmolLM3Config",
        "SmolLM3ForCausalLM",
        {
            **_HF,
            "num_hidden_layers": 3,
            "no_rope_layers": [1, 0, 1],
            "tie_word_embeddings": False,
            "rope_theta": 2e6,
        },
        _spec(
            n_layers=3,
            position={"theta": 2e6},
            layer_overrides=[{"layers": [1], "position": {"kind": "none"}}],
        ),
    ),
    # Phi-3 with LongRoPE (Phi-4-mini-like partial rotary): short factors at 12 tokens, long
    # ones at 20 > original context 16.
    "phi3-longrope": Case(
        "Phi3Config",
        "Phi3ForCausalLM",
        {
            **_HF,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "original_max_position_embeddings": 16,
            "rope_parameters": {
                "rope_type": "longrope",
                "rope_theta": 10000.0,
                "partial_rotary_factor": 0.75,
                "short_factor": [1.0 + 0.1 * i for i in range(_PHI3_PAIRS)],
                "long_factor": [2.0 + 0.7 * i for i in range(_PHI3_PAIRS)],
                "original_max_position_embeddings": 16,
            },
        },
        _spec(
            attention={"n_heads": 2, "n_kv_heads": 1},
            norm={"eps": 1e-5},
            position={
                "fraction": 0.75,
                "scaling": {
                    "kind": "longrope",
                    "short_factor": [1.0 + 0.1 * i for i in range(_PHI3_PAIRS)],
                    "long_factor": [2.0 + 0.7 * i for i in range(_PHI3_PAIRS)],
                    "original_max_seq_len": 16,
                },
            },
        ),
        split=_phi3_split,
        lengths=(SEQ, 20),
    ),
}


def _build(case: Case, backend: str) -> tuple[nn.Module, nn.Module, ModelSpec]:
    spec = ModelSpec.model_validate(case.spec)
    config = getattr(transformers, case.config)(**case.hf)
    torch.manual_seed(0)
    hf = getattr(transformers, case.model)(config).float()
    ours = build_model(spec) if backend == "runtime" else load_generated(spec).build_model()
    hf, ours = reference_pair(hf, ours, case.names, case.split)
    return hf, ours, spec


@pytest.mark.parametrize("backend", ["runtime", "generated"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_logits_match_transformers(case: str, backend: str) -> None:
    hf, ours, spec = _build(CASES[case], backend)
    for length in CASES[case].lengths:
        ids = tokens(spec, 2, length)
        with torch.no_grad():
            torch.testing.assert_close(ours(ids), hf(ids).logits, **TOLERANCE)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_count_matches_what_transformers_builds(case: str) -> None:
    c = CASES[case]
    spec = ModelSpec.model_validate(c.spec)
    with torch.device("meta"):
        hf = getattr(transformers, c.model)(getattr(transformers, c.config)(**c.hf))
    assert count_params(spec).total == sum(p.numel() for p in hf.parameters())


@pytest.mark.parametrize("backend", ["runtime", "generated"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_cached_decoding_matches_transformers(case: str, backend: str) -> None:
    """Prefill 5 tokens, then decode one at a time: the same logits as transformers decoding
    with its cache (and, within the original context, as one full forward)."""
    hf, ours, spec = _build(CASES[case], backend)
    length = max(CASES[case].lengths)
    ids = tokens(spec, 2, length)
    with torch.no_grad():
        cache = ours.new_cache(2, length)
        steps = [ours(ids[:, :5], cache=cache)]
        steps += [ours(ids[:, t : t + 1], cache=cache) for t in range(5, length)]
        out = hf(ids[:, :5], use_cache=True)
        want = [out.logits]
        for t in range(5, length):
            out = hf(ids[:, t : t + 1], past_key_values=out.past_key_values, use_cache=True)
            want.append(out.logits)
        torch.testing.assert_close(torch.cat(steps, dim=1), torch.cat(want, dim=1), **TOLERANCE)
        if length <= 16:
            torch.testing.assert_close(torch.cat(steps, dim=1), ours(ids), **TOLERANCE)
