"""Hugging Face interop: `config.json` <-> spec (torch-free, in :mod:`archspec.hf.config`), and
safetensors checkpoints into archspec modules (:mod:`archspec.hf.loader`, torch, loaded lazily).

HF names (`hidden_size`, `num_key_value_heads`, ...) appear only in this package's mapping tables.
Importing this module imports nothing heavy: no torch, no transformers.
"""

from __future__ import annotations

from archspec.hf.config import (
    SUPPORTED_MODEL_TYPES,
    HFConfigError,
    IgnoredKey,
    ImportReport,
    hf_config_to_spec,
    load_hf_config,
    spec_meaning,
    spec_to_hf_config,
)

__all__ = [
    "load_pretrained",
    "load_state_dict_into",
    "save_adapter",
    "SUPPORTED_MODEL_TYPES",
    "HFConfigError",
    "IgnoredKey",
    "ImportReport",
    "hf_config_to_spec",
    "load_hf_config",
    "spec_meaning",
    "spec_to_hf_config",
]


def __getattr__(name: str) -> object:
    """`load_pretrained` and `load_state_dict_into` need torch: import the loader on first use."""
    if name in ("load_pretrained", "load_state_dict_into"):
        from archspec.hf import loader

        return getattr(loader, name)
    if name == "save_adapter":
        from archspec.hf import adapters

        return adapters.save_adapter
    raise AttributeError(f"module 'archspec.hf' has no attribute {name!r}")
