"""The runtime module as a whole: shipped specs on the meta device, naming, weights, cache, generate."""

from __future__ import annotations

import re
import time

import pytest
import torch
from torch import nn

from archspec import load_spec
from archspec.analysis.params import count_params
from archspec.nn.model import Transformer, build_model
from archspec.nn.norm import GemmaRMSNorm
from archspec.plan.lower import lower
from archspec.spec import resolve
from archspec.spec.shipped import shipped_names
from archspec.spec.shrink import shrink
from tests.codegen.helpers import load_generated
from tests.nn.helpers import cached_decoding, logits, randomize_, tokens
from tests.strategies import tiny_spec

STATE_DICT_NAME = re.compile(
    r"^(embed\.weight|pos_embed\.weight|final_norm\.(weight|bias)|lm_head\.(weight|bias)"
    # encoder-decoder: the encoder stack under `encoder.`, relative-bias tables, cross-attention
    r"|(encoder\.)?(embed|relative_bias|final_norm)\.weight|relative_bias\.weight"
    r"|(encoder\.)?layers\.\d+\.(attn_norm|ffn_norm)\.weight"
    r"|(encoder\.)?layers\.\d+\.attn\.[qkvo]_proj\.weight"
    r"|(encoder\.)?layers\.\d+\.ffn\.(gate|up|down)_proj\.weight"
    r"|layers\.\d+\.cross_attn_norm\.weight|layers\.\d+\.cross_attn\.[qkvo]_proj\.weight"
    r"|layers\.\d+\.(attn_norm|attn_post_norm|ffn_norm|ffn_post_norm)\.(weight|bias)"
    r"|layers\.\d+\.attn\.([qkvo]_proj\.(weight|bias)|[qk]_norm\.(weight|bias))"
    r"|layers\.\d+\.(attn|ffn)\.sub_norm\.(weight|bias)"
    r"|layers\.\d+\.attn\.((x|y|out)_proj\.(weight|bias)|conv\.(weight|bias)"
    r"|lru\.((input|recurrent)_gate_(weight|bias)|a_param))"
    r"|layers\.\d+\.ffn\.((gate|up|down)_proj\.(weight|bias)|router\.(weight|bias)"
    r"|experts\.(gate|up|down)_(proj|bias)))$"
)
"""State-dict names shared by the runtime module, the generated file and the HF adapter."""


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_spec_builds_and_runs_on_meta_with_its_analytic_count(name: str) -> None:
    spec = load_spec(name)
    model = build_model(spec, device="meta")
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == count_params(spec).total
    odd = [key for key in model.state_dict() if not STATE_DICT_NAME.match(key)]
    assert not odd, f"state-dict names outside the shared convention: {odd}"
    # A forward pass on meta gives the output shape without memory (the MoE operator has a
    # shape-only implementation, so Mixtral runs too).
    ids = torch.zeros(2, 8, dtype=torch.long, device="meta")
    assert logits(model, ids).shape == (2, 8, resolve.vocab_rows(spec))


def test_llama2_70b_builds_on_meta_without_storage() -> None:
    spec = load_spec("llama2-70b")
    start = time.perf_counter()
    model = build_model(spec, device="meta")
    seconds = time.perf_counter() - start
    assert all(p.is_meta for p in model.parameters())
    assert all(b.is_meta for b in model.buffers())
    n = sum(p.numel() for p in model.parameters())
    assert n == count_params(spec).total
    assert 68e9 < n < 70e9
    # Measured ~0.1-0.9 s; the bound only catches a build that allocates or initialises.
    assert seconds < 10, f"building llama2-70b on meta took {seconds:.1f} s"


def test_build_model_accepts_a_plan_and_records_the_spec() -> None:
    spec = tiny_spec()
    assert build_model(spec).spec is spec
    from_plan = build_model(lower(spec))
    assert isinstance(from_plan, Transformer) and from_plan.spec is None
    assert from_plan.state_dict().keys() == build_model(spec).state_dict().keys()


def test_dtype_and_device_arguments() -> None:
    model = build_model(tiny_spec(), dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    cache = model.new_cache(2, 5)
    assert cache.keys[0].dtype == torch.bfloat16 and cache.keys[0].shape == (2, 4, 5, 4)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_tied_head_shares_the_embedding_storage(tied: bool) -> None:
    model = build_model(tiny_spec(head={"tie_embeddings": tied}))
    same = model.lm_head.weight.data_ptr() == model.embed.weight.data_ptr()
    assert same is tied
    assert {"embed.weight", "lm_head.weight"} <= model.state_dict().keys()  # both names, always
    n = sum(p.numel() for p in model.parameters())
    assert n == count_params(model.spec).total


def test_init_weights_default_scheme() -> None:
    spec = tiny_spec(
        bias=True,
        norm={"kind": "rmsnorm", "unit_offset": True},
        position={"kind": "learned"},
        d_model=64,
        ffn={"hidden_dim": 128},
    )
    torch.manual_seed(0)
    model = build_model(spec)
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, GemmaRMSNorm) or name.endswith("bias"):
                assert not param.any(), name
            elif param.ndim == 1:
                assert torch.equal(param, torch.ones_like(param)), name
            else:
                assert param.std().item() == pytest.approx(0.02, rel=0.2), name


