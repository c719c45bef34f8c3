"""Dense feed-forward networks: a plain MLP or a gated linear unit (Shazeer 2020)."""

from __future__ import annotations

import torch
from torch import nn

from archspec.nn.activation import ACTIVATIONS
from archspec.nn.linear import build_linear
from archspec.nn.moe import MixtureOfExperts
from archspec.nn.norm import build_norm
from archspec.plan.types import FfnPlan


class MLP(nn.Module):
    """down(act(up(x))) (GPT-2, phi-2, Falcon)."""

    def __init__(self, plan: FfnPlan) -> None:
        super().__init__()
        self.act = ACTIVATIONS[plan.activation]
        self.up_proj = build_linear(plan.linear("up_proj"))
        self.sub_norm = build_norm(plan.sub_norm)
        self.down_proj = build_linear(plan.linear("down_proj"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.sub_norm(self.act(self.up_proj(x))))


class GatedMLP(nn.Module):
    """down(act(gate(x)) * up(x)): SwiGLU, GeGLU, ReGLU."""

    def __init__(self, plan: FfnPlan) -> None:
        super().__init__()
        self.act = ACTIVATIONS[plan.activation]
        self.gate_proj = build_linear(plan.linear("gate_proj"))
        self.up_proj = build_linear(plan.linear("up_proj"))
        self.sub_norm = build_norm(plan.sub_norm)
        self.down_proj = build_linear(plan.linear("down_proj"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.sub_norm(self.act(self.gate_proj(x)) * self.up_proj(x)))


def build_ffn(plan: FfnPlan) -> nn.Module:
    if plan.moe:
        return MixtureOfExperts(plan)
    return GatedMLP(plan) if plan.gated else MLP(plan)
