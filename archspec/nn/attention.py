"""Causal self-attention: MHA / MQA / GQA through fused SDPA, and a soft-capped variant.

Everything that depends on the spec (projection biases, QK-norm, clipping, rotary layout) is
picked when the module is built; `forward` only looks at its inputs (is there a cache?).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from archspec.nn.cache import KVCache
from archspec.nn.linear import build_linear
from archspec.nn.norm import build_norm
from archspec.nn.position import apply_partial_rotary, apply_rotary, swap_halves, swap_pairs
from archspec.plan.types import AttentionPlan, RopePlan


class Mask(NamedTuple):
    """What a layer's attention is allowed to see: an explicit mask, or SDPA's causal flag."""

    mask: torch.Tensor | None
    """Boolean (True = attend) or additive float mask broadcastable to (B, H, T, S), or None."""
    is_causal: bool

    def last_keys(self, S: int) -> Mask:
        """The mask of the last ``S`` keys only (a cache that keeps only a window returns them)."""
        if self.mask is None or self.mask.shape[-1] == S:
            return self
        return Mask(self.mask[..., -S:], self.is_causal)


class Clamp(nn.Module):
    """OLMo's clip_qkv: projections clamped to [-c, c]."""

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.bound = bound

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(-self.bound, self.bound)


class Rotation(nn.Module):
    """Applies the rotary tables to queries and keys (B, H, T, head_dim)."""

    def __init__(self, rope: RopePlan) -> None:
        super().__init__()
        self.swap = swap_pairs if rope.interleaved else swap_halves
        self.apply_fn = apply_partial_rotary if rope.partial else apply_rotary

    def forward(self, q: torch.Tensor, k: torch.Tensor, tables: tuple[torch.Tensor, torch.Tensor]):
        cos, sin = tables
        return self.apply_fn(q, cos, sin, self.swap), self.apply_fn(k, cos, sin, self.swap)


