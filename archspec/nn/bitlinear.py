"""BitLinear b1.58 (Ma et al. 2024): ternary weights times their absmean, 8-bit activations.

The forward pass computes what transformers' `AutoBitLinear` computes in its online mode
(integrations/bitnet.py, `WeightQuant` and `ActQuant`): the weight is scaled by the inverse of
its mean absolute value, rounded and clamped to {-1, 0, +1}, then scaled back; each token's
activations are scaled so that their largest magnitude is 127, rounded, clamped to [-128, 127]
and scaled back. Both quantisers are computed in float32. Gradients pass straight through
(Bengio et al. 2013): `x + (q(x) - x).detach()` is q(x) forward and the identity backward, so
the latent full-precision weight trains (quantisation-aware training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5
"""Floor of the absmean and absmax scales (transformers' `clamp_(min=1e-5)`)."""


def quantize_weight(weight: torch.Tensor) -> torch.Tensor:
    """{-1, 0, +1} * absmean: `round(W / mean|W|)` clamped to [-1, 1], times `mean|W|`."""
    w = weight.float()
    scale = 1.0 / w.abs().mean().clamp(min=EPS)
    return ((w * scale).round().clamp(-1, 1) / scale).to(weight.dtype)


def quantize_activation(x: torch.Tensor) -> torch.Tensor:
    """Per-token absmax to the int8 range: `round(x * 127 / max|x|)` clamped to [-128, 127]."""
    h = x.float()
    scale = 127.0 / h.abs().amax(dim=-1, keepdim=True).clamp(min=EPS)
    return ((h * scale).round().clamp(-128, 127) / scale).to(x.dtype)


def straight_through(x: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
    """`quantized` in the forward pass, the identity in the backward pass."""
    return x + (quantized - x).detach()


class BitLinear(nn.Linear):
    """A linear layer whose latent weight is ternarised and whose input is 8-bit on each call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Quantised from detached tensors: no autograd graph is built for the rounding.
        w = straight_through(self.weight, quantize_weight(self.weight.detach()))
        x = straight_through(x, quantize_activation(x.detach()))
        return F.linear(x, w, self.bias)
