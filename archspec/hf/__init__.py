"""Hugging Face interop: `config.json` <-> spec (torch-free, in :mod:`archspec.hf.config`).

HF names (`hidden_size`, `num_key_value_heads`, ...) appear only in this package's mapping tables.
This module imports nothing heavy: no torch, no transformers.
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
    "SUPPORTED_MODEL_TYPES",
    "HFConfigError",
    "IgnoredKey",
    "ImportReport",
    "hf_config_to_spec",
    "load_hf_config",
    "spec_meaning",
    "spec_to_hf_config",
]
