"""Optimizer parameter groups for adapter training, LoRA+ (Hayou et al. 2024) included.

LoRA+ trains B with a larger learning rate than A: `lr * loraplus_ratio` for every B matrix and
every 1-D trainable tensor (DoRA magnitudes included), `lr` for the rest. The groups are the ones
peft's `create_loraplus_optimizer` builds, in its order, so an optimizer made from them steps the
same way.
"""

from __future__ import annotations

from typing import Any

from torch import nn


def _no_decay(model: nn.Module) -> set[str]:
    """Parameters weight decay skips, as transformers decides: biases and LayerNorm parameters."""
    out = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            if isinstance(module, nn.LayerNorm) or "bias" in full:
                out.add(full)
    return out


_ADAPTER_ORDER = {"lora_A": 0, "lora_B": 1, "lora_magnitude_vector": 2}


def _in_peft_order(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Named parameters with each layer's adapter tensors in peft's order (A, B, magnitude):
    a DoRA layer registers its magnitude before its A and B submodules."""
    named = list(model.named_parameters())
    first: dict[str, int] = {}

    def key(item: tuple[int, tuple[str, nn.Parameter]]) -> tuple[int, int, int]:
        index, (name, _) = item
        owner, _, tail = name.partition(".lora_")
        if not tail:
            return (index, 0, index)
        start = first.setdefault(owner, index)
        return (start, 1 + _ADAPTER_ORDER["lora_" + tail.split(".")[0]], index)

    return [item for _, item in sorted(enumerate(named), key=key)]


def param_groups(
    model: nn.Module,
    *,
    lr: float,
    loraplus_ratio: float = 16.0,
    weight_decay: float = 0.0,
    lr_embedding: float = 1e-6,
) -> list[dict[str, Any]]:
    """The four parameter groups of LoRA+, for any `torch.optim` optimizer.

    Args:
        model: A model whose trainable tensors are its adapters (frozen base weights are skipped).
        lr: Learning rate of the A matrices (ηA).
        loraplus_ratio: ηB / ηA (LoRA+ suggests 16 for LLMs; at least 1).
        weight_decay: Weight decay of every group but the no-decay one.
        lr_embedding: Learning rate of embedding adapters (archspec has none: the group is empty).

    Returns:
        `[A, embedding, B, B without decay]`, each `{"params", "weight_decay", "lr"}`, as peft's
        `create_loraplus_optimizer` orders them.
    """
    if loraplus_ratio < 1:
        raise ValueError(f"loraplus_ratio ({loraplus_ratio}) must be at least 1")
    no_decay = _no_decay(model)
    group_a, group_b, group_b_no_decay = [], [], []
    for name, param in _in_peft_order(model):
        if not param.requires_grad:
            continue
        if "lora_B" in name or param.ndim == 1:
            (group_b_no_decay if name in no_decay else group_b).append(param)
        else:
            group_a.append(param)
    return [
        {"params": group_a, "weight_decay": weight_decay, "lr": lr},
        {"params": [], "weight_decay": weight_decay, "lr": lr_embedding},
        {"params": group_b, "weight_decay": weight_decay, "lr": lr * loraplus_ratio},
        {"params": group_b_no_decay, "weight_decay": 0.0, "lr": lr * loraplus_ratio},
    ]
