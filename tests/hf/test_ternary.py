"""Ternary packing: lossless, byte for byte what transformers' bitnet integration writes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from archspec.hf.ternary import latent_weight, pack, packed_rows, ternarize, unpack
from archspec.nn.bitlinear import quantize_weight

shapes = st.one_of(
    st.tuples(st.integers(1, 33)),
    st.tuples(st.integers(1, 33), st.integers(1, 9)),
)


@st.composite
def ternary_tensors(draw: st.DrawFn) -> torch.Tensor:
    shape = draw(shapes)
    n = 1
    for s in shape:
        n *= s
    values = draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n))
    return torch.tensor(values, dtype=torch.float32).reshape(shape)


@given(ternary_tensors())
def test_pack_then_unpack_is_lossless(t: torch.Tensor) -> None:
    packed = pack(t)
    assert packed.dtype == torch.uint8
    assert packed.shape == (packed_rows(t.shape[0]), *t.shape[1:])
    torch.testing.assert_close(unpack(packed, t.shape[0]), t, rtol=0, atol=0)


@given(st.lists(st.lists(st.integers(0, 2), min_size=4, max_size=4), min_size=1, max_size=16))
def test_unpack_then_pack_is_lossless_on_valid_bytes(fields: list[list[int]]) -> None:
    # A valid byte holds four two-bit fields, each 0, 1 or 2 (3 is no ternary value).
    raw = [sum(f << (2 * i) for i, f in enumerate(four)) for four in fields]
    packed = torch.tensor(raw, dtype=torch.uint8).reshape(-1, 1)
    rows = 4 * packed.shape[0]
    assert torch.equal(pack(unpack(packed, rows)), packed)


@given(ternary_tensors())
def test_layout_equals_transformers(t: torch.Tensor) -> None:
    bitnet = pytest.importorskip("transformers.integrations.bitnet")
    want = bitnet.pack_weights(t.clone())
    assert torch.equal(pack(t), want)
    with torch.compiler.set_stance("force_eager"):
        unpacked = bitnet.unpack_weights(want, dtype=torch.float32)
    torch.testing.assert_close(unpacked[: t.shape[0]], t, rtol=0, atol=0)


@given(st.integers(0, 2**31 - 1))
def test_latent_weight_requantises_exactly(seed: int) -> None:
    w = torch.randn(12, 8, generator=torch.Generator().manual_seed(seed))
    ternary, absmean = ternarize(w)
    latent = latent_weight(ternary, absmean)
    torch.testing.assert_close(quantize_weight(latent), ternary * absmean)
    torch.testing.assert_close(quantize_weight(latent), quantize_weight(w))
