"""Ternary weights packed four to a byte, in the layout transformers' `bitnet` integration reads.

`pack_weights` / `unpack_weights` of transformers/integrations/bitnet.py: the values {-1, 0, +1}
are stored as {0, 1, 2} in two bits; a tensor of R rows packs into ceil(R / 4) rows of uint8,
byte row r holding rows r, r + R', r + 2R', r + 3R' (R' = ceil(R / 4)) in bits 0-1, 2-3, 4-5 and
6-7. Missing rows (R not a multiple of 4) are stored as zero bits, as transformers pads them.

How BitNet checkpoints scale the ternary values (`weight_scale`), and how they become the latent
weights archspec's BitLinear re-quantises, is :func:`latent_weight` / :func:`ternarize`.
"""

from __future__ import annotations

import torch

VALUES_PER_BYTE = 4


def packed_rows(rows: int) -> int:
    """Rows of uint8 that hold ``rows`` ternary rows."""
    return -(-rows // VALUES_PER_BYTE)


def pack(ternary: torch.Tensor) -> torch.Tensor:
    """Values in {-1, 0, +1} (any dtype; packed along the first dimension) -> uint8."""
    rows = ternary.shape[0]
    block = packed_rows(rows)
    stored = torch.zeros((VALUES_PER_BYTE * block, *ternary.shape[1:]), dtype=torch.uint8)
    stored[:rows] = (ternary.to(torch.int16) + 1).to(torch.uint8)
    packed = torch.zeros((block, *ternary.shape[1:]), dtype=torch.uint8)
    for i in range(VALUES_PER_BYTE):
        packed |= stored[i * block : (i + 1) * block] << (2 * i)
    return packed


def unpack(packed: torch.Tensor, rows: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The first ``rows`` ternary rows a uint8 tensor holds, as ``dtype``."""
    parts = [(packed >> (2 * i)) & 3 for i in range(VALUES_PER_BYTE)]
    return (torch.cat(parts, dim=0)[:rows].to(torch.int16) - 1).to(dtype)


def ternarize(weight: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_q, absmean): W_q = round(W / mean|W|) clamped to [-1, 1], as BitLinear quantises W in
    float32 (the absmean floored at ``eps``)."""
    w = weight.float()
    absmean = w.abs().mean().clamp(min=eps)
    return (w / absmean).round().clamp(-1, 1), absmean


def latent_weight(ternary: torch.Tensor, absmean: torch.Tensor) -> torch.Tensor:
    """A latent weight whose BitLinear quantisation is exactly ``ternary * absmean``.

    Scaling the ternary values by absmean / mean|W_q| gives a tensor whose own absmean is
    ``absmean``, and dividing by it gives back W_q / mean|W_q|, which rounds and clamps to W_q
    (|1 / mean|W_q|| >= 1). An all-zero W_q stays zero.
    """
    t = ternary.float()
    fraction = t.abs().mean()
    if fraction == 0:
        return torch.zeros_like(t)
    return t * (absmean.float().reshape(()) / fraction)
