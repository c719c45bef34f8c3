"""Transformer blocks, one class per residual wiring; missing norms are identities."""

from __future__ import annotations

import torch
from torch import nn

from archspec.nn.attention import Mask
from archspec.nn.cache import KVCache
from archspec.nn.ffn import build_ffn
from archspec.nn.mixer import build_mixer
from archspec.nn.norm import build_norm
from archspec.plan.types import LayerPlan, RopePlan


class Scale(nn.Module):
    """x times a constant: Granite's residual and embedding multipliers, Cohere's logit scale."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def scale_or_identity(factor: float | None) -> nn.Module:
    return Scale(factor) if factor is not None else nn.Identity()


def residual_scale(plan: LayerPlan) -> nn.Module:
    """Granite: branch outputs times `residual_multiplier` before they join the residual stream."""
    return scale_or_identity(plan.residual_scale)


class SequentialBlock(nn.Module):
    """x + post(attn(pre(x))), then the same for the FFN: pre-norm (Llama), branch-output norm
    (OLMo 2, no pre norms) and sandwich (Gemma 2, both)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = build_mixer(plan.mixer, rope, plan.index)
        self.attn_post_norm = build_norm(plan.attn_post_norm)
        self.ffn_norm = build_norm(plan.ffn_norm)
        self.ffn = build_ffn(plan.ffn)
        self.ffn_post_norm = build_norm(plan.ffn_post_norm)
        self.scale = residual_scale(plan)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        attn = self.attn_post_norm(self.attn(self.attn_norm(x), tables, mask, cache, start))
        x = x + self.scale(attn)
        return x + self.scale(self.ffn_post_norm(self.ffn(self.ffn_norm(x))))


class PostNormBlock(nn.Module):
    """norm(x + attn(x)), then norm(x + ffn(x)) (Vaswani et al. 2017)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn = build_mixer(plan.mixer, rope, plan.index)
        self.attn_norm = build_norm(plan.attn_norm)
        self.ffn = build_ffn(plan.ffn)
        self.ffn_norm = build_norm(plan.ffn_norm)
        self.scale = residual_scale(plan)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        x = self.attn_norm(x + self.scale(self.attn(x, tables, mask, cache, start)))
        return self.ffn_norm(x + self.scale(self.ffn(x)))


class SharedNormParallelBlock(nn.Module):
    """x + attn(norm(x)) + ffn(norm(x)), one norm for both branches (GPT-J, phi-2, Falcon-7B)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = build_mixer(plan.mixer, rope, plan.index)
        self.ffn = build_ffn(plan.ffn)
        self.scale = residual_scale(plan)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        h = self.attn_norm(x)
        return x + self.scale(self.attn(h, tables, mask, cache, start)) + self.scale(self.ffn(h))


class ParallelBlock(nn.Module):
    """x + attn(norm1(x)) + ffn(norm2(x)), a norm per branch (Falcon-40B)."""

    def __init__(self, plan: LayerPlan, rope: RopePlan | None) -> None:
        super().__init__()
        self.attn_norm = build_norm(plan.attn_norm)
        self.attn = build_mixer(plan.mixer, rope, plan.index)
        self.ffn_norm = build_norm(plan.ffn_norm)
        self.ffn = build_ffn(plan.ffn)
        self.scale = residual_scale(plan)

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        attn = self.attn(self.attn_norm(x), tables, mask, cache, start)
        return x + self.scale(attn) + self.scale(self.ffn(self.ffn_norm(x)))


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
