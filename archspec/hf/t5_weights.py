"""T5 checkpoints <-> archspec encoder-decoder modules: the renaming of :mod:`.families.t5`."""

from __future__ import annotations

import torch

from archspec.hf.families import t5
from archspec.spec.model import ModelSpec


def from_hf(spec: ModelSpec, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An archspec state dict from a T5 one. Tied tensors missing from the checkpoint (the
    stacks' `embed_tokens`, a tied `lm_head`) are taken from `shared`."""
    out = {}
    for ours, hf in t5.spec_names(spec).items():
        if hf in state:
            out[ours] = state[hf]
        elif ours in ("encoder.embed.weight", "lm_head.weight"):
            out[ours] = state["shared.weight"]
        else:
            raise KeyError(f"T5 checkpoint has no {hf} (for {ours})")
    return out


def to_hf(spec: ModelSpec, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A T5 state dict (v1.0 or v1.1 layout by the FFN) from an archspec one."""
    out = {hf: state[ours] for ours, hf in t5.spec_names(spec).items() if ours in state}
    out.setdefault("decoder.embed_tokens.weight", state["embed.weight"])
    return out
