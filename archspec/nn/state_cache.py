"""The cache of a model with recurrent layers: what each layer needs to continue a sequence.

- a recurrent layer: the Conv1D's last `conv_width - 1` inputs and the RG-LRU state, a constant
  size whatever the context;
- a local-attention layer: keys and values of the last `window - 1` positions only (all a new
  token can see), so its memory is bounded by the window, not the context;
- a global-attention layer: keys and values of every position, as `KVCache`.

A recurrent state cannot be rewound: every call continues where the cache ends.
"""

from __future__ import annotations

import torch

from archspec.plan.types import AttentionPlan, ModelPlan


class StateCache:
    """Per-layer state for cached decoding of a model with recurrent layers."""

    def __init__(
        self,
        plan: ModelPlan,
        batch_size: int,
        max_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.max_len = max_len
        self.length = 0
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}
        self.slots: dict[int, int | None] = {}
        self.conv: dict[int, torch.Tensor] = {}
        self.state: dict[int, torch.Tensor] = {}
        for layer in plan.layers:
            m, i = layer.mixer, layer.index
            if isinstance(m, AttentionPlan):
                window = plan.windows[layer.mask]
                slots = max_len if window is None else min(window - 1, max_len)
                self.slots[i] = None if window is None else slots
                shape = (batch_size, m.n_kv_heads, slots, m.head_dim)
                self.keys[i] = torch.zeros(shape, device=device, dtype=dtype)
                self.values[i] = torch.zeros_like(self.keys[i])
            else:
                conv = (batch_size, m.width, m.conv_width - 1)
                self.conv[i] = torch.zeros(conv, device=device, dtype=dtype)
                acc = torch.promote_types(self.conv[i].dtype, torch.float32)
                self.state[i] = torch.zeros(batch_size, m.width, device=device, dtype=acc)

    def _check(self, start: int, T: int) -> None:
        if start != self.length:
            raise ValueError(
                f"a recurrent model's cache continues at position {self.length}; it cannot "
                f"start at {start} (recurrent states cannot be rewound)"
            )
        if start + T > self.max_len:
            raise ValueError(f"cache holds {self.max_len} positions; this step needs {start + T}")

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor, start: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, KV, T, hd); return the keys and values this step's queries may see:
        every position (global layer), or the last `window - 1` before them plus theirs."""
        T = k.shape[2]
        self._check(start, T)
        slots = self.slots[layer]
        if slots is None:
            self.keys[layer][:, :, start : start + T] = k
            self.values[layer][:, :, start : start + T] = v
            return self.keys[layer][:, :, : start + T], self.values[layer][:, :, : start + T]
        n = min(start, slots)  # cached positions start - n .. start - 1
        keys = torch.cat((self.keys[layer][:, :, slots - n :], k), dim=2)
        values = torch.cat((self.values[layer][:, :, slots - n :], v), dim=2)
        keep = min(slots, n + T)
        if keep:
            self.keys[layer][:, :, slots - keep :] = keys[:, :, n + T - keep :]
            self.values[layer][:, :, slots - keep :] = values[:, :, n + T - keep :]
        return keys, values

    def recurrent_state(self, layer: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The Conv1D's last inputs (B, width, conv_width - 1) and the RG-LRU state (B, width)."""
        self._check(start, 0)
        return self.conv[layer], self.state[layer]

    def store_recurrent(self, layer: int, conv: torch.Tensor, state: torch.Tensor) -> None:
        self.conv[layer] = conv
        self.state[layer] = state

    @property
    def n_bytes(self) -> int:
        """Memory the cache holds (constant in the context for recurrent and local layers)."""
        tensors = [*self.keys.values(), *self.values.values(), *self.conv.values()]
        tensors += self.state.values()
        return sum(t.numel() * t.element_size() for t in tensors)
