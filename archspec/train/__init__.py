"""Training (torch): optimizer parameter groups for adapters (LoRA+ included), and training on
torch.distributed: `python -m archspec.train` under torchrun (see `__main__`)."""

from __future__ import annotations

__all__ = ["param_groups"]


def __getattr__(name: str) -> object:
    """`param_groups` needs torch: import it on first use."""
    if name == "param_groups":
        from archspec.train.optim import param_groups

        return param_groups
    raise AttributeError(f"module 'archspec.train' has no attribute {name!r}")
