"""The ALiBi variants: the bias scaled with the scores (`scaled`), and Falcon's bfloat16 bias of
slope × key position (`bias_dtype: bfloat16`), in the plan, the runtime masks and generated code."""

from __future__ import annotations

import pytest

from archspec.codegen.emit import emit_code
from archspec.nn.model import AlibiMasks, Bfloat16AlibiMasks
from archspec.plan.lower import alibi_slopes, lower
from tests.strategies import tiny_spec

torch = pytest.importorskip("torch")

CPU = torch.device("cpu")


def test_plan_scales_the_bias_by_the_score_scale_only_when_asked() -> None:
    press = lower(tiny_spec(position={"kind": "alibi"}))
    assert press.alibi_scale is None and not press.alibi_bfloat16
    falcon = lower(tiny_spec(position={"kind": "alibi", "scaled": True, "bias_dtype": "bfloat16"}))
    head_dim = falcon.layers[0].mixer.head_dim
    assert falcon.alibi_scale == head_dim**-0.5 and falcon.alibi_bfloat16
    custom = lower(tiny_spec(position={"kind": "alibi", "scaled": True}, attention={"scale": 0.3}))
    assert custom.alibi_scale == 0.3


def test_generated_code_carries_only_the_chosen_variant() -> None:
    press = emit_code(tiny_spec(position={"kind": "alibi"}))
    assert "ALIBI_SCALE" not in press and "bfloat16()" not in press
    falcon = emit_code(
        tiny_spec(position={"kind": "alibi", "scaled": True, "bias_dtype": "bfloat16"})
    )
    assert "ALIBI_SCALE = " in falcon and "slopes.bfloat16()" in falcon


def _rows_shifted(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Largest difference of two bias tables once each row is shifted to start at 0."""
    finite = torch.isfinite(a)
    assert torch.equal(finite, torch.isfinite(b))
    return ((a - a[..., :1]) - (b - b[..., :1]))[finite].abs().max()


def test_bfloat16_bias_equals_the_exact_one_for_exact_slopes() -> None:
    """4 heads: slopes 2^-2..2^-8 and positions below 256 are exact in bfloat16, so the key
    position form equals -slope * distance up to a constant per row (which softmax ignores)."""
    slopes = alibi_slopes(4)
    (exact,) = AlibiMasks((None,), slopes, 0.5)(5, 9, CPU, torch.float32)
    (falcon,) = Bfloat16AlibiMasks((None,), slopes, 0.5)(5, 9, CPU, torch.float32)
    assert _rows_shifted(exact.mask.expand_as(falcon.mask), falcon.mask) == 0.0
    (unscaled,) = AlibiMasks((None,), slopes)(5, 9, CPU, torch.float32)
    assert torch.equal(torch.isinf(unscaled.mask), torch.isinf(exact.mask))
    assert torch.allclose(unscaled.mask.nan_to_num(neginf=0) * 0.5, exact.mask.nan_to_num(neginf=0))


def test_bfloat16_bias_rounds_slopes_and_products() -> None:
    slopes = alibi_slopes(16)  # 2^(-k/2): half of them are not bfloat16 numbers
    (falcon,) = Bfloat16AlibiMasks((None,), slopes)(1, 300, CPU, torch.float32)
    keys = torch.arange(300)
    want = (torch.tensor(slopes).bfloat16()[:, None] * keys).float()  # (16, 300)
    assert torch.equal(falcon.mask[0, :, 0], want)
    exact = torch.tensor(slopes, dtype=torch.float64)[:, None] * keys
    assert (want.double() - exact).abs().max() > 0.1  # the rounding is not negligible


def test_bfloat16_bias_counts_keys_from_each_rows_first_token() -> None:
    slopes = alibi_slopes(4)
    keep = torch.tensor([[False, False, True, True], [True, True, True, True]])
    (padded,) = Bfloat16AlibiMasks((None,), slopes)(4, 4, CPU, torch.float32, keep)
    (alone,) = Bfloat16AlibiMasks((None,), slopes)(2, 2, CPU, torch.float32)
    assert torch.equal(padded.mask[0, :, 2:, 2:], alone.mask[0])
