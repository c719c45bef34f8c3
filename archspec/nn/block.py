"""Transformer blocks, one class per residual wiring; missing norms are identities."""

from __future__ import annotations

import torch
from torch import nn

from archspec.nn.attention import Mask, build_attention
from archspec.nn.cache import KVCache
from archspec.nn.ffn import build_ffn
from archspec.nn.norm import build_norm
from archspec.plan.types import LayerPlan, RopePlan


class SequentialBlock(nn.Module):
    """x + post(attn(pre(x))), then the same for the FFN: pre-norm (Llama), branch-output norm
    (OLMo 2, no pre norms) and sandwich (Gemma 2, both)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = build_attention(plan.attention, rope, plan.index)
        self.attn_post_norm = build_norm(plan.attn_post_norm)
        self.ffn_norm = build_norm(plan.ffn_norm)
        self.ffn = build_ffn(plan.ffn)
        self.ffn_post_norm = build_norm(plan.ffn_post_norm)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        x = x + self.attn_post_norm(self.attn(self.attn_norm(x), tables, mask, cache, start))
        return x + self.ffn_post_norm(self.ffn(self.ffn_norm(x)))


class PostNormBlock(nn.Module):
    """norm(x + attn(x)), then norm(x + ffn(x)) (Vaswani et al. 2017)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn = build_attention(plan.attention, rope, plan.index)
        self.attn_norm = build_norm(plan.attn_norm)
        self.ffn = build_ffn(plan.ffn)
        self.ffn_norm = build_norm(plan.ffn_norm)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        x = self.attn_norm(x + self.attn(x, tables, mask, cache, start))
        return self.ffn_norm(x + self.ffn(x))


class SharedNormParallelBlock(nn.Module):
    """x + attn(norm(x)) + ffn(norm(x)), one norm for both branches (GPT-J, phi-2, Falcon-7B)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = build_attention(plan.attention, rope, plan.index)
        self.ffn = build_ffn(plan.ffn)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        h = self.attn_norm(x)
        return x + self.attn(h, tables, mask, cache, start) + self.ffn(h)


class ParallelBlock(nn.Module):
    """x + attn(norm1(x)) + ffn(norm2(x)), a norm per branch (Falcon-40B)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = build_attention(plan.attention, rope, plan.index)
        self.ffn_norm = build_norm(plan.ffn_norm)
        self.ffn = build_ffn(plan.ffn)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        return (
            x
            + self.attn(self.attn_norm(x), tables, mask, cache, start)
            + self.ffn(self.ffn_norm(x))
        )


def build_block(plan: LayerPlan, rope: RopePlan | None) -> nn.Module:
    if plan.wiring == "parallel":
        return (
            ParallelBlock(plan, rope)
            if plan.ffn_norm is not None
            else SharedNormParallelBlock(plan, rope)
        )
    if plan.wiring == "post":
        return PostNormBlock(plan, rope)
    return SequentialBlock(plan, rope)
