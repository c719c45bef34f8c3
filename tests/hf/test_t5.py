"""T5 / FLAN-T5: logit parity and greedy generation against T5ForConditionalGeneration.

Tiny configs in code, random weights, fp32, tolerance 1e-4. transformers 5.x `T5Config` forces
`tie_word_embeddings=True` (a written `false` only turns the v1.0 output scale off), so the
untied-head (FLAN) model is built tied and its `lm_head` then given its own weight: the model
the FLAN checkpoints hold, compared like with like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from archspec.hf.config import hf_config_to_spec, spec_to_hf_config
from archspec.hf.loader import load_pretrained, save_pretrained

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.hf

TOLERANCE = 1e-4
TINY: dict[str, Any] = {
    "vocab_size": 80,
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 48,
    "num_layers": 2,
    "num_decoder_layers": 3,
    "num_heads": 4,
    "relative_attention_num_buckets": 8,
    "relative_attention_max_distance": 12,
    "dropout_rate": 0.0,
    "decoder_start_token_id": 0,
}
CASES = {
    "flan-gated-gelu-untied": {
        **TINY,
        "feed_forward_proj": "gated-gelu",
        "tie_word_embeddings": False,
    },
    "v1.0-relu-tied": {**TINY, "feed_forward_proj": "relu", "tie_word_embeddings": True},
}


def hf_model(config: dict[str, Any]) -> Any:
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(**config))
    if config["tie_word_embeddings"] is False:  # the FLAN checkpoints hold their own lm_head
        model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.add_(torch.rand_like(p) - 0.5)  # norms matter
            elif "relative_attention_bias" in name:
                p.normal_(0.0, 1.0)
    return model.eval()


def ours(hf: Any, folder: Path) -> torch.nn.Module:
    """transformers saves the model, archspec's `load_pretrained` reads it back."""
    hf.save_pretrained(folder)
    return load_pretrained(folder).eval()


@pytest.mark.parametrize("case", sorted(CASES))
def test_logits_match_transformers(case: str, tmp_path: Path) -> None:
    config = CASES[case]
    hf = hf_model(config)
    model = ours(hf, tmp_path)
    torch.manual_seed(1)
    ids = torch.randint(2, 80, (2, 30))  # longer than max_distance: the log buckets are used
    mask = torch.ones_like(ids)
    mask[1, 22:] = 0  # padding of the encoder's second row
    dec = torch.randint(2, 80, (2, 25))
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        got = model(ids, decoder_input_ids=dec, attention_mask=mask)
    assert (got - want).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("case", sorted(CASES))
def test_greedy_generate_matches_transformers(case: str, tmp_path: Path) -> None:
    # transformers sizes its decoder cache by `num_layers` (the encoder's): equal depths here.
    config = {**CASES[case], "num_decoder_layers": TINY["num_layers"]}
    hf = hf_model(config)
    model = ours(hf, tmp_path)
    torch.manual_seed(2)
    ids = torch.randint(2, 80, (2, 12))
    mask = torch.ones_like(ids)
    mask[0, 9:] = 0
    want = hf.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False, eos_token_id=None
    )
    got = model.generate(ids, 10, attention_mask=mask)
    assert torch.equal(got, want)


def test_cached_decoding_equals_full_decoding(tmp_path: Path) -> None:
    model = ours(hf_model(CASES["flan-gated-gelu-untied"]), tmp_path)
    ids, dec = torch.randint(2, 80, (2, 9)), torch.randint(2, 80, (2, 7))
    with torch.no_grad():
        full = model(ids, decoder_input_ids=dec)
        memory = model.memory(model.encode(ids))
        cache = model.new_cache(2, 7)
        steps = [model.decode(dec[:, i : i + 1], memory, cache=cache) for i in range(7)]
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("case", sorted(CASES))
def test_export_is_what_transformers_and_archspec_read(case: str, tmp_path: Path) -> None:
    """Hub spelling in, archspec export out; archspec's own export loads in transformers with
    the same logits (save_pretrained of the runtime module)."""
    spec, _ = hf_config_to_spec({"model_type": "t5", **CASES[case]}, name="tiny-t5")
    config = spec_to_hf_config(spec)
    again, _ = hf_config_to_spec(config, name="tiny-t5")
    assert again.model_dump(exclude={"tokens", "description", "dtype"}) == spec.model_dump(
        exclude={"tokens", "description", "dtype"}
    )
    model = ours(hf_model(CASES[case]), tmp_path / "in")
    save_pretrained(model, tmp_path / "out")
    hf = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "out").eval()
    ids, dec = torch.randint(2, 80, (2, 9)), torch.randint(2, 80, (2, 7))
    with torch.no_grad():
        diff = hf(input_ids=ids, decoder_input_ids=dec).logits - model(ids, decoder_input_ids=dec)
    assert diff.abs().max().item() < TOLERANCE


def test_dense_act_fn_spelling_reads_like_feed_forward_proj() -> None:
    base = {"model_type": "t5", **TINY, "tie_word_embeddings": False}
    a, _ = hf_config_to_spec({**base, "feed_forward_proj": "gated-gelu"}, name="a")
    b, _ = hf_config_to_spec({**base, "dense_act_fn": "gelu_new", "is_gated_act": True}, name="a")
    assert a.ffn == b.ffn and a.ffn.activation == "geglu_tanh"


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_code_matches_transformers(case: str, tmp_path: Path) -> None:
    """The generated file of the imported spec, loaded from the same checkpoint, computes
    transformers' logits and greedy tokens."""
    from archspec.hf.loader import load_state_dict_into
    from tests.codegen.helpers import load_generated

    config = {**CASES[case], "num_decoder_layers": TINY["num_layers"]}
    hf = hf_model(config)
    hf.save_pretrained(tmp_path)
    spec = load_pretrained(tmp_path).spec
    generated = load_state_dict_into(load_generated(spec).build_model(), tmp_path).eval()
    torch.manual_seed(3)
    ids = torch.randint(2, 80, (2, 30))
    mask = torch.ones_like(ids)
    mask[0, 20:] = 0
    dec = torch.randint(2, 80, (2, 11))
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        got = generated(ids, dec, attention_mask=mask)
    assert (got - want).abs().max().item() < TOLERANCE
    tokens = hf.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False, eos_token_id=None
    )
    assert torch.equal(generated.generate(ids, 8, attention_mask=mask), tokens)
