"""Sparse mixture of experts with top-k routing (Shazeer et al. 2017; Mixtral, Jiang et al. 2024).

Expert weights are stacked 3-D parameters (n_experts, out, in). Tokens are sorted by expert so
each expert multiplies one contiguous slice: one matmul per expert that has tokens, no per-token
work and no padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from archspec.nn.ffn import ACTIVATIONS
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

    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Expert e applied to x (n, d_model)."""
        up = nn.functional.linear(
            x, self.up_proj[e], None if self.up_bias is None else self.up_bias[e]
        )
        if self.gate_proj is not None:
            gate_bias = None if self.gate_bias is None else self.gate_bias[e]
            up = self.act(nn.functional.linear(x, self.gate_proj[e], gate_bias)) * up
        else:
            up = self.act(up)
        return nn.functional.linear(
            up, self.down_proj[e], None if self.down_bias is None else self.down_bias[e]
        )


class MixtureOfExperts(nn.Module):
    """Router softmax over all experts, top-k, optional renormalisation, weighted expert sum."""

    def __init__(self, plan: FfnPlan) -> None:
        super().__init__()
        self.n_experts = plan.n_experts
        self.top_k = plan.experts_per_token
        self.normalize = plan.normalize_top_k
        self.router = nn.Linear(plan.d_model, plan.n_experts, bias=plan.router_bias)
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
        if torch.compiler.is_compiling():
            return self.dense(x, weights, experts).view(shape)
        return self.sparse(x, weights, experts).view(shape)

    def sparse(self, x: torch.Tensor, weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """Each expert runs on its own tokens only (sizes depend on the data)."""
        flat = experts.flatten()  # (N * k,)
        order = torch.argsort(flat, stable=True)
        tokens = order // self.top_k  # token of each sorted (token, expert) pair
        counts = torch.bincount(flat, minlength=self.n_experts).tolist()
        weights = weights.flatten()
        out = torch.zeros_like(x)
        start = 0
        for e, n in enumerate(counts):
            if n:
                idx = tokens[start : start + n]
                out.index_add_(
                    0, idx, self.experts.expert(e, x[idx]) * weights[order[start : start + n], None]
                )
            start += n
        return out

    def dense(self, x: torch.Tensor, weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """Every expert on every token, weighted by the routing (zero where not chosen): static
        shapes, so torch.compile captures one graph; the same sum as `sparse`."""
        gates = torch.zeros(x.shape[0], self.n_experts, dtype=x.dtype, device=x.device)
        gates = gates.scatter(1, experts, weights)  # (N, n_experts)
        out = torch.zeros_like(x)
        for e in range(self.n_experts):
            out = out + gates[:, e, None] * self.experts.expert(e, x)
        return out