class NoRotation(nn.Module):
    """Queries and keys pass through (learned, ALiBi or no positions)."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, tables: object):
        return q, k


class Attention(nn.Module):
    """Multi-head attention with `n_kv_heads` key/value heads (MHA, MQA, GQA) through SDPA."""

    def __init__(self, plan: AttentionPlan, rope: RopePlan | None, layer_index: int) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.n_heads, self.n_kv_heads, self.head_dim = plan.n_heads, plan.n_kv_heads, plan.head_dim
        self.scale = plan.scale
        self.enable_gqa = plan.n_kv_heads != plan.n_heads
        self.q_proj = build_linear(plan.linear("q_proj"))
        self.k_proj = build_linear(plan.linear("k_proj"))
        self.v_proj = build_linear(plan.linear("v_proj"))
        self.o_proj = build_linear(plan.linear("o_proj"))
        self.sub_norm = build_norm(plan.sub_norm)  # BitNet b1.58 2B-4T: attn_sub_norm
        self.clip = Clamp(plan.qkv_clip) if plan.qkv_clip is not None else nn.Identity()
        qk = plan.qk_norm
        self.q_norm = build_norm(qk.q if qk else None)
        self.k_norm = build_norm(qk.k if qk else None)
        # A QK-norm normalises groups of this many channels: one head, or the whole projection.
        self.q_norm_width = qk.q.width if qk else plan.head_dim
        self.k_norm_width = qk.k.width if qk else plan.head_dim
        self.rotation = Rotation(rope) if plan.rope and rope is not None else NoRotation()

    def project(self, x: torch.Tensor, tables: object) -> tuple[torch.Tensor, ...]:
        """Queries (B, H, T, hd), keys and values (B, KV, T, hd), normed and rotated."""
        B, T, _ = x.shape
        q, k, v = self.clip(self.q_proj(x)), self.clip(self.k_proj(x)), self.clip(self.v_proj(x))
        # Head counts as -1: under tensor parallelism each rank holds only its local heads.
        q = self.q_norm(q.view(B, T, -1, self.q_norm_width)).view(B, T, -1, self.head_dim)
        k = self.k_norm(k.view(B, T, -1, self.k_norm_width)).view(B, T, -1, self.head_dim)
        v = v.view(B, T, -1, self.head_dim)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, T, hd)
        q, k = self.rotation(q, k, tables)
        return q, k, v

    def forward(
        self, x: torch.Tensor, tables: object, mask: Mask, cache: KVCache | None, start: int
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.project(x, tables)
        if cache is not None:
            k, v = cache.update(self.layer_index, k, v, start)  # (B, KV, S, hd)
            mask = mask.last_keys(k.shape[2])
        out = self.attend(q, k, v, mask)  # (B, H, T, hd)
        out = out.transpose(1, 2).reshape(B, T, -1)  # (B, T, local heads * hd)
        return self.o_proj(self.sub_norm(out))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Mask) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask.mask,
            is_causal=mask.is_causal,
            scale=self.scale,
            enable_gqa=self.enable_gqa,
        )


class SoftcappedAttention(Attention):
    """Gemma 2: scores soft-capped as cap * tanh(s / cap) before the softmax, so scores are explicit."""

    def __init__(self, plan: AttentionPlan, rope: RopePlan | None, layer_index: int) -> None:
        super().__init__(plan, rope, layer_index)
        self.softcap = plan.softcap

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Mask) -> torch.Tensor:
        B, H, T, hd = q.shape  # H, KV: the heads this rank holds (all of them without TP)
        KV, S = k.shape[1], k.shape[2]
        q = q.view(B, KV, H // KV, T, hd)  # (B, KV, group, T, hd)
        scores = (q @ k.unsqueeze(2).transpose(-1, -2)) * self.scale  # (B, KV, group, T, S)
        scores = torch.tanh(scores / self.softcap) * self.softcap
        scores = scores.view(B, H, T, S) + additive_mask(mask, T, S, q)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        probs = probs.view(B, KV, H // KV, T, S)
        return (probs @ v.unsqueeze(2)).view(B, H, T, hd)


def additive_mask(mask: Mask, T: int, S: int, like: torch.Tensor) -> torch.Tensor:
    """A Mask as a float tensor to add to scores (0 where allowed, -inf where not)."""
    if mask.mask is None:
        allowed = (
            causal_allowed(T, S, None, like.device)
            if mask.is_causal
            else torch.ones(T, S, dtype=torch.bool, device=like.device)
        )
        return torch.zeros(T, S, dtype=like.dtype, device=like.device).masked_fill(
            ~allowed, float("-inf")
        )
    if mask.mask.dtype == torch.bool:
        return torch.zeros(mask.mask.shape, dtype=like.dtype, device=like.device).masked_fill(
            ~mask.mask, float("-inf")
        )
    return mask.mask.to(like.dtype)


def causal_allowed(T: int, S: int, window: int | None, device: torch.device) -> torch.Tensor:
    """(T, S) booleans: query i (at position S - T + i) sees keys at positions <= its own,
    and, with a window, fewer than `window` positions back."""
    q_pos = torch.arange(S - T, S, device=device)[:, None]
    k_pos = torch.arange(S, device=device)[None, :]
    allowed = k_pos <= q_pos
    if window is not None:
        allowed = allowed & (q_pos - k_pos < window)
    return allowed


def padding_allowed(allowed: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, S): ``allowed`` (T, S) restricted to the keys ``keep`` (B, S) marks as tokens
    (left padding). A padding query still sees itself, so that no row of scores is empty (an
    all -inf row would make NaNs that reach real tokens through the cache)."""
    T, S = allowed.shape
    q_pos = torch.arange(S - T, S, device=keep.device)[:, None]
    k_pos = torch.arange(S, device=keep.device)[None, :]
    return allowed & (keep[:, None, None, :] | (k_pos == q_pos))


def build_attention(plan: AttentionPlan, rope: RopePlan | None, layer_index: int) -> Attention:
    cls = SoftcappedAttention if plan.softcap is not None else Attention
    return cls(plan, rope, layer_index)
