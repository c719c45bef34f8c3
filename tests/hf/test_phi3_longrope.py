"""Phi-3 with LongRoPE (`rope_type` longrope, legacy `su`): the published Phi-4-mini config imports
unedited and counts what transformers builds, exports back in both transformers spellings, and a
tiny random LongRoPE checkpoint made by transformers is reproduced by the runtime module and the
generated code on both sides of the original context (short, then long factors)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import archspec
from archspec.hf.config import hf_config_to_spec, spec_meaning, spec_to_hf_config
from archspec.hf.keys import HFConfigError
from tests.hf.test_export_layouts import _COMMON_V4, V4_KEYS, V4_ONLY

# https://huggingface.co/microsoft/Phi-4-mini-instruct/blob/main/config.json (unedited)
PHI4_MINI: dict[str, Any] = {
    "architectures": ["Phi3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "auto_map": {
        "AutoConfig": "configuration_phi3.Phi3Config",
        "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM",
        "AutoTokenizer": "Xenova/gpt-4o",
    },
    "bos_token_id": 199999,
    "embd_pdrop": 0.0,
    "eos_token_id": 200020,
    "full_attn_mod": 1,
    "hidden_act": "silu",
    "hidden_size": 3072,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "interpolate_factor": 1,
    "lm_head_bias": False,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "phi3",
    "num_attention_heads": 24,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "original_max_position_embeddings": 4096,
    "pad_token_id": 199999,
    "partial_rotary_factor": 0.75,
    "resid_pdrop": 0.0,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "long_factor": [
            1,
            1.118320672,
            1.250641126,
            1.398617824,
            1.564103225,
            1.74916897,
            1.956131817,
            2.187582649,
            2.446418898,
            2.735880826,
            3.059592084,
            3.421605075,
            3.826451687,
            4.279200023,
            4.785517845,
            5.351743533,
            5.984965424,
            6.693110555,
            7.485043894,
            8.370679318,
            9.36110372,
            10.4687158,
            11.70738129,
            13.09260651,
            14.64173252,
            16.37415215,
            18.31155283,
            20.47818807,
            22.90118105,
            25.61086418,
            28.64115884,
            32.03,
            32.1,
            32.13,
            32.23,
            32.6,
            32.61,
            32.64,
            32.66,
            32.7,
            32.71,
            32.93,
            32.97,
            33.28,
            33.49,
            33.5,
            44.16,
            47.77,
        ],
        "short_factor": [1.0] * 48,
        "type": "longrope",
    },
    "rope_theta": 10000.0,
    "sliding_window": 262144,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0",
    "use_cache": True,
    "vocab_size": 200064,
}
PHI4_MINI_PARAMS = 3836021760
"""Sum of the published safetensors shapes (tied head)."""


def _with_rope(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out["rope_scaling"].update(changes)
    return out


def test_phi4_mini_imports_unedited_with_longrope() -> None:
    spec, report = hf_config_to_spec(PHI4_MINI, name="phi-4-mini")
    assert report.accounted == set(PHI4_MINI)
    scaling = spec.position.scaling
    assert scaling.kind == "longrope"
    assert scaling.original_max_seq_len == 4096
    assert scaling.long_factor[-1] == 47.77 and scaling.short_factor == [1.0] * 48
    assert scaling.attention_factor is None  # derived from 131072 / 4096, as transformers does
    assert spec.position.fraction == 0.75
    assert archspec.count_params(spec).total == PHI4_MINI_PARAMS


def test_legacy_su_and_the_top_level_original_context() -> None:
    """Phi3Config renames `su` to longrope and puts its top-level original context over the
    rope dict's; a `factor` without `attention_factor` sets the attention factor (transformers 5)."""
    base = hf_config_to_spec(PHI4_MINI, name="x")[0]
    su = hf_config_to_spec(_with_rope(PHI4_MINI, type="su"), name="x")[0]
    assert spec_meaning(su) == spec_meaning(base)
    other = _with_rope(PHI4_MINI, original_max_position_embeddings=8192)
    assert hf_config_to_spec(other, name="x")[0].position.scaling.original_max_seq_len == 4096
    factor = hf_config_to_spec(_with_rope(PHI4_MINI, factor=4.0), name="x")[0]
    assert factor.position.scaling.attention_factor == pytest.approx(
        (1 + 1.3862943611198906 / 8.317766166719343) ** 0.5
    )
    same = hf_config_to_spec(_with_rope(PHI4_MINI, factor=32.0), name="x")[0]
    assert spec_meaning(same) == spec_meaning(base)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"type": "linear", "factor": 2.0, "short_factor": None, "long_factor": None},
            "accepts only default and longrope",
        ),
        ({"long_factor": None}, "needs 'long_factor'"),
        ({"short_factor": [1.0, "x"]}, "must be a finite number"),
        ({"short_factor": [1.0] * 47}, "one factor per rotary pair"),
        ({"mscale": 1.0}, "mscale"),
    ],
)
def test_bad_longrope_configs_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(HFConfigError, match=message):
        hf_config_to_spec(_with_rope(PHI4_MINI, **changes), name="x")