def test_model_on_meta_is_not_initialised_and_can_be_materialised() -> None:
    model = build_model(tiny_spec(), device="meta")
    model.to_empty(device="cpu")
    model.init_weights()
    assert torch.isfinite(model(tokens(model.spec, 1, 4))).all()


def test_forward_shapes_and_last_only() -> None:
    spec = tiny_spec(padded_vocab_size=40)
    model = build_model(spec).eval()
    ids = tokens(spec, 2, 6)
    with torch.no_grad():
        logits = model(ids)
        assert logits.shape == (2, 6, 40)  # vocab_rows, padding included
        torch.testing.assert_close(model(ids, last_only=True), logits[:, -1:])


def test_new_cache_has_each_layers_shape() -> None:
    spec = tiny_spec(attention={"n_kv_heads": 2, "head_dim": 8})
    cache = build_model(spec).new_cache(3, 7)
    assert [k.shape for k in cache.keys] == [(3, 2, 7, 8)] * 2
    assert cache.length == 0 and cache.max_len == 7


def test_decoding_past_the_cache_raises() -> None:
    model = build_model(tiny_spec()).eval()
    cache = model.new_cache(1, 4)
    with torch.no_grad():
        model(tokens(model.spec, 1, 4), cache=cache)
        with pytest.raises(ValueError, match="KV cache holds 4 positions"):
            model(tokens(model.spec, 1, 1), cache=cache)


@pytest.mark.parametrize("backend", ["runtime", "generated"])
def test_greedy_generate_is_argmax_of_the_full_forward(backend: str) -> None:
    spec = tiny_spec(attention={"n_kv_heads": 2})
    model: nn.Module = randomize_(build_model(spec)).eval()
    if backend == "generated":
        generated = load_generated(spec).build_model().eval()
        generated.load_state_dict(model.state_dict())
        model = generated
    prompt = tokens(spec, 2, 5)
    out = model.generate(prompt, 6)
    assert out.shape == (2, 11) and torch.equal(out[:, :5], prompt)
    seq = prompt
    with torch.no_grad():
        for _ in range(6):
            seq = torch.cat((seq, model(seq)[:, -1].argmax(-1, keepdim=True)), dim=1)
    assert torch.equal(out, seq)


def test_sampling_generate() -> None:
    spec = tiny_spec()
    model = randomize_(build_model(spec)).eval()
    prompt = tokens(spec, 2, 3)

    def sample(seed: int, **kw: object) -> torch.Tensor:
        return model.generate(prompt, 5, generator=torch.Generator().manual_seed(seed), **kw)

    assert torch.equal(sample(1, temperature=0.8), sample(1, temperature=0.8))
    assert torch.equal(sample(1, temperature=2.0, top_k=1), model.generate(prompt, 5))
    assert (sample(2, temperature=1.0) < spec.vocab_size).all()
    assert torch.equal(model.generate(prompt, 0), prompt)


@pytest.mark.parametrize(
    ("backend", "position"),
    [("runtime", "rope"), ("generated", "rope"), ("runtime", "alibi")],
)
def test_bfloat16_model_keeps_float32_position_tables(backend: str, position: str) -> None:
    """Casting to bf16 must not round RoPE frequencies or ALiBi slopes (at position 4000 a
    bf16-rounded frequency moves cos by up to 0.75)."""
    spec = tiny_spec(d_model=128, max_seq_len=8192, position={"kind": position})
    if backend == "runtime":
        bf16, fp32 = build_model(spec, dtype=torch.bfloat16), build_model(spec)
    else:
        module = load_generated(spec)
        bf16, fp32 = module.build_model(dtype=torch.bfloat16), module.build_model()
    assert all(b.dtype == torch.float32 for b in bf16.buffers() if b.is_floating_point())
    if position == "rope":
        positions = torch.tensor([4000])
        torch.testing.assert_close(bf16.rotary(positions), fp32.rotary(positions))
    else:
        low, high = (
            bf16.masks(2, 4000, "cpu", torch.float32),
            fp32.masks(2, 4000, "cpu", torch.float32),
        )
        torch.testing.assert_close(low[0].mask, high[0].mask)


@pytest.mark.parametrize("name", shipped_names())
def test_each_shipped_architecture_at_test_size(name: str) -> None:
    """Every shipped architecture, shrunk (`archspec.spec.shrink`): the generated module computes
    the runtime module's logits (float32), and both decode with a KV cache as one forward
    (float64; sequences longer than the shrunk sliding windows)."""
    spec = shrink(load_spec(name))
    torch.manual_seed(0)
    runtime = randomize_(build_model(spec)).eval()
    generated = load_generated(spec).build_model().eval()
    generated.load_state_dict(runtime.state_dict())
    ids = tokens(spec, 2, 12)
    with torch.no_grad():
        want = logits(runtime, ids)
        torch.testing.assert_close(logits(generated, ids), want, atol=1e-5, rtol=1e-5)
        for model in (runtime.double(), generated.double()):
            full = logits(model, ids)
            steps = cached_decoding(model, ids, 5)
            torch.testing.assert_close(steps, full, atol=1e-4, rtol=1e-4)
