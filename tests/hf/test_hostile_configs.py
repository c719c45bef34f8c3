"""Property: any config.json value, however hostile, imports or fails with an ArchspecError (never a
bare TypeError, ValueError, OverflowError or RecursionError), and quickly."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.errors import ArchspecError
from archspec.hf.config import hf_config_to_spec, spec_to_hf_config
from archspec.hf.families import FAMILIES
from archspec.spec.model import ModelSpec

BASE = ModelSpec.model_validate(
    {
        "name": "base",
        "vocab_size": 96,
        "d_model": 32,
        "n_layers": 2,
        "max_seq_len": 64,
        "attention": {"n_heads": 4, "n_kv_heads": 2},
        "ffn": {"activation": "swiglu", "hidden_dim": 48},
    }
)

hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**200, -1, 0, 2**63, 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["llama", "default", "linear", "yarn", "sliding_attention", "gelu"]),
)
hostile = st.recursive(
    hostile_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)


def _config(model_type: str) -> dict[str, Any]:
    return (
        spec_to_hf_config(BASE, model_type=None) if model_type == "llama" else _exported(model_type)
    )


def _exported(model_type: str) -> dict[str, Any]:
    try:
        return spec_to_hf_config(BASE, model_type=model_type)
    except ArchspecError:
        return {**spec_to_hf_config(BASE), "model_type": model_type}


CONFIGS = {name: _config(name) for name in FAMILIES}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=st.sampled_from(sorted(CONFIGS)),
    data=st.data(),
    value=hostile,
)
def test_any_value_imports_or_is_an_archspec_error(family: str, data: Any, value: Any) -> None:
    config = dict(CONFIGS[family])
    structured = ["rope_parameters", "rope_scaling", "layer_types", "mlp_only_layers"]
    key = data.draw(st.sampled_from(structured) | st.sampled_from([*sorted(config), "new_key"]))
    nested = data.draw(st.booleans())
    if nested and isinstance(config.get("rope_parameters"), dict):
        inner = data.draw(st.sampled_from(["rope_type", "rope_theta", "factor", "type", "x"]))
        config["rope_parameters"] = {**config["rope_parameters"], inner: value}
    else:
        config[key] = value
    started = time.monotonic()
    try:
        hf_config_to_spec(config, name="x", ignore=["new_key"] if key == "new_key" else ())
    except ArchspecError:
        pass
    assert time.monotonic() - started < 2


def test_layer_types_of_the_wrong_json_types() -> None:
    for family in ("gemma2", "qwen2", "mistral", "starcoder2"):
        for value in ([{"a": 1}, [1]], [None], "full_attention", {"x": 1}):
            try:
                hf_config_to_spec({**CONFIGS[family], "layer_types": value}, name="x")
            except ArchspecError:
                pass


def test_yarn_with_a_null_factor_and_no_original_context() -> None:
    """Issue 15: yarn with `factor: null` and `original_max_position_embeddings: 0` divided by
    zero; the original context must be a positive integer."""
    import pytest

    from archspec.hf.config import HFConfigError

    config = {
        **CONFIGS["llama"],
        "rope_scaling": {
            "rope_type": "yarn",
            "factor": None,
            "original_max_position_embeddings": 0,
        },
    }
    config.pop("rope_parameters", None)
    with pytest.raises(HFConfigError, match="original_max_position_embeddings must be a positive"):
        hf_config_to_spec(config, name="x")
