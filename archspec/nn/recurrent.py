"""Griffin's recurrent block (De et al. 2024, section 2.4; RecurrentGemma): a GeLU(tanh) gate
branch and a causal depthwise Conv1D followed by the RG-LRU, multiplied and projected back.

The linear recurrence h_t = a_t * h_{t-1} + b_t runs over a whole sequence as a Hillis-Steele
scan: log2(T) tensor steps, no Python loop over positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archspec.nn.generate import GenerationError
from archspec.nn.linear import build_linear
from archspec.plan.types import RecurrentPlan


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """All h_t = a_t * h_{t-1} + b_t for a, b (B, T, W) from h_{-1} = h0 (B, W), in log2(T)
    steps of an inclusive scan of the pairs (a, b) (Hillis & Steele 1986): after the step of
    stride k each pair composes the 2k pairs ending at it."""
    b = torch.cat((b[:, :1] + a[:, :1] * h0[:, None], b[:, 1:]), dim=1)
    T, k = a.shape[1], 1
    while k < T:
        b = b + a * F.pad(b[:, :-k], (0, 0, k, 0))  # b_t += a_t * b_{t-k}
        a = a * F.pad(a[:, :-k], (0, 0, k, 0), value=1.0)  # a_t *= a_{t-k}
        k *= 2
    return b


def refuse_padding(mask: torch.Tensor, batch: int, keys: int) -> None:
    """A model with recurrent layers does not take left padding yet: padding tokens would enter
    the recurrent state (transformers resets it at each row's first token instead)."""
    raise GenerationError(
        "left padding (attention_mask) is not supported with recurrent layers yet: "
        "run prompts of different lengths one by one"
    )


class RGLRU(nn.Module):
    """Real-Gated Linear Recurrent Unit (Griffin, eq. 1-4): input and recurrence gates from
    block-diagonal weights, a_t = exp(-c * r_t * softplus(a_param)), inputs normalised by
    sqrt(1 - a_t^2) except at a sequence's first token (reset), state accumulated in float32."""

    def __init__(self, plan: RecurrentPlan) -> None:
        super().__init__()
        h, bw = plan.n_heads, plan.block_width
        self.n_heads, self.block_width, self.c = h, bw, plan.c
        self.input_gate_weight = nn.Parameter(torch.empty(h, bw, bw))
        self.input_gate_bias = nn.Parameter(torch.zeros(h, bw))
        self.recurrent_gate_weight = nn.Parameter(torch.empty(h, bw, bw))
        self.recurrent_gate_bias = nn.Parameter(torch.zeros(h, bw))
        self.a_param = nn.Parameter(torch.empty(plan.width))

    def gate(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, T, W = x.shape
        blocks = x.reshape(B * T, self.n_heads, self.block_width).transpose(0, 1)
        out = torch.baddbmm(bias[:, None], blocks, weight)  # (heads, B * T, block)
        return torch.sigmoid(out.transpose(0, 1).reshape(B, T, W))

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor, fresh: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs (B, T, W) and the last state (B, W, float32); ``fresh``: the first token
        starts a sequence (its input is not normalised and the state before it is dropped)."""
        i = self.gate(x, self.input_gate_weight, self.input_gate_bias)
        r = self.gate(x, self.recurrent_gate_weight, self.recurrent_gate_bias)
        log_a = -self.c * r * F.softplus(self.a_param)  # (B, T, W)
        a = torch.exp(log_a)
        multiplier = torch.sqrt(1 - torch.exp(2 * log_a))
        reset = torch.zeros_like(a[:1, :, :1], dtype=torch.bool)
        reset[:, 0] = fresh  # (1, T, 1): True at a sequence's first token
        multiplier = torch.where(reset, 1.0, multiplier)
        acc = torch.promote_types(x.dtype, torch.float32)  # the state is at least float32
        b = (x * i * multiplier.to(x.dtype)).to(acc)
        a = torch.where(reset, 0.0, a).to(acc)
        h = linear_scan(a, b, h0)
        return h.to(x.dtype), h[:, -1]


class CausalConv1d(nn.Module):
    """Depthwise Conv1D over inputs (B, width, conv_width - 1 + T) that already hold the past:
    a sum over the kernel's taps (a grouped convolution is ~50x slower on CPU at these sizes).
    `weight` (width, 1, conv_width) as nn.Conv1d keeps it."""

    def __init__(self, width: int, conv_width: int) -> None:
        super().__init__()
        self.conv_width = conv_width
        self.weight = nn.Parameter(torch.empty(width, 1, conv_width))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        T = u.shape[-1] - (self.conv_width - 1)
        w = self.weight[:, 0, :, None]  # (width, conv_width, 1)
        return sum(u[..., k : k + T] * w[:, k] for k in range(self.conv_width))  # (B, width, T)


class CausalConv1dBias(CausalConv1d):
    """CausalConv1d plus a bias per channel (RecurrentGemma's conv_1d)."""

    def __init__(self, width: int, conv_width: int) -> None:
        super().__init__(width, conv_width)
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return super().forward(u) + self.bias[:, None]


class RecurrentBlock(nn.Module):
    """y = GeLU_tanh(y_proj(x)); x = RG-LRU(Conv1D(x_proj(x))); out_proj(x * y)."""

    def __init__(self, plan: RecurrentPlan, layer_index: int) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.width, self.conv_width = plan.width, plan.conv_width
        self.x_proj = build_linear(plan.linear("x_proj"))
        self.y_proj = build_linear(plan.linear("y_proj"))
        conv = CausalConv1dBias if plan.bias else CausalConv1d
        self.conv = conv(plan.width, plan.conv_width)
        self.lru = RGLRU(plan)
        self.out_proj = build_linear(plan.linear("out_proj"))

    def forward(
        self, x: torch.Tensor, tables: object, mask: object, cache: object, start: int
    ) -> torch.Tensor:
        B, T, _ = x.shape
        y = F.gelu(self.y_proj(x), approximate="tanh")
        u = self.x_proj(x).transpose(1, 2)  # (B, width, T)
        if cache is None:
            past = u.new_zeros(B, self.width, self.conv_width - 1)
            h0 = u.new_zeros(B, self.width, dtype=torch.promote_types(u.dtype, torch.float32))
        else:
            past, h0 = cache.recurrent_state(self.layer_index, start)
        u = torch.cat((past, u), dim=-1)  # (B, width, conv_width - 1 + T)
        conv = self.conv(u)  # (B, width, T)
        out, h = self.lru(conv.transpose(1, 2), h0, cache is None or start == 0)
        if cache is not None:
            cache.store_recurrent(self.layer_index, u[..., u.shape[-1] - past.shape[-1] :], h)
        return self.out_proj(out * y)
