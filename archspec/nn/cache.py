"""A preallocated key/value cache: decoding writes in place instead of concatenating."""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of every layer for up to `max_len` positions.

    `length` is how many positions are filled; the model advances it after each forward, and a
    forward may start at any `start <= length` (rewinding overwrites).
    """

    def __init__(
        self,
        shapes: list[tuple[int, int]],
        batch_size: int,
        max_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.max_len = max_len
        self.length = 0
        self.keys = [
            torch.zeros(batch_size, kv, max_len, hd, device=device, dtype=dtype)
            for kv, hd in shapes
        ]
        self.values = [torch.zeros_like(k) for k in self.keys]

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, start: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, KV, T, hd) at positions start..start+T; return all keys and values so far."""
        end = start + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions; this step needs {end}")
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
