"""Exact counts of the shipped T5 specs: the published numbers, transformers' model on meta, and
the runtime module, per stack and in total.

transformers 5.x `T5Config` forces `tie_word_embeddings=True`; the FLAN checkpoints hold their
own `lm_head`. The reference is therefore built tied and its `lm_head` given its own parameter,
the model the checkpoint holds (setting `config.tie_word_embeddings = False` after construction
would also untie both stacks' `embed_tokens` from `shared`, three embedding tables, not FLAN-T5).
"""

from __future__ import annotations

import pytest
import torch

from archspec.analysis.params import count_params
from archspec.spec.load import load_spec

PUBLISHED = {
    "t5-small": 60_506_624,
    "flan-t5-small": 76_961_152,
    "flan-t5-base": 247_577_856,
    "flan-t5-large": 783_150_080,
    "flan-t5-xl": 2_849_757_184,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_counts(name: str) -> None:
    count = count_params(load_spec(name))
    assert count.total == PUBLISHED[name]
    assert sum(count.stacks.values()) == count.total
    assert count.breakdown["position"] == 2 * 32 * load_spec(name).attention.n_heads


@pytest.mark.hf
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_counts_equal_transformers_and_the_module(name: str) -> None:
    transformers = pytest.importorskip("transformers")
    from archspec.hf.config import spec_to_hf_config
    from archspec.nn.model import build_model

    spec = load_spec(name)
    config = spec_to_hf_config(spec)
    config.pop("model_type")
    with torch.device("meta"):
        hf = transformers.T5ForConditionalGeneration(transformers.T5Config(**config))
        if not spec.head.tie_embeddings:
            hf.lm_head.weight = torch.nn.Parameter(torch.empty_like(hf.lm_head.weight))
    want = sum(p.numel() for p in hf.parameters())
    model = build_model(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == want == PUBLISHED[name]
    encoder = sum(p.numel() for n, p in hf.named_parameters() if n.startswith("encoder."))
    assert count_params(spec).stacks["encoder"] == encoder
