"""The recurrent block's plan from a spec (lowering; the tests hold its count to the spec's)."""

from __future__ import annotations

import struct

from archspec.plan.types import RecurrentPlan
from archspec.spec.model import ModelSpec


def recurrent_plan(spec: ModelSpec) -> RecurrentPlan:
    """The plan of every recurrent layer (one `recurrent` section per model)."""
    r = spec.recurrent
    if r is None:
        raise ValueError(f"{spec.name}: a recurrent layer needs the `recurrent` section")
    return RecurrentPlan(spec.d_model, r.width, r.n_heads, r.conv_width, r.c, r.bias)


def round_bfloat16(value: float) -> float:
    """``value`` rounded to the nearest bfloat16 (ties to even), as torch rounds a float32."""
    (bits,) = struct.unpack("<I", struct.pack("<f", value))
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return struct.unpack("<f", struct.pack("<I", bits))[0]
