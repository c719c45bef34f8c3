"""Exact counts of the recurrent mixer against transformers' RecurrentGemma built on `meta` from
the published configs (written here: no hub)."""

from __future__ import annotations

import pytest

from archspec.analysis.params import count_params
from archspec.spec.load import load_spec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

CONFIGS = {
    # google/recurrentgemma-2b config.json
    "recurrentgemma-2b": {
        "hidden_size": 2560,
        "intermediate_size": 15360,
        "num_attention_heads": 10,
        "num_hidden_layers": 26,
        "num_key_value_heads": 1,
        "lru_width": 2560,
    },
    # google/recurrentgemma-9b config.json
    "recurrentgemma-9b": {
        "hidden_size": 4096,
        "intermediate_size": 24576,
        "num_attention_heads": 16,
        "num_hidden_layers": 38,
        "num_key_value_heads": 1,
        "lru_width": 4096,
    },
}


def _reference(name: str) -> int:
    config = transformers.RecurrentGemmaConfig(
        vocab_size=256000, attention_window_size=2048, conv1d_width=4, **CONFIGS[name]
    )
    with torch.device("meta"):
        model = transformers.RecurrentGemmaForCausalLM(config)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_count_equals_transformers_on_meta(name: str) -> None:
    assert count_params(load_spec(name)).total == _reference(name)


def test_recurrentgemma_2b_published_count() -> None:
    assert count_params(load_spec("recurrentgemma-2b")).total == 2_682_862_080


def test_plan_and_analysis_count_the_block_alike() -> None:
    from archspec.analysis.params import recurrent_params
    from archspec.plan.recurrent import recurrent_plan

    for name in CONFIGS:
        spec = load_spec(name)
        assert recurrent_plan(spec).n_params == recurrent_params(spec)
