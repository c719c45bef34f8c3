"""Linear projections, one class per plan: dense (`nn.Linear`), ternary (`BitLinear`), or a
frozen dense weight with a low-rank adapter; the plan's `class_name` picks the class (each an `nn.Linear`, so `weight` and
`bias` keep their names)."""

from __future__ import annotations

from torch import nn

from archspec.nn.bitlinear import BitLinear
from archspec.nn.lora import DoRALinear, LoRALinear
from archspec.plan.types import LinearPlan

_PLAIN: dict[str, type[nn.Linear]] = {"Linear": nn.Linear, "BitLinear": BitLinear}
_ADAPTED: dict[str, type[nn.Linear]] = {"LoRALinear": LoRALinear, "DoRALinear": DoRALinear}


def build_linear(plan: LinearPlan) -> nn.Linear:
    """The module of one projection, as its plan's class name says."""
    if plan.adapter is not None:
        cls = _ADAPTED[plan.class_name]
        return cls(plan.in_features, plan.out_features, plan.bias, plan.adapter)
    return _PLAIN[plan.class_name](plan.in_features, plan.out_features, bias=plan.bias)
