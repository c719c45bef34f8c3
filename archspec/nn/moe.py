"""Sparse mixture of experts with top-k routing (Shazeer et al. 2017; Mixtral, Jiang et al. 2024).

Expert weights are stacked 3-D parameters (n_experts, out, in). The (token, expert) pairs are
sorted by expert, so each expert multiplies one contiguous block of rows (`grouped_linear`, one
matmul per expert with tokens, no padding); one `index_add` sums the weighted results back per
token. Every shape is static (the data only decides which rows go where), so torch.compile
captures one graph and keeps the sparse FLOPs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from archspec.nn.activation import ACTIVATIONS
from archspec.nn.grouped import autocast_grouped_linear
from archspec.nn.linear import build_linear
from archspec.plan.types import FfnPlan


class Experts(nn.Module):
    """`n_experts` FFNs of one shape, stored stacked."""

    def __init__(self, plan: FfnPlan) -> None:
        super().__init__()
        E, d, h = plan.n_experts, plan.d_model, plan.hidden_dim
        self.act = ACTIVATIONS[plan.activation]
        self.gated = plan.gated
        self.up_proj = nn.Parameter(torch.empty(E, h, d))
        self.gate_proj = nn.Parameter(torch.empty(E, h, d)) if plan.gated else None
        self.down_proj = nn.Parameter(torch.empty(E, d, h))
        self.up_bias = nn.Parameter(torch.zeros(E, h)) if plan.bias else None
        self.gate_bias = nn.Parameter(torch.zeros(E, h)) if plan.bias and plan.gated else None
        self.down_bias = nn.Parameter(torch.zeros(E, d)) if plan.bias else None
        for weight in (self.up_proj, self.gate_proj, self.down_proj):
            if weight is not None:
                nn.init.kaiming_uniform_(weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, ids: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """Rows x (M, d_model) sorted by expert; `ids` (M,) the expert of each row; `ends`
        (n_experts,) where each expert's rows end."""
        up = self.linear(x, self.up_proj, self.up_bias, ids, ends)
        if self.gate_proj is not None:
            up = self.act(self.linear(x, self.gate_proj, self.gate_bias, ids, ends)) * up
        else:
            up = self.act(up)
        return self.linear(up, self.down_proj, self.down_bias, ids, ends)

    @staticmethod
    def linear(
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        ids: torch.Tensor,
        ends: torch.Tensor,
    ) -> torch.Tensor:
        y = autocast_grouped_linear(x, weight, ends)
        return y if bias is None else y + bias[ids].to(y.dtype)


class MixtureOfExperts(nn.Module):
    """Router softmax over all experts, top-k, optional renormalisation, weighted expert sum."""

    def __init__(self, plan: FfnPlan) -> None:
        super().__init__()
        self.n_experts = plan.n_experts
        self.top_k = plan.experts_per_token
        self.normalize = plan.normalize_top_k
        self.router = build_linear(plan.linear("router"))
        self.experts = Experts(plan)

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k expert weights and indices (N, k); softmax in float32 as Mixtral does."""
        probs = torch.softmax(self.router(x), dim=-1, dtype=torch.float32)
        weights, experts = torch.topk(probs, self.top_k, dim=-1)
        if self.normalize:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return weights.to(x.dtype), experts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (N, d_model)
        weights, experts = self.route(x)
        flat = experts.flatten()  # (N * k,) the expert of each (token, expert) pair
        order = torch.argsort(flat, stable=True)  # pairs sorted by expert
        tokens = order // self.top_k  # the token of each sorted pair
        ids = flat[order]
        ends = torch.searchsorted(ids, torch.arange(self.n_experts, device=x.device), right=True)
        y = self.experts(x[tokens], ids, ends)  # (N * top_k, d_model)
        y = y * weights.flatten()[order, None]  # (N * top_k, 1): each pair's routing weight
        return torch.zeros_like(x).index_add_(0, tokens, y).view(shape)
