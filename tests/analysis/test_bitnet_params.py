"""BitNet b1.58 2B-4T: the shipped spec's count equals transformers' model on the meta device,
built from the published config written here (weights kept as parameters)."""

from __future__ import annotations

import pytest

from archspec.analysis.params import count_params
from archspec.spec.load import load_spec

PUBLISHED = 2_412_820_480


def test_shipped_count() -> None:
    assert count_params(load_spec("bitnet-b1.58-2b-4t")).total == PUBLISHED


@pytest.mark.hf
def test_count_equals_transformers_on_meta() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.BitNetConfig(  # microsoft/bitnet-b1.58-2B-4T config.json
        vocab_size=128256,
        hidden_size=2560,
        intermediate_size=6912,
        num_hidden_layers=30,
        num_attention_heads=20,
        num_key_value_heads=5,
        hidden_act="relu2",
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
    )
    with torch.device("meta"):
        model = transformers.BitNetForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED


def test_ternary_weight_memory() -> None:
    import math

    from archspec.analysis.compute import TERNARY_FORMATS, analyse

    a = analyse(load_spec("bitnet-b1.58-2b-4t"))
    ternary = 30 * (2560 * (2560 + 640 + 640 + 2560) + 3 * 2560 * 6912)  # block projections
    rest = (PUBLISHED - ternary + 30 * 7) * 2  # embeddings, norms and 210 scales at bf16
    packed, bound = TERNARY_FORMATS
    assert a.weight_bytes[packed] == ternary // 4 + rest == 1_178_562_980
    assert a.weight_bytes[bound] == math.ceil(ternary * math.log2(3) / 8) + rest
    assert a.weight_bytes["bf16"] == PUBLISHED * 2


def test_dense_specs_have_no_ternary_figures() -> None:
    from archspec.analysis.compute import analyse

    assert list(analyse(load_spec("llama3-8b")).weight_bytes) == ["fp32", "bf16", "int8", "int4"]


def test_diff_with_llama3_names_the_linear_kind_sub_norms_and_stored_weights() -> None:
    from archspec.analysis.diff import diff

    _, rows = diff([load_spec("bitnet-b1.58-2b-4t"), load_spec("llama3-8b")])
    by = {row.feature: row for row in rows}
    assert by["linear kind"].values == ("bitlinear_b158 (all projections)", "dense")
    assert by["sub-norms"].values == ("attn+ffn", "—")
    assert by["sub-norms"].effects[1].params == -30 * (2560 + 6912)
    assert by["weights, bf16 or ternary 2-bit packed"].values == ("1.10 GiB", "14.96 GiB")
