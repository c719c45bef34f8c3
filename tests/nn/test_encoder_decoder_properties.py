"""Properties of encoder-decoder models over random tiny specs (`encoder_decoder_specs`).

The decoder-only properties (tests/nn/test_properties.py) restated for two stacks: counts =
runtime module = generated module; the decoder is causal, the encoder bidirectional; rows of a
batch are independent (an encoder padding mask included); cached decoding equals one forward;
bfloat16 runs in bfloat16 and stays close to float32. Identities between different computations
are checked in float64, as there (see that module's docstring).
"""

from __future__ import annotations

import torch
from hypothesis import assume, given

from archspec.analysis.params import count_params
from archspec.nn.model import build_model
from archspec.plan.lower import lower
from archspec.spec.model import ModelSpec
from tests.codegen.helpers import load_generated
from tests.nn.helpers import budget, cached_decoding, randomize_, tokens
from tests.strategies import encoder_decoder_specs

CLOSE = {"atol": 1e-4, "rtol": 1e-4}


def runtime_model(spec: ModelSpec, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize_(build_model(spec)).eval().to(dtype)


@budget(15)
@given(encoder_decoder_specs())
def test_counts_equal_the_module_and_the_generated_module(spec: ModelSpec) -> None:
    # float64, where the two agree exactly: in float32 the decoder's renderings rounded apart
    # once in CI (1.8e-5 on logits of 3.5, attention scale 70.5; the encoders' agreed exactly).
    runtime = runtime_model(spec, torch.float64)
    generated = load_generated(spec).build_model().eval().to(torch.float64)
    generated.load_state_dict(runtime.state_dict())
    count = count_params(spec)
    assert sum(p.numel() for p in runtime.parameters()) == count.total
    assert sum(p.numel() for p in generated.parameters()) == count.total
    assert sum(count.stacks.values()) == count.total
    ids, dec = tokens(spec, 2, 9), tokens(spec, 2, 7, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(generated(ids, dec), runtime(ids, dec), atol=1e-5, rtol=1e-5)


@budget(15)
@given(encoder_decoder_specs())
def test_decoder_is_causal_and_encoder_bidirectional(spec: ModelSpec) -> None:
    model = runtime_model(spec)
    ids, dec = tokens(spec, 1, 9), tokens(spec, 1, 7, seed=1)
    later = dec.clone()
    later[:, 4:] = (later[:, 4:] + 1) % spec.vocab_size
    with torch.no_grad():
        torch.testing.assert_close(model(ids, later)[:, :4], model(ids, dec)[:, :4], **CLOSE)
        # The last input token reaches the first encoder position (no causal mask there).
        other = ids.clone()
        other[:, -1] = (other[:, -1] + 1) % spec.vocab_size
        moved = (model.encode(other)[:, 0] - model.encode(ids)[:, 0]).abs().max().item()
    assert moved > 1e-9


@budget(15)
@given(encoder_decoder_specs())
def test_rows_are_independent_and_padding_is_invisible(spec: ModelSpec) -> None:
    model = runtime_model(spec)
    ids, dec = tokens(spec, 3, 9), tokens(spec, 3, 6, seed=1)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # row 1: 5 tokens, then padding
    with torch.no_grad():
        batch = model(ids, dec, attention_mask=mask)
        alone = model(ids[1:2, :5], dec[1:2])
        torch.testing.assert_close(batch[1:2], alone, **CLOSE)
        torch.testing.assert_close(batch[2:3], model(ids[2:3], dec[2:3]), **CLOSE)
        torch.testing.assert_close(model(ids, dec, attention_mask=mask), batch)  # deterministic


@budget(15)
@given(encoder_decoder_specs())
def test_cached_decoding_matches_full_forward(spec: ModelSpec) -> None:
    for model in (runtime_model(spec), None):
        if model is None:  # the generated module holding the same weights
            model = load_generated(spec).build_model(dtype=torch.float64).eval()
            model.load_state_dict(runtime_model(spec).state_dict())
        ids = tokens(spec, 2, 8)
        with torch.no_grad():
            torch.testing.assert_close(cached_decoding(model, ids, 3), model(ids, ids), **CLOSE)


@budget(10)
@given(encoder_decoder_specs())
def test_bfloat16_runs_in_bfloat16_and_stays_close(spec: ModelSpec) -> None:
    """As the decoder-only property: bf16 weights, logits and cache stay bf16 and finite; with a
    score scale no sharper than 1.5 x head_dim ** -0.5 the distribution is within 0.1 of float32."""
    torch.manual_seed(0)
    bf16 = build_model(spec, dtype=torch.bfloat16).eval()
    fp32 = build_model(spec).eval()
    fp32.load_state_dict(bf16.state_dict())
    ids, dec = tokens(spec, 2, 9), tokens(spec, 2, 6, seed=1)
    with torch.no_grad():
        got, want = bf16(ids, dec), fp32(ids, dec)
        cache = bf16.new_cache(2, 6)
        assert cache.keys[0].dtype == torch.bfloat16
        memory = bf16.memory(bf16.encode(ids))
        steps = [bf16.decode(dec[:, t : t + 1], memory, cache=cache) for t in range(6)]
    assert got.dtype == torch.bfloat16
    assert torch.isfinite(got).all() and torch.isfinite(torch.cat(steps, dim=1)).all()
    plan = lower(spec)
    attentions = [layer.mixer for layer in plan.layers + plan.encoder.layers]
    attentions += [layer.cross_attention for layer in plan.layers]
    assume(all(a.scale <= 1.5 * a.head_dim**-0.5 for a in attentions))
    p_got, p_want = torch.softmax(got.float(), dim=-1), torch.softmax(want, dim=-1)
    assert (p_got - p_want).abs().max().item() <= 0.1
