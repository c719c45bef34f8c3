"""The elementwise activations of the feed-forward networks, dense and expert alike."""

from __future__ import annotations

import functools

import torch.nn.functional as F

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_tanh": functools.partial(F.gelu, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
}
