"""Grouped linear: rows sorted by group, each group multiplied by its own weight (the experts of
a mixture of experts), as a custom operator with a hand-written backward.

Why an operator: which rows go to which expert depends on the data, so a Python loop over
experts cannot be traced by torch.compile without a graph break. Registered with a shape-only
fake implementation, the loop is opaque to the compiler, and a compiled model keeps the sparse
FLOPs (one matmul per expert with tokens) instead of running every expert on every token.

Why a hand-written backward: autograd through `weight[e]` builds a zero tensor the size of the
whole stacked weight for every expert and adds them up; here each expert's gradient is written
once into its slice of one (groups, out, in) tensor.
"""

from __future__ import annotations

import torch


@torch.library.custom_op("archspec::grouped_linear", mutates_args=())
def grouped_linear(x: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Rows of group g, ``x[ends[g-1]:ends[g]]``, times ``weight[g].T``.

    Args:
        x: (M, in), rows sorted by group.
        weight: (G, out, in), one matrix per group.
        ends: (G,) int64, where each group's rows end (cumulative counts, ``ends[-1] == M``).

    Returns:
        (M, out).
    """
    out = x.new_empty(x.shape[0], weight.shape[1])
    start = 0
    for g, end in enumerate(ends.tolist()):
        if end > start:
            torch.mm(x[start:end], weight[g].T, out=out[start:end])
        start = end
    out[start:].zero_()  # rows past the last group (none when ends[-1] == M)
    return out


@grouped_linear.register_fake
def _grouped_linear_fake(x: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    return x.new_empty(x.shape[0], weight.shape[1])


@torch.library.custom_op("archspec::grouped_linear_weight_grad", mutates_args=())
def grouped_linear_weight_grad(
    grad_out: torch.Tensor, x: torch.Tensor, ends: torch.Tensor
) -> torch.Tensor:
    """(G, out, in): group g's ``grad_out`` rows, transposed, times its ``x`` rows; zero for a
    group without rows."""
    grad = grad_out.new_empty(ends.shape[0], grad_out.shape[1], x.shape[1])
    start = 0
    for g, end in enumerate(ends.tolist()):
        if end > start:
            torch.mm(grad_out[start:end].T, x[start:end], out=grad[g])
        else:
            grad[g].zero_()
        start = end
    return grad


@grouped_linear_weight_grad.register_fake
def _weight_grad_fake(grad_out: torch.Tensor, x: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    return grad_out.new_empty(ends.shape[0], grad_out.shape[1], x.shape[1])


def _setup_context(ctx, inputs, output) -> None:
    x, weight, ends = inputs
    ctx.save_for_backward(x, weight, ends)


def _backward(ctx, grad: torch.Tensor):
    x, weight, ends = ctx.saved_tensors
    transposed = weight.transpose(1, 2)  # (G, in, out): grad_x = grad @ W per group
    grad_x = grouped_linear(grad, transposed, ends) if ctx.needs_input_grad[0] else None
    grad_w = grouped_linear_weight_grad(grad, x, ends) if ctx.needs_input_grad[1] else None
    return grad_x, grad_w, None


grouped_linear.register_autograd(_backward, setup_context=_setup_context)


def autocast_grouped_linear(
    x: torch.Tensor, weight: torch.Tensor, ends: torch.Tensor
) -> torch.Tensor:
    """`grouped_linear` in autocast's dtype while autocast is on, as `F.linear` would run."""
    device = x.device.type
    if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        return grouped_linear(x.to(dtype), weight.to(dtype), ends)
    return grouped_linear(x, weight, ends)
