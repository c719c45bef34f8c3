"""Sharded checkpoints with torch.distributed.checkpoint, and their consolidation into one
safetensors file whose names are archspec's module paths (what `build_model` loads)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict


def save(model: nn.Module, opt: torch.optim.Optimizer, folder: Path) -> None:
    """Every rank writes its shards of the model and the optimizer into ``folder``."""
    import torch.distributed.checkpoint as dcp

    state = {
        "model": get_model_state_dict(model),
        "optim": get_optimizer_state_dict(model, opt),
    }
    dcp.save(state, checkpoint_id=str(folder))


def consolidate(folder: Path | str, output: Path | str) -> dict[str, torch.Tensor]:
    """Gather a sharded checkpoint's model weights in this process (no process group needed)
    and write them to ``output`` as safetensors; returns the weights."""
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.pt"
        dcp_to_torch_save(str(folder), str(whole))
        state = torch.load(whole, weights_only=True)["model"]
    weights = {name: t.contiguous() for name, t in state.items()}
    # A tied head is the embedding: keep one copy (load with strict=False, or re-tie).
    if "lm_head.weight" in weights and torch.equal(
        weights["lm_head.weight"], weights["embed.weight"]
    ):
        del weights["lm_head.weight"]
    save_file(weights, str(output))
    return weights
