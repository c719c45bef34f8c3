"""Normalisation layers, chosen by the plan: RMSNorm, Gemma's (1 + w) RMSNorm, LayerNorm
(with or without bias) and OLMo's parameter-free LayerNorm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archspec.plan.types import NormPlan


class RMSNorm(nn.Module):
    """x / rms(x) * w (Zhang & Sennrich 2019), statistics in `compute_dtype`, fused by F.rms_norm."""

    def __init__(self, plan: NormPlan) -> None:
        super().__init__()
        self.eps = plan.eps
        self.width = plan.width
        self.compute_dtype = torch.float32 if plan.upcast else None
        self.weight = nn.Parameter(torch.ones(plan.width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = self.compute_dtype or x.dtype
        return F.rms_norm(x.to(dtype), (self.width,), self.weight.to(dtype), self.eps).to(x.dtype)


class GemmaRMSNorm(RMSNorm):
    """Gemma: RMSNorm scaled by (1 + w), w initialised at zero."""

    def __init__(self, plan: NormPlan) -> None:
        super().__init__(plan)
        nn.init.zeros_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = self.compute_dtype or x.dtype
        scale = 1.0 + self.weight.to(dtype)
        return F.rms_norm(x.to(dtype), (self.width,), scale, self.eps).to(x.dtype)


class LayerNorm(nn.Module):
    """LayerNorm (Ba et al. 2016) with optional scale and shift, statistics in `compute_dtype`."""

    def __init__(self, plan: NormPlan) -> None:
        super().__init__()
        self.eps = plan.eps
        self.width = plan.width
        self.compute_dtype = torch.float32 if plan.upcast else None
        self.weight = nn.Parameter(torch.ones(plan.width)) if plan.weight else None
        self.bias = nn.Parameter(torch.zeros(plan.width)) if plan.bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = self.compute_dtype or x.dtype
        weight = None if self.weight is None else self.weight.to(dtype)
        bias = None if self.bias is None else self.bias.to(dtype)
        return F.layer_norm(x.to(dtype), (self.width,), weight, bias, self.eps).to(x.dtype)


def build_norm(plan: NormPlan | None) -> nn.Module:
    """The norm a plan names, or an identity where the plan has none."""
    if plan is None:
        return nn.Identity()
    if plan.kind == "rmsnorm":
        return GemmaRMSNorm(plan) if plan.unit_offset else RMSNorm(plan)
    return LayerNorm(plan)
