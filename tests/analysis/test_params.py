"""Parameter counts: hand-computed for small specs of each feature, and the published Gemma figures.

The base spec is ``tests.strategies.TINY``: vocabulary 32, width 16, 2 layers, context 16, 4 heads
of 4, a SiLU FFN of 32, RMSNorm, RoPE, no bias, untied. Each expected count is written as
arithmetic so that it can be checked by hand.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from archspec.analysis.params import COMPONENTS, count_params
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import vocab_rows
from archspec.spec.shipped import shipped_names
from tests.strategies import ACTIVATIONS, specs, tiny_spec

D = 16  # d_model
V = 32  # vocab_size
L = 2  # n_layers
EMBED = V * D  # 512
HEAD = V * D  # 512
FINAL_NORM = D  # RMSNorm scale
ATTENTION = 4 * D * D  # q, k, v, o: 16 x 16 each (4 heads x 4) = 1024
FFN = 2 * D * 32  # up 16 x 32, down 32 x 16 = 1024
NORMS = 2 * D  # attention and FFN norms, RMSNorm scale each = 32


def expected(
    *,
    attention: int = ATTENTION,
    ffn: int = FFN,
    norms: int = NORMS,
    embed: int = EMBED,
    position: int = 0,
    final_norm: int = FINAL_NORM,
    head: int = HEAD,
) -> int:
    """Total of a TINY-shaped model from its per-layer and model-level parts."""
    return embed + position + L * (attention + ffn + norms) + final_norm + head


def test_base() -> None:
    count = count_params(tiny_spec())
    assert count.total == 512 + 2 * (1024 + 1024 + 32) + 16 + 512 == 5200
    assert count.breakdown == {
        "embedding": 512,
        "position": 0,
        "attention": 2 * 1024,
        "ffn": 2 * 1024,
        "norm": 2 * 32 + 16,
        "head": 512,
    }
    assert count.total_untied == count.total == count.active
    assert count.non_embedding == 2048 + 2048 + 80
    assert not count.tied


@pytest.mark.parametrize(
    ("changes", "total"),
    [
        # Grouped-query attention with head_dim 8 != 16 / 4: q 16x32, k 16x16, v 16x16, o 32x16.
        (
            {"attention": {"n_heads": 4, "n_kv_heads": 2, "head_dim": 8}},
            expected(attention=16 * 32 + 16 * 16 + 16 * 16 + 32 * 16),
        ),
        # Multi-query attention: one key/value head of 4.
        ({"attention": {"n_kv_heads": 1}}, expected(attention=16 * 16 + 16 * 4 + 16 * 4 + 16 * 16)),
        # Explicit MHA equals the default.
        ({"attention": {"n_kv_heads": 4}}, expected()),
        # Global bias: q, k, v, o biases of 16; FFN up bias 32, down bias 16. The head keeps none.
        ({"bias": True}, expected(attention=1024 + 4 * 16, ffn=1024 + 32 + 16)),
        # Qwen2: q, k, v biases only, with 2 kv heads of 4 (k and v biases of 8).
        (
            {"attention": {"n_kv_heads": 2, "q_bias": True, "k_bias": True, "v_bias": True}},
            expected(attention=16 * 16 + 16 * 8 + 16 * 8 + 16 * 16 + 16 + 8 + 8),
        ),
        # Output bias only.
        ({"attention": {"o_bias": True}}, expected(attention=1024 + 16)),
        # Global bias switched off again part by part.
        (
            {
                "bias": True,
                "attention": {"q_bias": False, "k_bias": False, "v_bias": False, "o_bias": False},
                "ffn": {"bias": False},
            },
            expected(),
        ),
        # FFN bias without the global one.
        ({"ffn": {"bias": True}}, expected(ffn=1024 + 32 + 16)),
        # Gated FFN with bias: gate and up biases of 32, down bias of 16.
        ({"ffn": {"activation": "swiglu", "bias": True}}, expected(ffn=3 * 16 * 32 + 2 * 32 + 16)),
        # LayerNorm with scale and shift: 2 x 16 per norm.
        ({"norm": {"kind": "layernorm"}}, expected(norms=2 * 32, final_norm=32)),
        # LayerNorm with scale only.
        ({"norm": {"kind": "layernorm", "bias": False}}, expected(norms=2 * 16, final_norm=16)),
        # OLMo's parameter-free LayerNorm.
        (
            {"norm": {"kind": "layernorm", "affine": False, "bias": False}},
            expected(norms=0, final_norm=0),
        ),
        # Gemma's (1 + w) RMSNorm holds the same weights.
        ({"norm": {"kind": "rmsnorm", "unit_offset": True}}, expected()),
        # Post-norm and OLMo 2's branch post-norm: two norms per block, like pre-norm.
        ({"block": {"placement": "post"}}, expected()),
        ({"block": {"placement": "branch_post"}}, expected()),
        # Gemma 2's sandwich: four norms per block.
        ({"block": {"placement": "sandwich"}}, expected(norms=4 * 16)),
        # Parallel residual with one shared norm (GPT-J), or with one per branch (Falcon-40B).
        ({"block": {"parallel_residual": True}}, expected(norms=16)),
        ({"block": {"parallel_residual": True, "shared_norm": True}}, expected(norms=16)),
        ({"block": {"parallel_residual": True, "shared_norm": False}}, expected(norms=2 * 16)),
        # QK-norm per head (Qwen3): one RMSNorm of head_dim 4 for q, one for k.
        ({"attention": {"qk_norm": {"scope": "head"}}}, expected(norms=32 + 2 * 4)),
        # QK-norm over the projections (OLMo 2), 2 kv heads: q norm 4 x 4, k norm 2 x 4.
        (
            {"attention": {"n_kv_heads": 2, "qk_norm": {"scope": "projection"}}},
            expected(attention=16 * 16 + 16 * 8 + 16 * 8 + 16 * 16, norms=32 + 16 + 8),
        ),
        # ... with LayerNorms, scale and shift each.
        (
            {
                "attention": {
                    "n_kv_heads": 2,
                    "qk_norm": {"scope": "projection", "norm": {"kind": "layernorm"}},
                }
            },
            expected(attention=16 * 16 + 16 * 8 + 16 * 8 + 16 * 16, norms=32 + 2 * (16 + 8)),
        ),
        # Learned positions: a 16 x 16 table (GPT-2).
        ({"position": {"kind": "learned"}}, expected(position=16 * 16)),
        # ALiBi, NoPE and every RoPE variant add nothing.
        ({"position": {"kind": "alibi"}}, expected()),
        ({"position": {"kind": "none"}}, expected()),
        (
            {
                "position": {
                    "kind": "rope",
                    "fraction": 0.5,
                    "layout": "interleaved",
                    "scaling": {"kind": "yarn", "factor": 4.0, "original_max_seq_len": 8},
                }
            },
            expected(),
        ),
        # Padded vocabulary: 48 rows in the embedding and the head.
        ({"padded_vocab_size": 48}, expected(embed=48 * 16, head=48 * 16)),
        # Tied head: the embedding serves as output matrix.
        ({"head": {"tie_embeddings": True}}, expected(head=0)),
        # Output bias over the (padded) vocabulary.
        ({"head": {"bias": True}}, expected(head=512 + 32)),
        ({"head": {"bias": True}, "padded_vocab_size": 40}, expected(embed=640, head=640 + 40)),
        ({"head": {"bias": True, "tie_embeddings": True}}, expected(head=32)),
        # No final norm.
        ({"head": {"final_norm": False}}, expected(final_norm=0)),
        # Behaviour without weights: scale, window, softcaps, clipping, embedding scale, dtype.
        (
            {
                "attention": {
                    "scale": 0.1,
                    "sliding_window": 4,
                    "logit_softcap": 50.0,
                    "qkv_clip": 8.0,
                },
                "head": {"logit_softcap": 30.0},
                "embedding": {"scale_by_sqrt_d_model": True},
                "norm": {"kind": "rmsnorm", "compute_dtype": "input"},
                "dtype": "float32",
            },
            expected(),
        ),
    ],
    ids=[
        "gqa-head-dim",
        "mqa",
        "mha-explicit",
        "global-bias",
        "qkv-bias",
        "o-bias",
        "bias-overridden-off",
        "ffn-bias",
        "gated-ffn-bias",
        "layernorm",
        "layernorm-no-bias",
        "layernorm-no-affine",
        "rmsnorm-unit-offset",
        "post",
        "branch-post",
        "sandwich",
        "parallel-default-shared",
        "parallel-shared",
        "parallel-separate",
        "qk-norm-head",
        "qk-norm-projection",
        "qk-norm-projection-layernorm",
        "learned-position",
        "alibi",
        "nope",
        "rope-variants",
        "padded-vocab",
        "tied",
        "head-bias",
        "head-bias-padded",
        "head-bias-tied",
        "no-final-norm",
        "no-weights",
    ],
)
def test_hand_computed_total(changes: dict, total: int) -> None:
    assert count_params(tiny_spec(**changes)).total == total


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gated_activations_have_three_projections(activation: str) -> None:
    gated = activation in ("swiglu", "geglu", "geglu_tanh", "reglu", "relu2_glu")
    ffn = (3 if gated else 2) * 16 * 32  # (gate,) up, down
    count = count_params(tiny_spec(ffn={"activation": activation}))
    assert count.total == expected(ffn=ffn)
    assert count.per_layer[0].ffn == ffn


def test_mixture_of_experts() -> None:
    spec = tiny_spec(
        ffn={
            "activation": "swiglu",
            "moe": {"n_experts": 4, "experts_per_token": 2, "router_bias": True},
        }
    )
    expert = 3 * 16 * 32  # gate, up, down = 1536
    router = 16 * 4 + 4  # d_model x n_experts, plus bias
    count = count_params(spec)
    assert count.per_layer[0].ffn == router + 4 * expert == 6212
    assert count.per_layer[0].ffn_active == router + 2 * expert == 3140
    assert count.total == expected(ffn=router + 4 * expert)
    assert count.active == count.total - 2 * (2 * expert)  # 2 layers, 2 experts idle per token
    assert count.active < count.total


def test_moe_routing_to_every_expert_is_all_active() -> None:
    count = count_params(tiny_spec(ffn={"moe": {"n_experts": 2, "experts_per_token": 2}}))
    assert count.total == expected(ffn=16 * 2 + 2 * 1024)  # router without bias, 2 experts
    assert count.active == count.total


def test_tied_total_untied_adds_the_head_once() -> None:
    count = count_params(tiny_spec(head={"tie_embeddings": True}, padded_vocab_size=40))
    assert count.tied
    assert count.breakdown["head"] == 0
    assert count.total_untied == count.total + 40 * 16  # padded rows x d_model
    assert count.total_untied == count_params(tiny_spec(padded_vocab_size=40)).total


def test_per_layer_counts_follow_layer_overrides() -> None:
    spec = tiny_spec(
        n_layers=3,
        layer_overrides=[
            {"every": 2, "offset": 1, "ffn": {"hidden_dim": 64}},  # layer 1
            {"layers": [2], "attention": {"n_kv_heads": 1}},  # layer 2
            {"layers": [0], "attention": {"sliding_window": 4}},  # no weights
        ],
    )
    count = count_params(spec)
    layer = [(p.attention, p.ffn, p.norm) for p in count.per_layer]
    assert layer == [
        (1024, 1024, 32),
        (1024, 2 * 16 * 64, 32),
        (16 * 16 + 16 * 4 + 16 * 4 + 16 * 16, 1024, 32),
    ]
    assert count.total == 512 + sum(p.total for p in count.per_layer) + 16 + 512
    assert count.breakdown["ffn"] == 1024 + 2048 + 1024


def test_moe_on_some_layers_only() -> None:
    moe = {"moe": {"n_experts": 4, "experts_per_token": 1}}
    count = count_params(tiny_spec(layer_overrides=[{"layers": [1], "ffn": moe}]))
    dense, sparse = count.per_layer
    assert (dense.ffn, dense.ffn_active) == (1024, 1024)
    assert (sparse.ffn, sparse.ffn_active) == (16 * 4 + 4 * 1024, 16 * 4 + 1024)
    assert count.active == count.total - 3 * 1024


def test_gemma_7b_matches_the_published_figures() -> None:
    count = count_params(load_spec("gemma-7b"))
    embed = 256_000 * 3072  # tied with the head
    attention = 3 * 3072 * (16 * 256) + (16 * 256) * 3072  # 16 heads of 256, MHA
    ffn = 3 * 3072 * 24_576  # GeGLU: gate, up, down
    norms = 2 * 3072
    assert count.total == embed + 28 * (attention + ffn + norms) + 3072 == 8_537_680_896
    assert count.total_untied == count.total + embed == 9_324_112_896
    assert count.breakdown["head"] == 0
    assert count.active == count.total


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_spec_breakdown_is_consistent(name: str) -> None:
    assert_consistent(load_spec(name))


@given(specs())
def test_generated_spec_breakdown_is_consistent(spec: ModelSpec) -> None:
    assert_consistent(spec)


def assert_consistent(spec: ModelSpec) -> None:
    count = count_params(spec)
    blocks = count.per_layer + count.encoder_layers  # an encoder-decoder's two stacks
    assert tuple(count.breakdown) == COMPONENTS
    assert sum(count.breakdown.values()) == count.total
    assert count.breakdown["attention"] == sum(p.attention for p in blocks)
    assert count.breakdown["ffn"] == sum(p.ffn for p in blocks)
    assert count.breakdown["norm"] >= sum(p.norm for p in blocks)
    assert count.non_embedding == (
        count.breakdown["attention"] + count.breakdown["ffn"] + count.breakdown["norm"]
    )
    assert len(count.per_layer) == spec.n_layers
    head_matrix = vocab_rows(spec) * spec.d_model
    if spec.head.tie_embeddings:
        assert count.total_untied == count.total + head_matrix
    else:
        assert count.total_untied == count.total
    moe_layers = [p for p in blocks if p.ffn != p.ffn_active]
    assert (count.active < count.total) == bool(moe_layers)
    assert count.active == count.total - sum(p.ffn - p.ffn_active for p in blocks)
    assert json.loads(json.dumps(count.to_dict()))["total"] == count.total
