"""T5's relative position bias (Raffel et al. 2020, 2.1): one learned scalar per head and
distance bucket, added to the attention scores; one table per stack, shared by its layers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from archspec.plan.types import RelativeBiasPlan


def relative_buckets(
    distance: torch.Tensor, n_buckets: int, max_distance: int, bidirectional: bool
) -> torch.Tensor:
    """Bucket of each key-minus-query ``distance``: exact for small distances, logarithmic up to
    ``max_distance``, the last bucket beyond. Bidirectional: half the buckets for keys after
    the query; causal: keys after the query share bucket 0 (they are masked anyway)."""
    buckets = torch.zeros_like(distance)
    if bidirectional:
        n_buckets //= 2
        buckets = buckets + (distance > 0).long() * n_buckets
        distance = distance.abs()
    else:
        distance = -distance.clamp(max=0)
    exact = n_buckets // 2
    log_ratio = torch.log(distance.float() / exact) / math.log(max_distance / exact)
    large = exact + (log_ratio * (n_buckets - exact)).long()
    large = large.clamp(max=n_buckets - 1)
    return buckets + torch.where(distance < exact, distance, large)


class RelativeBias(nn.Module):
    """The (n_buckets, n_heads) table and the (1, H, T, S) bias it gives queries at positions
    ``start..start+T`` over keys ``0..S``."""

    def __init__(self, plan: RelativeBiasPlan) -> None:
        super().__init__()
        self.n_buckets, self.max_distance = plan.n_buckets, plan.max_distance
        self.bidirectional = plan.bidirectional
        self.weight = nn.Parameter(torch.empty(plan.n_buckets, plan.n_heads).normal_())

    def forward(self, T: int, S: int, start: int, device: torch.device) -> torch.Tensor:
        queries = torch.arange(start, start + T, device=device)[:, None]
        keys = torch.arange(S, device=device)[None, :]
        buckets = relative_buckets(
            keys - queries, self.n_buckets, self.max_distance, self.bidirectional
        )  # (T, S)
        return F.embedding(buckets, self.weight).permute(2, 0, 1)[None]  # (1, H, T, S)


class NoRelativeBias(nn.Module):
    """A stack without position bias (no position encoding): zeros."""

    def forward(self, T: int, S: int, start: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(1, 1, T, S, device=device)


def build_relative_bias(plan: RelativeBiasPlan | None) -> nn.Module:
    return NoRelativeBias() if plan is None else RelativeBias(plan)
