"""Falcon's ALiBi variant (`alibi: true`, Falcon-RW): the bias joins q.k before 1/sqrt(head_dim)
and is computed in bfloat16, as `position: {kind: alibi, scaled: true, bias_dtype: bfloat16}`.

The published Falcon-RW-1B config imports unedited and counts what transformers builds; a tiny
random checkpoint made by transformers (16 heads, so that bfloat16 rounds the slopes) is
reproduced by the runtime module and the generated code, full, cached and left-padded; and it
round-trips through transformers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import archspec
from archspec.hf.config import hf_config_to_spec, spec_meaning, spec_to_hf_config
from archspec.hf.keys import HFConfigError
from tests.hf.test_export_layouts import _COMMON_V4, V4_KEYS, V4_ONLY

# https://huggingface.co/tiiuae/falcon-rw-1b/blob/main/config.json
FALCON_RW_1B: dict[str, Any] = {
    "alibi": True,
    "apply_residual_connection_post_layernorm": False,
    "architectures": ["FalconForCausalLM"],
    "attention_dropout": 0.0,
    "bias": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_dropout": 0.0,
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "falcon",
    "multi_query": False,
    "new_decoder_architecture": False,
    "num_attention_heads": 32,
    "num_hidden_layers": 24,
    "parallel_attn": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.27.4",
    "use_cache": True,
    "vocab_size": 50304,
}
FALCON_RW_1B_PARAMS = 1311625216
"""Published total (keras-hub's falcon_refinedweb_1b_en preset of tiiuae/falcon-rw-1b)."""

FALCON_ALIBI = {"kind": "alibi", "scaled": True, "bias_dtype": "bfloat16"}


def test_falcon_rw_imports_unedited_as_scaled_bfloat16_alibi() -> None:
    spec, report = hf_config_to_spec(FALCON_RW_1B, name="falcon-rw-1b")
    assert report.accounted == set(FALCON_RW_1B)
    assert spec.position.model_dump() == FALCON_ALIBI
    assert not spec.block.parallel_residual and spec.attention.n_kv_heads == 32
    assert archspec.count_params(spec).total == FALCON_RW_1B_PARAMS


def test_falcon_alibi_exports_for_transformers_4_and_5() -> None:
    spec = hf_config_to_spec(FALCON_RW_1B, name="falcon-rw-1b")[0]
    config = spec_to_hf_config(spec)
    assert config["model_type"] == "falcon" and config["alibi"] is True
    v4 = {k: v for k, v in config.items() if k in _COMMON_V4 | V4_KEYS["falcon"]}
    v5 = {k: v for k, v in config.items() if k not in V4_ONLY}
    for part in (v4, v5):
        assert spec_meaning(hf_config_to_spec(part, name="x")[0]) == spec_meaning(spec)


@pytest.mark.parametrize(
    "position", [{"kind": "alibi"}, {"kind": "alibi", "scaled": True}], ids=["press", "fp32"]
)
def test_other_alibi_variants_are_not_falcon(position: dict[str, Any]) -> None:
    spec = hf_config_to_spec(FALCON_RW_1B, name="x")[0]
    other = spec.model_copy(update={"position": spec.position.model_validate(position)})
    with pytest.raises(HFConfigError, match="bias_dtype: bfloat16"):
        spec_to_hf_config(other, model_type="falcon")


@pytest.mark.hf
@pytest.mark.parametrize("layout", [None, "v5", "v4"])
def test_falcon_rw_counts_what_transformers_builds(layout: str | None) -> None:
    """The published config, and its export in either spelling, build the published total."""
    from tests.hf.test_config import hf_count

    config = FALCON_RW_1B
    if layout is not None:
        spec = hf_config_to_spec(FALCON_RW_1B, name="x")[0]
        config = spec_to_hf_config(spec, model_type="falcon", layout=layout)
    assert hf_count(pytest.importorskip("transformers"), config) == FALCON_RW_1B_PARAMS


TINY: dict[str, dict[str, Any]] = {
    # Falcon-RW: sequential blocks, MHA, biases; 16 heads have slopes bfloat16 rounds
    "rw": {"multi_query": False, "parallel_attn": False, "bias": True},
    # parallel block with one norm, multi-query
    "parallel-mqa": {"multi_query": True, "parallel_attn": True},
}


@pytest.mark.hf
@pytest.mark.parametrize("key", TINY)
def test_tiny_falcon_alibi_checkpoint(key: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from archspec.hf.loader import load_pretrained, load_state_dict_into, save_pretrained
    from tests.hf.test_new_families import _cached_logits, _generated, _logits
    from tests.hf.test_parity import hf_model
    from tests.nn.reference import left_padded

    kwargs = {
        "vocab_size": 96,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 16,
        "alibi": True,
        "initializer_range": 0.1,
        "attn_implementation": "sdpa",  # the eager path adds the bias a second time
        **TINY[key],
    }
    reference = hf_model("FalconConfig", kwargs).eval()
    folder = tmp_path / "hf"
    reference.save_pretrained(folder, safe_serialization=True)
    config = json.loads((folder / "config.json").read_text())
    spec, report = hf_config_to_spec(config, name=f"tiny-falcon-{key}")
    assert report.accounted == set(config)
    assert spec.position.model_dump() == FALCON_ALIBI
    runtime = load_pretrained(folder).eval()
    generated = load_state_dict_into(_generated(runtime.spec), folder).eval()
    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 96, (2, 48), generator=gen)
    want = _logits(reference, ids)
    prompts = [torch.randint(1, 96, (n,), generator=gen) for n in (7, 3, 5)]
    padded, mask = left_padded(prompts)
    with torch.no_grad():
        want_padded = reference(padded, attention_mask=mask).logits
    for name, model in (("runtime", runtime), ("generated", generated)):
        got = _logits(model, ids)
        assert (got - want).abs().max().item() <= 1e-4, name
        assert (_cached_logits(model, ids) - got).abs().max().item() <= 1e-4, f"{name} cached"
        with torch.no_grad():
            got_padded = model(padded, attention_mask=mask)
        for row, prompt in enumerate(prompts):
            n = len(prompt)
            error = (got_padded[row, -n:] - want_padded[row, -n:]).abs().max().item()
            assert error <= 1e-4, f"{name} padded row {row}"

    out = tmp_path / "out"
    save_pretrained(runtime, out, spec, model_type="falcon")
    again = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    assert again.config.alibi is True
    assert (_logits(again, ids) - want).abs().max().item() <= 1e-4
