"""Scale-out on torch.distributed: the parallel layout (torch-free) and `parallelize` (torch).

`parallelize` is imported lazily, so `archspec.parallel.layout` stays importable without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["parallelize"]


def __getattr__(name: str) -> Any:
    if name == "parallelize":
        from archspec.parallel.apply import parallelize

        return parallelize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
