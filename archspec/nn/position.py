"""Position information: rotary tables (with context-extension scaling), learned absolute
embeddings, and ALiBi slopes. Frequencies follow the Hugging Face reference computations."""

from __future__ import annotations

import math

import torch
from torch import nn

from archspec.plan.types import RopePlan


def rope_inv_freq(
    plan: RopePlan, device: torch.device | None = None, positions: torch.Tensor | None = None
) -> torch.Tensor:
    """Inverse frequencies of the rotary pairs, scaled as the plan says (float32, like the
    references). LongRoPE picks its factors by the largest of ``positions`` (none: short)."""
    dim = plan.rotary_dim
    exponents = torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim
    if plan.scaling == "longrope":
        return _longrope(plan.base**exponents, plan, positions)
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


def _longrope(powers: torch.Tensor, plan: RopePlan, positions: torch.Tensor | None) -> torch.Tensor:
    """LongRoPE (Ding et al. 2024): each pair's frequency divided by its factor, the long factors
    once the pass reaches past the original context (transformers decides by the largest position
    of the pass, so a cached prefix keeps the tables it was rotated with)."""
    short = torch.tensor(plan.short_factor, dtype=torch.float32, device=powers.device)
    long = torch.tensor(plan.long_factor, dtype=torch.float32, device=powers.device)
    if positions is not None:
        short = torch.where(positions.max() + 1 > plan.original_max_seq_len, long, short)
    return 1.0 / (short * powers)


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
        """(cos, sin) tables (T, rotary_dim); sin carries the rotation's sign (negative on the
        first dimension of each pair), so rotating is x * cos + swap(x) * sin: the same products
        as the references' x * cos + rotate_half(x) * sin, one kernel (the negation) fewer."""
        inv_freq = rope_inv_freq(self.plan, positions.device, positions)
        # Positions (T) or, per row, (B, T); a heads axis is added to the latter.
        freqs = positions.float()[..., None] * inv_freq  # (..., T, rotary_dim / 2)
        freqs = freqs.unsqueeze(-3) if freqs.ndim == 3 else freqs
        cos, sin = freqs.cos() * self.attention_factor, freqs.sin() * self.attention_factor
        if self.interleaved:
            cos = torch.repeat_interleave(cos, 2, dim=-1)  # (..., rotary_dim): c0 c0 c1 c1 ...
            sin = torch.stack((-sin, sin), dim=-1).flatten(-2)  # -s0 s0 -s1 s1 ...
            return cos, sin
        return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)  # c0 c1 .. c0 c1 ..


class Rotaries(nn.Module):
    """The tables of each distinct rotary configuration, then None for layers without RoPE:
    a layer picks its entry by index (Gemma 3's local and global layers, SmolLM3's NoPE layers)."""

    def __init__(self, plans: tuple[RopePlan, ...]) -> None:
        super().__init__()
        self.tables = nn.ModuleList(Rotary(plan) for plan in plans)

    def forward(self, positions: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        return [rotary(positions) for rotary in self.tables] + [None]


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


def swap_halves(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (x2, x1) over the halves of the last dimension: each dimension's rotation
    partner in the half-split layout (HF, GPT-NeoX)."""
    return torch.roll(x, x.shape[-1] // 2, dims=-1)


def swap_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (x1, x0, x3, x2, ...): rotation partners in the interleaved
    layout (GPT-J, Meta)."""
    return x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, swap) -> torch.Tensor:
    """Rotate every dimension of x (B, H, T, head_dim); `sin` carries the sign."""
    return x * cos.to(x.dtype) + swap(x) * sin.to(x.dtype)


def apply_partial_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, swap
) -> torch.Tensor:
    """Rotate the first rotary_dim dimensions of x (B, H, T, head_dim); pass the rest (phi-2)."""
    rot = cos.shape[-1]
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    return torch.cat((apply_rotary(x_rot, cos, sin, swap), x_pass), dim=-1)
