"""Position information: rotary tables (with context-extension scaling), learned absolute
embeddings, and ALiBi slopes. Frequencies follow the Hugging Face reference computations."""

from __future__ import annotations

import math

import torch
from torch import nn

from archspec.plan.types import RopePlan


def rope_inv_freq(plan: RopePlan, device: torch.device | None = None) -> torch.Tensor:
    """Inverse frequencies of the rotary pairs, scaled as the plan says (float32, like the references)."""
    dim = plan.rotary_dim
    exponents = torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim
    inv_freq = 1.0 / (plan.base**exponents)
    if plan.scaling == "linear":
        return inv_freq / plan.factor
    if plan.scaling == "llama3":
        return _llama3(inv_freq, plan)
    if plan.scaling == "yarn":
        return _yarn(inv_freq, plan)
    return inv_freq


def _llama3(inv_freq: torch.Tensor, plan: RopePlan) -> torch.Tensor:
    """Llama 3.1: keep high frequencies, divide low ones by `factor`, blend in between."""
    low, high = plan.low_freq_factor, plan.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    long_waves = wavelen > plan.original_max_seq_len / low
    short_waves = wavelen < plan.original_max_seq_len / high
    scaled = torch.where(long_waves, inv_freq / plan.factor, inv_freq)
    smooth = (plan.original_max_seq_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / plan.factor + smooth * scaled
    return torch.where(~short_waves & ~long_waves, smoothed, scaled)


def _yarn(inv_freq: torch.Tensor, plan: RopePlan) -> torch.Tensor:
    """YaRN (Peng et al. 2023): interpolate low frequencies, keep high ones, ramp between."""
    pair = torch.arange(plan.rotary_dim // 2, dtype=torch.float32, device=inv_freq.device)
    ramp = torch.clamp((pair - plan.yarn_low) / (plan.yarn_high - plan.yarn_low), 0, 1)
    extrapolation = 1 - ramp
    return (inv_freq / plan.factor) * (1 - extrapolation) + inv_freq * extrapolation


class Rotary(nn.Module):
    """cos/sin tables for given positions: (T, rotary_dim), pairs half-split or interleaved.

    Frequencies are recomputed in float32 each pass (a few tiny ops) instead of being kept in a
    buffer, so casting the model to bf16 never rounds them and a meta-built model needs no fixing.
    """

    def __init__(self, plan: RopePlan) -> None:
        super().__init__()
        self.plan = plan
        self.attention_factor = plan.attention_factor
        self.interleaved = plan.interleaved

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = rope_inv_freq(self.plan, positions.device)
        freqs = positions.float()[:, None] * inv_freq[None, :]  # (T, rotary_dim / 2)
        if self.interleaved:
            angles = torch.repeat_interleave(freqs, 2, dim=-1)  # (T, rotary_dim): f0 f0 f1 f1 ...
        else:
            angles = torch.cat((freqs, freqs), dim=-1)  # (T, rotary_dim): f0 f1 ... f0 f1 ...
        return angles.cos() * self.attention_factor, angles.sin() * self.attention_factor


class NoRotary(nn.Module):
    """Positions that are not rotary: no tables."""

    def forward(self, positions: torch.Tensor) -> None:
        return None


class LearnedPositions(nn.Module):
    """Learned absolute position embeddings added to the token embeddings (GPT-2)."""

    def __init__(self, max_seq_len: int, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_seq_len, d_model))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return x + self.weight[positions]


class NoPositions(nn.Module):
    """Token embeddings pass through unchanged."""

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return x


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the two halves of the last dimension (HF / GPT-NeoX layout)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...) (interleaved layout, GPT-J / Meta)."""
    pairs = x.unflatten(-1, (-1, 2))  # (..., rotary_dim / 2, 2)
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotate) -> torch.Tensor:
    """Rotate every dimension of x (B, H, T, head_dim)."""
    return x * cos.to(x.dtype) + rotate(x) * sin.to(x.dtype)


def apply_partial_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotate
) -> torch.Tensor:
    """Rotate the first rotary_dim dimensions of x (B, H, T, head_dim); pass the rest (phi-2)."""
    rot = cos.shape[-1]
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    return torch.cat((apply_rotary(x_rot, cos, sin, rotate), x_pass), dim=-1)
