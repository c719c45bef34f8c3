"""The `recurrent_gemma` family: a tiny RecurrentGemmaForCausalLM saved with `save_pretrained`
loads through archspec (runtime module and generated file) with the same logits (1e-4, fp32), and
an archspec model saved as a Hugging Face folder loads back in transformers."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.hf.config import hf_config_to_spec, spec_to_hf_config
from archspec.hf.loader import load_pretrained, save_pretrained
from archspec.spec.load import load_spec
from tests.codegen.helpers import load_generated
from tests.recurrent.test_parity import HF_CONFIG, TOLERANCE, reference_hf, reference_pair

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.hf


@pytest.mark.parametrize("types", [None, ["recurrent"], ["recurrent", "attention"]])
def test_hf_checkpoint_loads_with_equal_logits(tmp_path: Path, types: list[str] | None) -> None:
    hf = reference_hf(3, block_types=types)
    hf.save_pretrained(tmp_path)
    ours = load_pretrained(tmp_path).eval()
    ids = torch.randint(0, HF_CONFIG["vocab_size"], (2, 19))
    generated = load_generated(ours.spec).build_model().eval()
    generated.load_state_dict(ours.state_dict())
    with torch.no_grad():
        want = hf(ids, use_cache=False).logits
        assert (ours(ids) - want).abs().max().item() < TOLERANCE
        assert (generated(ids) - want).abs().max().item() < TOLERANCE
    if types == ["recurrent"]:
        return  # transformers' generate cannot size a cache without attention layers (Hawk)
    got = generated.generate(ids[:1, :7], 8)
    assert torch.equal(got, hf.generate(ids[:1, :7], max_new_tokens=8, do_sample=False))


def test_archspec_model_exports_to_transformers(tmp_path: Path) -> None:
    _, ours = reference_pair(4)
    save_pretrained(ours, tmp_path, ours.spec)
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    ids = torch.randint(0, HF_CONFIG["vocab_size"], (2, 17))
    with torch.no_grad():
        assert (hf(ids, use_cache=False).logits - ours(ids)).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("name", ["recurrentgemma-2b", "recurrentgemma-9b"])
def test_shipped_specs_round_trip_through_the_config(name: str) -> None:
    spec = load_spec(name)
    config = spec_to_hf_config(spec)
    assert config["model_type"] == "recurrent_gemma" and config["lru_width"] == spec.d_model
    back, _ = hf_config_to_spec(config, name=name)
    assert spec_to_hf_config(back) == config
