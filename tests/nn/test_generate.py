"""`generate`: left-padded batches, end of sequence, nucleus sampling and clear refusals, on the
runtime module and the generated one; greedy output equals transformers' `generate`."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given
from torch import nn

from archspec.nn.generate import GenerationError
from archspec.nn.model import build_model
from archspec.spec.model import ModelSpec
from tests.codegen.helpers import load_generated
from tests.nn.helpers import budget, randomize_, tokens
from tests.nn.reference import TINY_HF, TINY_SPEC, left_padded, reference_pair
from tests.strategies import specs, tiny_spec

BACKENDS = ("runtime", "generated")


def backend_model(spec: ModelSpec, backend: str, dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    runtime = randomize_(build_model(spec)).eval().to(dtype)
    if backend == "runtime":
        return runtime
    generated = load_generated(spec).build_model(dtype=dtype).eval()
    generated.load_state_dict(runtime.state_dict())
    return generated


def _prompts(spec: ModelSpec, lengths: tuple[int, ...]) -> list[torch.Tensor]:
    return [tokens(spec, 1, n, seed=i)[0] for i, n in enumerate(lengths)]


@pytest.mark.parametrize("backend", BACKENDS)
@budget(10)
@given(spec=specs())
def test_each_row_of_a_left_padded_batch_decodes_as_it_does_alone(
    backend: str, spec: ModelSpec
) -> None:
    """Prompts of 1-4 tokens, left-padded: every feature (windows, ALiBi, learned positions,
    softcaps, MoE...) gives each row the tokens it gets alone (float64: no near-ties)."""
    assume(spec.recurrent is None)  # recurrent layers refuse left padding (a clear error)
    model = backend_model(spec, backend, torch.float64)
    new = min(4, spec.max_seq_len - 4)
    prompts = _prompts(spec, (3, 1, 4))
    ids, mask = left_padded(prompts)
    batch = model.generate(ids, new, attention_mask=mask)
    assert torch.equal(batch[:, : ids.shape[1]], ids)
    for i, prompt in enumerate(prompts):
        alone = model.generate(prompt[None], new)
        assert torch.equal(batch[i, ids.shape[1] :], alone[0, len(prompt) :]), f"row {i}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_padded_forward_matches_each_row_alone(backend: str) -> None:
    spec = tiny_spec(attention={"n_kv_heads": 2, "sliding_window": 3})
    model = backend_model(spec, backend, torch.float64)
    prompts = _prompts(spec, (6, 2, 4))
    ids, mask = left_padded(prompts)
    with torch.no_grad():
        logits = model(ids, attention_mask=mask)
        for i, prompt in enumerate(prompts):
            alone = model(prompt[None])
            torch.testing.assert_close(logits[i, -len(prompt) :], alone[0])


def _hf_llama() -> tuple[nn.Module, ModelSpec]:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(**{**TINY_HF, "attn_implementation": "sdpa"})
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config), ModelSpec.model_validate(TINY_SPEC)


@pytest.mark.hf
@pytest.mark.parametrize("backend", BACKENDS)
def test_greedy_padded_batch_equals_transformers_generate(backend: str) -> None:
    """Four prompts of different lengths, left-padded; without and then with an end-of-sequence id
    that ends one row early (the other rows continue, the ended row is padded)."""
    hf, spec = _hf_llama()
    ours = build_model(spec) if backend == "runtime" else load_generated(spec).build_model()
    hf, ours = reference_pair(hf, ours)
    ids, mask = left_padded(_prompts(spec, (5, 2, 7, 3)))
    kw = {"max_new_tokens": 10, "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        want = hf.generate(ids, attention_mask=mask, **kw)
    got = ours.generate(ids, 10, attention_mask=mask)
    assert torch.equal(got, want)

    eos = int(want[1, ids.shape[1] + 2])  # row 1 ends at its third new token
    with torch.no_grad():
        want = hf.generate(ids, attention_mask=mask, eos_token_id=eos, **kw)
    got = ours.generate(ids, 10, attention_mask=mask, eos_token_id=[eos, 95], pad_token_id=0)
    assert torch.equal(got, want)
    row = got[1, ids.shape[1] :].tolist()
    assert eos in row and all(t == 0 for t in row[row.index(eos) + 1 :])


@pytest.mark.parametrize("backend", BACKENDS)
def test_generation_stops_when_every_row_has_ended(backend: str) -> None:
    spec = tiny_spec()
    model = backend_model(spec, backend)
    prompt = tokens(spec, 2, 4)
    free = model.generate(prompt, 6)
    ends = [int(free[0, 4]), int(free[1, 5])]  # row 0 ends at once, row 1 one step later
    out = model.generate(prompt, 6, eos_token_id=ends, pad_token_id=7)
    assert out.shape[1] <= 6
    assert int(out[0, 4]) == ends[0] and (out[0, 5:] == 7).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_p_sampling(backend: str) -> None:
    spec = tiny_spec()
    model = backend_model(spec, backend)
    prompt = tokens(spec, 2, 3)

    def sample(seed: int, **kw: object) -> torch.Tensor:
        return model.generate(prompt, 5, generator=torch.Generator().manual_seed(seed), **kw)

    # A nucleus too small to hold two tokens is the most likely token: greedy.
    assert torch.equal(sample(1, temperature=1.0, top_p=1e-6), model.generate(prompt, 5))
    assert torch.equal(sample(3, temperature=0.7, top_p=0.9), sample(3, temperature=0.7, top_p=0.9))
    assert torch.equal(sample(3, temperature=0.7, top_p=1.0), sample(3, temperature=0.7))


def test_top_p_keeps_the_smallest_nucleus() -> None:
    from archspec.nn.generate import next_token

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    seen = {
        int(next_token(logits, 1.0, None, torch.Generator().manual_seed(s), 0.7))
        for s in range(200)
    }
    assert seen == {0, 1}  # 0.5 + 0.3 >= 0.7: the two most likely tokens only


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_requests_are_clear_errors(backend: str) -> None:
    spec = tiny_spec(position={"kind": "learned"}, max_seq_len=8)
    model = backend_model(spec, backend)
    prompt = tokens(spec, 1, 4)
    with pytest.raises(ValueError, match="max_new_tokens must be 0 or more, got -3"):
        model.generate(prompt, -3)
    with pytest.raises(ValueError, match=r"need 9 positions.*max_seq_len|MAX_SEQ_LEN \(8\)"):
        model.generate(prompt, 6)
    assert model.generate(prompt, 5).shape == (1, 9)  # the last token is never fed back
    with pytest.raises(ValueError, match="needs 9 positions"):
        model(tokens(spec, 1, 9))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 3\)"):
        model(prompt, attention_mask=torch.ones(1, 3, dtype=torch.long))
    if backend == "runtime":
        with pytest.raises(GenerationError, match="top_p must be in"):
            model.generate(prompt, 2, temperature=1.0, top_p=0.0)
