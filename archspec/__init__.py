"""archspec: describe a decoder-only transformer in YAML; count, diff and compile it.

Torch-free names are imported eagerly; names that need torch (`build_model`) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError, SpecError, UsageError
from archspec.spec.load import load_spec, spec_from_text
from archspec.spec.model import ModelSpec

if TYPE_CHECKING:
    from archspec.analysis.params import ParamCount

__all__ = [
    "ArchspecError",
    "ModelSpec",
    "ParamCount",
    "SpecError",
    "UsageError",
    "build_model",
    "count_params",
    "emit_code",
    "load_spec",
    "lower",
    "spec_from_text",
]

_LAZY = {
    "count_params": "archspec.analysis.params",
    "ParamCount": "archspec.analysis.params",
    "lower": "archspec.plan.lower",
    "emit_code": "archspec.codegen.emit",
    "build_model": "archspec.nn.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")
