"""Low-rank adapters on linear layers: LoRA (Hu et al. 2021), rsLoRA and DoRA (Liu et al. 2024).

Parameter names follow peft's saved adapters, so `q_proj.lora_A.weight`, `q_proj.lora_B.weight`
and `q_proj.lora_magnitude_vector` map one to one onto an `adapter_model.safetensors`; the base
projection keeps `weight` and `bias`, so base checkpoints load unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from archspec.plan.types import AdapterPlan


class LoRALinear(nn.Linear):
    """y = W x + b + scaling * B(A(dropout(x))), with W and b frozen and B zero at init."""

    def __init__(self, in_features: int, out_features: int, bias: bool, plan: AdapterPlan) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.scaling = plan.scaling
        self.lora_dropout = nn.Dropout(plan.dropout) if plan.dropout > 0 else nn.Identity()
        self.lora_A = nn.Linear(in_features, plan.r, bias=False)
        self.lora_B = nn.Linear(plan.r, out_features, bias=False)
        self.reset_adapter()

    @torch.no_grad()
    def reset_adapter(self) -> None:
        """A as nn.Linear initialises its weight, B zero (peft's default): the adapter adds nothing."""
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def delta_weight(self) -> torch.Tensor:
        """scaling * B @ A, shaped like `weight`."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = F.linear(x, self.weight, self.bias)
        return result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        """The dense weight that gives this layer's outputs without the adapter."""
        return self.weight + self.delta_weight()


class DoRALinear(LoRALinear):
    """DoRA: the weight split into magnitude m and direction (W + s B A) / ||W + s B A|| per row.

    y = m / ||W + s B A|| * (W x + s B A x) + b, the norm detached from the graph as the DoRA
    paper (section 4.3) and peft do, so it takes no gradient.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool, plan: AdapterPlan) -> None:
        super().__init__(in_features, out_features, bias, plan)
        self.lora_magnitude_vector = nn.Parameter(torch.empty(out_features))
        self.reset_adapter()

    @torch.no_grad()
    def reset_adapter(self) -> None:
        """B zero and m the row norms of W: the layer starts equal to the dense one."""
        super().reset_adapter()
        if hasattr(self, "lora_magnitude_vector"):
            self.lora_magnitude_vector.copy_(self.weight_norm())

    def weight_norm(self) -> torch.Tensor:
        """||W + s B A|| per output row, detached."""
        lora_weight = self.lora_B.weight @ self.lora_A.weight
        return torch.linalg.norm(self.weight + self.scaling * lora_weight.detach(), dim=1).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = F.linear(x, self.weight, self.bias)
        scale = (self.lora_magnitude_vector / self.weight_norm()).view(1, -1)
        if isinstance(self.lora_dropout, nn.Identity) or not self.training:
            base = result if self.bias is None else result - self.bias  # W x, reused
        else:
            # peft: with active dropout the base path is recomputed on the dropped input.
            x = self.lora_dropout(x)
            base = F.linear(x, self.weight)
        lora = self.lora_B(self.lora_A(x))
        return result + ((scale - 1) * base + scale * lora * self.scaling)

    def merged_weight(self) -> torch.Tensor:
        weight = self.weight + self.delta_weight()
        return (self.lora_magnitude_vector / self.weight_norm()).view(-1, 1) * weight


def adapted_linears(model: nn.Module) -> list[tuple[str, LoRALinear]]:
    """Every adapted projection of ``model`` with its qualified name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LoRALinear)]


def adapter_parameters(layer: LoRALinear) -> list[nn.Parameter]:
    """The tensors of one adapter: A, B and, for DoRA, the magnitude."""
    params = [layer.lora_A.weight, layer.lora_B.weight]
    magnitude = getattr(layer, "lora_magnitude_vector", None)
    return params if magnitude is None else [*params, magnitude]


def freeze_base(model: nn.Module) -> None:
    """Only adapter tensors train; with no adapter in ``model`` nothing changes."""
    layers = adapted_linears(model)
    if not layers:
        return
    model.requires_grad_(False)
    for _, layer in layers:
        for param in adapter_parameters(layer):
            param.requires_grad_(True)


def init_adapters(model: nn.Module) -> None:
    """Fresh adapters over the current base weights: B zero, DoRA magnitudes the row norms of W."""
    for _, layer in adapted_linears(model):
        layer.reset_adapter()


@torch.no_grad()
def merge_adapters(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and put a plain nn.Linear in its place."""
    for name, layer in adapted_linears(model):
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        merged = nn.Linear(
            layer.in_features,
            layer.out_features,
            bias=layer.bias is not None,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
        )
        merged.weight.copy_(layer.merged_weight())
        if layer.bias is not None:
            merged.bias.copy_(layer.bias)
        setattr(parent, attr, merged)
    model.requires_grad_(True)
    return model
