"""The elementwise activations of the feed-forward networks, dense and expert alike."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def relu2(x: torch.Tensor) -> torch.Tensor:
    """Squared ReLU (So et al. 2021, Primer; transformers' `relu2`)."""
    return torch.square(F.relu(x))


ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_tanh": functools.partial(F.gelu, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "relu2": relu2,
}