def test_longrope_outside_phi3_is_refused() -> None:
    config = {
        "model_type": "llama",
        "rope_scaling": {"rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0]},
    }
    with pytest.raises(HFConfigError, match="LongRoPE for phi3 only"):
        hf_config_to_spec(config, name="x")


def test_export_reads_the_same_in_transformers_4_and_5() -> None:
    spec = hf_config_to_spec(PHI4_MINI, name="phi-4-mini")[0]
    config = spec_to_hf_config(spec)
    # transformers 4's Phi3Config takes rope_scaling of exactly these three keys
    assert set(config["rope_scaling"]) == {"type", "short_factor", "long_factor"}
    assert config["original_max_position_embeddings"] == 4096
    assert config["rope_parameters"]["rope_type"] == "longrope"
    v4 = {k: v for k, v in config.items() if k in _COMMON_V4 | V4_KEYS["phi3"]}
    v5 = {k: v for k, v in config.items() if k not in V4_ONLY}
    for part in (v4, v5, spec_to_hf_config(spec, layout="v5")):
        assert spec_meaning(hf_config_to_spec(part, name="x")[0]) == spec_meaning(spec)


def test_explicit_attention_factor_exports_for_transformers_5_only() -> None:
    spec = hf_config_to_spec(_with_rope(PHI4_MINI, attention_factor=1.25), name="x")[0]
    assert spec.position.scaling.attention_factor == 1.25
    config = spec_to_hf_config(spec, layout="v5")
    assert config["rope_parameters"]["attention_factor"] == 1.25
    assert spec_meaning(hf_config_to_spec(config, name="x")[0]) == spec_meaning(spec)
    with pytest.raises(HFConfigError, match="read by transformers 5 only"):
        spec_to_hf_config(spec, layout="both")


# --- transformers builds and runs it ---------------------------------------------------------------


@pytest.mark.hf
def test_phi4_mini_counts_what_transformers_builds() -> None:
    transformers = pytest.importorskip("transformers")
    from tests.hf.test_config import hf_count

    spec = hf_config_to_spec(PHI4_MINI, name="x")[0]
    assert hf_count(transformers, PHI4_MINI) == archspec.count_params(spec).total
    for layout in ("v5", "v4", "both"):
        again = spec_to_hf_config(spec, model_type="phi3", layout=layout)
        assert hf_count(transformers, again) == PHI4_MINI_PARAMS, layout


_PAIRS = 4  # head_dim 8, whole rotation
ORIGINAL = 16
TINY_LONGROPE = {
    "vocab_size": 96,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_hidden_layers": 2,
    "initializer_range": 0.1,
    "max_position_embeddings": 64,
    "original_max_position_embeddings": ORIGINAL,
    "rope_parameters": {
        "rope_type": "longrope",
        "rope_theta": 10000.0,
        "short_factor": [1.0 + 0.3 * i for i in range(_PAIRS)],
        "long_factor": [2.0 + 1.7 * i for i in range(_PAIRS)],
    },
    "pad_token_id": 0,
    "attn_implementation": "eager",
}


@pytest.mark.hf
def test_tiny_longrope_checkpoint_round_trips_with_its_logits(tmp_path: Path) -> None:
    """Short factors at 12 tokens, long factors at 24 (past the original 16), through the runtime
    module and the generated code; then config -> spec -> config -> transformers."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from archspec.hf.loader import load_pretrained, load_state_dict_into, save_pretrained
    from tests.hf.test_new_families import _cached_logits, _generated, _logits
    from tests.hf.test_parity import hf_model

    reference = hf_model("Phi3Config", TINY_LONGROPE).eval()
    folder = tmp_path / "hf"
    reference.save_pretrained(folder, safe_serialization=True)
    config = json.loads((folder / "config.json").read_text())
    spec, report = hf_config_to_spec(config, name="tiny-longrope")
    assert report.accounted == set(config)
    assert spec.position.scaling.kind == "longrope"
    runtime = load_pretrained(folder).eval()
    generated = load_state_dict_into(_generated(runtime.spec), folder).eval()
    gen = torch.Generator().manual_seed(3)
    for seq_len in (12, 24):
        ids = torch.randint(0, 96, (2, seq_len), generator=gen)
        want = _logits(reference, ids)
        for name, model in (("runtime", runtime), ("generated", generated)):
            got = _logits(model, ids)
            assert (got - want).abs().max().item() <= 1e-4, (name, seq_len)
            if seq_len <= ORIGINAL:  # (past it, a full pass uses the long factors throughout)
                cached = _cached_logits(model, ids)
                assert (cached - got).abs().max().item() <= 1e-4, (name, "cached")
    # the long factors change the logits: the test would see a model that ignored them
    ids = torch.randint(0, 96, (1, 24), generator=gen)
    short_only = copy.deepcopy(TINY_LONGROPE)
    short_only["rope_parameters"]["long_factor"] = short_only["rope_parameters"]["short_factor"]
    other = hf_model("Phi3Config", short_only).eval()
    assert (_logits(other, ids) - _logits(reference, ids)).abs().max().item() > 1e-3

    out = tmp_path / "out"
    save_pretrained(runtime, out, spec, model_type="phi3")
    again = transformers.AutoModelForCausalLM.from_pretrained(
        out, attn_implementation="eager"
    ).eval()
    ids = torch.randint(0, 96, (2, 24), generator=gen)
    assert (_logits(again, ids) - _logits(reference, ids)).abs().max().item() <= 1e-4
