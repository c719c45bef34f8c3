"""A layer's token mixer, built by the type of its plan (attention today; one more plan type and
one more module for the next mixer)."""

from __future__ import annotations

from functools import singledispatch

from torch import nn

from archspec.nn.attention import build_attention
from archspec.nn.recurrent import RecurrentBlock
from archspec.plan.types import AttentionPlan, RecurrentPlan, RopePlan


@singledispatch
def build_mixer(plan: object, rope: RopePlan | None, layer_index: int) -> nn.Module:
    raise TypeError(f"no module for mixer plan {type(plan).__name__}")


@build_mixer.register
def _(plan: AttentionPlan, rope: RopePlan | None, layer_index: int) -> nn.Module:
    return build_attention(plan, rope, layer_index)


@build_mixer.register
def _(plan: RecurrentPlan, rope: RopePlan | None, layer_index: int) -> nn.Module:
    return RecurrentBlock(plan, layer_index)
