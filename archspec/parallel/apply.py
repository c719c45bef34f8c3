"""`parallelize`: FSDP2 and tensor parallelism on a runtime model, with torch.distributed's engine.

The layout comes from `archspec.parallel.layout` (the same data each generated file carries);
this module only maps its style names onto `torch.distributed.tensor.parallel` styles.
"""

from __future__ import annotations

import inspect

from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import Replicate, Shard
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    ParallelStyle,
    PrepareModuleInput,
    PrepareModuleInputOutput,
    RowwiseParallel,
    SequenceParallel,
    parallelize_module,
)

from archspec.errors import ArchspecError
from archspec.parallel.layout import parallel_layout, tp_problems

HEAD_AXIS = 2
"""The runtime attention applies a per-head QK-norm to (B, T, heads, head_dim)."""


def parallelize(
    model: nn.Module,
    mesh: DeviceMesh,
    *,
    tp: str = "tp",
    dp: str = "dp",
    loss_parallel: bool = False,
    mixed_precision: MixedPrecisionPolicy | None = None,
    activation_checkpointing: bool = False,
) -> nn.Module:
    """Split a runtime model (`build_model`) across ``mesh``, in place.

    Args:
        model: The model; its ``plan`` decides the layout.
        mesh: A device mesh whose dimension names include ``tp``, ``dp`` or both (2-D: dp x tp).
        tp: Name of the tensor-parallel mesh dimension (absent: no tensor parallelism).
        dp: Name of the data-parallel mesh dimension, sharded by FSDP2 (absent: no FSDP).
        loss_parallel: Keep the logits split along the vocabulary (a DTensor) for a loss computed
            under `torch.distributed.tensor.parallel.loss_parallel()`.
        mixed_precision: FSDP2's policy (parameter and reduction dtypes).
        activation_checkpointing: Recompute each block's activations in the backward pass.

    Returns:
        The same model.

    Raises:
        ArchspecError: when the model's sizes do not divide the tensor-parallel degree.
    """
    layout = parallel_layout(model.plan)
    names = mesh.mesh_dim_names or ()
    if tp in names and mesh[tp].size() > 1:
        problems = tp_problems(model.plan, mesh[tp].size())
        if problems:
            raise ArchspecError("; ".join(message for _, message in problems))
        styles = {
            path: _style(style, model.get_submodule(path), loss_parallel)
            for path, style in layout.styles
        }
        parallelize_module(model, mesh[tp], styles)
        if layout.tied:
            model.lm_head.weight = model.embed.weight  # both split by vocabulary rows
    if activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        for i, block in enumerate(model.layers):
            model.layers[i] = checkpoint_wrapper(block)
    if dp in names:
        policy = mixed_precision or MixedPrecisionPolicy()
        for block in model.layers:
            fully_shard(block, mesh=mesh[dp], mp_policy=policy)
        fully_shard(model, mesh=mesh[dp], mp_policy=policy)
    return model


def _style(name: str, module: nn.Module, loss_parallel: bool) -> ParallelStyle:
    """The torch style for a layout style name (see `archspec.parallel.layout.STYLES`)."""
    if name == "vocab_embed":
        return RowwiseParallel(input_layouts=Replicate(), output_layouts=Shard(1))
    if name == "norm":
        return SequenceParallel(use_local_output=True)
    if name == "head_norm":
        return SequenceParallel(sequence_dim=HEAD_AXIS, use_local_output=True)
    if name == "colwise":
        return ColwiseParallel()
    if name == "rowwise":
        return RowwiseParallel(output_layouts=Shard(1))
    if name == "vocab_head":
        return ColwiseParallel(
            input_layouts=Shard(1),
            output_layouts=Shard(-1) if loss_parallel else Replicate(),
            use_local_output=not loss_parallel,
        )
    # The module's first input is the sequence-split residual stream; the rest pass through.
    rest = (None,) * (len(inspect.signature(module.forward).parameters) - 1)
    if name == "gather":
        return PrepareModuleInput(
            input_layouts=(Shard(1), *rest),
            desired_input_layouts=(Replicate(), *rest),
            use_local_output=True,
        )
    if name == "replicated":
        return PrepareModuleInputOutput(
            input_layouts=(Shard(1), *rest),
            desired_input_layouts=(Replicate(), *rest),
            use_local_input=True,
            output_layouts=(Replicate(),),
            desired_output_layouts=(Shard(1),),
            use_local_output=True,
        )
    raise ValueError(f"unknown parallel style {name!r}")
