"""Helpers for the runtime-module tests: weights that exercise every code path, token batches,
the component each parameter belongs to, and hypothesis budgets sized for a 2-core machine."""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import settings
from torch import nn

from archspec.spec.model import ModelSpec


def budget(n: int, **changes: Any) -> settings:
    """Hypothesis settings with ``n`` examples under the everyday profiles (`dev`, `ci`); a bigger
    profile (`HYPOTHESIS_PROFILE=thorough`) keeps its own count. ``changes``: other settings."""
    profile = settings().max_examples
    return settings(max_examples=n if profile <= 30 else profile, deadline=None, **changes)


@torch.no_grad()
def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every parameter with values that make each code path matter.

    The default init (N(0, 0.02) matrices, zero biases, unit norms, zero Gemma offsets) keeps a
    tiny network almost linear and hides bias, norm-scale and offset mistakes. Here matrices are
    N(0, 1/fan_in) (unit-scale activations and logits), biases U(-0.5, 0.5) and norm scales
    U(0.5, 1.5).
    """
    gen = torch.Generator().manual_seed(seed)
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            value = torch.rand(param.shape, generator=gen) - 0.5
        elif param.ndim >= 2:
            value = torch.randn(param.shape, generator=gen) / math.sqrt(param.shape[-1])
        else:
            value = 0.5 + torch.rand(param.shape, generator=gen)
        param.copy_(value)
    return model


def tokens(spec: ModelSpec, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """A (batch, length) LongTensor of ids below ``spec.vocab_size``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, spec.vocab_size, (batch, length), generator=gen)


def seq_len(spec: ModelSpec, wanted: int = 12) -> int:
    """A sequence length the model accepts (learned positions stop at ``max_seq_len``)."""
    return min(wanted, spec.max_seq_len)


def component_of(name: str) -> str:
    """The `count_params` breakdown component a parameter (state-dict name) belongs to."""
    parts = name.split(".")
    if parts[0] == "embed":
        return "embedding"
    if parts[0] == "pos_embed":
        return "position"
    if parts[0] == "lm_head":
        return "head"
    if any("norm" in part for part in parts):  # attn_norm, ffn_post_norm, attn.q_norm, final_norm
        return "norm"
    if parts[0] == "layers" and parts[2] == "attn":
        return "attention"
    if parts[0] == "layers" and parts[2] == "ffn":
        return "ffn"
    raise AssertionError(f"parameter {name} belongs to no known component")


def per_component(model: nn.Module) -> dict[str, int]:
    """Parameter counts of a built module by component (a tied weight once, under `embedding`)."""
    out = dict.fromkeys(("embedding", "position", "attention", "ffn", "norm", "head"), 0)
    for name, param in model.named_parameters():
        out[component_of(name)] += param.numel()
    return out


def per_layer(model: nn.Module, n_layers: int) -> list[dict[str, int]]:
    """Parameter counts of each block by component (attention, ffn, norm)."""
    out = [{"attention": 0, "ffn": 0, "norm": 0} for _ in range(n_layers)]
    for name, param in model.named_parameters():
        if name.startswith("layers."):
            out[int(name.split(".")[1])][component_of(name)] += param.numel()
    return out


def logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """``model(ids)``; an encoder-decoder (runtime or generated: it has `encode`) reads the same
    tokens as its input and as its decoder input."""
    return model(ids, ids) if hasattr(model, "encode") else model(ids)


def cached_decoding(model: nn.Module, ids: torch.Tensor, first: int) -> torch.Tensor:
    """Logits of ``ids`` computed with a KV cache: ``first`` tokens in one call, then one at a
    time (an encoder-decoder encodes ``ids`` once and decodes them)."""
    B, T = ids.shape
    cache = model.new_cache(B, T)
    if hasattr(model, "encode"):
        memory = model.memory(model.encode(ids))
        steps = [model.decode(ids[:, :first], memory, cache=cache)]
        steps += [model.decode(ids[:, t : t + 1], memory, cache=cache) for t in range(first, T)]
    else:
        steps = [model(ids[:, :first], cache=cache)]
        steps += [model(ids[:, t : t + 1], cache=cache) for t in range(first, T)]
    return torch.cat(steps, dim=1)
