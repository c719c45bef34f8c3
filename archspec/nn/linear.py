"""Linear projections, one kind per plan: dense, or a frozen dense weight with a low-rank adapter."""

from __future__ import annotations

from torch import nn

from archspec.nn.lora import DoRALinear, LoRALinear
from archspec.plan.types import LinearPlan

_KINDS: dict[str, type[nn.Linear]] = {"lora": LoRALinear, "dora": DoRALinear}


def build_linear(plan: LinearPlan) -> nn.Linear:
    """`nn.Linear`, or its LoRA / DoRA subclass (same `weight` and `bias` names) when adapted."""
    if plan.adapter is None:
        return nn.Linear(plan.in_features, plan.out_features, bias=plan.bias)
    return _KINDS[plan.adapter.kind](plan.in_features, plan.out_features, plan.bias, plan.adapter)
