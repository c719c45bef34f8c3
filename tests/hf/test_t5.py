"""T5 / FLAN-T5: logit parity and greedy generation against T5ForConditionalGeneration.

Tiny configs in code, random weights, fp32, tolerance 1e-4. transformers 5.x `T5Config` forces
`tie_word_embeddings=True` (a written `false` only turns the v1.0 output scale off), so the
untied-head (FLAN) model is built tied and its `lm_head` then given its own weight: the model
the FLAN checkpoints hold, compared like with like.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from archspec.hf import t5_weights
from archspec.hf.families import t5
from archspec.nn.model import build_model
from archspec.spec.model import ModelSpec

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


def ours(config: dict[str, Any], hf: Any) -> torch.nn.Module:
    spec = ModelSpec.model_validate(t5.read(config, "tiny-t5"))
    model = build_model(spec)
    model.load_state_dict(t5_weights.from_hf(spec, hf.state_dict()))
    return model.eval()


@pytest.mark.parametrize("case", sorted(CASES))
def test_logits_match_transformers(case: str) -> None:
    config = CASES[case]
    hf = hf_model(config)
    model = ours(config, hf)
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
def test_greedy_generate_matches_transformers(case: str) -> None:
    # transformers sizes its decoder cache by `num_layers` (the encoder's): equal depths here.
    config = {**CASES[case], "num_decoder_layers": TINY["num_layers"]}
    hf = hf_model(config)
    model = ours(config, hf)
    torch.manual_seed(2)
    ids = torch.randint(2, 80, (2, 12))
    mask = torch.ones_like(ids)
    mask[0, 9:] = 0
    want = hf.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False, eos_token_id=None
    )
    got = model.generate(ids, 10, attention_mask=mask)
    assert torch.equal(got, want)


def test_cached_decoding_equals_full_decoding() -> None:
    hf = hf_model(CASES["flan-gated-gelu-untied"])
    model = ours(CASES["flan-gated-gelu-untied"], hf)
    ids, dec = torch.randint(2, 80, (2, 9)), torch.randint(2, 80, (2, 7))
    with torch.no_grad():
        full = model(ids, decoder_input_ids=dec)
        memory = model.memory(model.encode(ids))
        cache = model.new_cache(2, 7)
        steps = [model.decode(dec[:, i : i + 1], memory, cache=cache) for i in range(7)]
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < TOLERANCE


def test_export_config_reads_back() -> None:
    for config in CASES.values():
        spec = ModelSpec.model_validate(t5.read(config, "tiny-t5"))
        again = ModelSpec.model_validate(t5.read(t5.write(spec), "tiny-t5"))
        assert again.model_dump(exclude={"tokens"}) == spec.model_dump(exclude={"tokens"})
        transformers.T5Config(**t5.write(spec))  # transformers accepts it
