"""Workers for the distributed tests: tiny models trained a few AdamW steps on gloo ranks (CPU).

The test process trains the same model on the whole batch in one process and compares losses and
final parameters with what rank 0 saved here.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from archspec.codegen.emit import emit_code
from archspec.nn.model import build_model
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec
from archspec.spec.shrink import shrink

FAMILIES = {
    "llama": ("llama3-8b", 64),
    "gemma": ("gemma-7b", 32),  # tied; 4 heads of 16 != 32 / 4
    "gemma2": ("gemma2-9b", 64),  # soft-capping, alternating windows of 8 < T
    "mixtral": ("mixtral-8x7b", 64),
    "qwen2": ("qwen2-7b", 64),  # q/k/v biases
}
BATCH, SEQ, STEPS, LR = 4, 16, 3, 1e-3


def tiny(family: str) -> ModelSpec:
    name, width = FAMILIES[family]
    return shrink(load_spec(name), d_model=width, n_layers=2, vocab_size=128)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.randint(0, 128, (BATCH, SEQ + 1), generator=torch.Generator().manual_seed(0))
    return tokens[:, :-1], tokens[:, 1:]


def make_model(family: str, backend: str) -> tuple[nn.Module, Any]:
    """The model with seeded weights, and the `parallelize` that goes with it."""
    spec = tiny(family)
    torch.manual_seed(0)
    model = build_model(spec)
    if backend == "runtime":
        from archspec.parallel import parallelize

        return model, parallelize
    from tests.codegen.helpers import exec_source

    module = exec_source(emit_code(spec))
    generated = module.Transformer()
    generated.load_state_dict(model.state_dict())
    return generated, module.parallelize


def train(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_parallel=False):
    """STEPS AdamW steps; the mean loss of each step (over data-parallel ranks when distributed)."""
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    return [_full(step(model, opt, inputs, targets, loss_parallel)) for _ in range(STEPS)]


def step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_parallel: bool = False,
) -> torch.Tensor:
    """One training step: forward, loss, backward, optimizer step, zero_grad; the loss."""
    from contextlib import nullcontext

    from torch.distributed.tensor.parallel import loss_parallel as lp_context

    logits = model(inputs)
    with lp_context() if loss_parallel else nullcontext():
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        del logits  # as a training loop drops them: autograd keeps what the backward pass needs
        loss.backward()
    opt.step()
    opt.zero_grad()
    return loss.detach()


def _full(t: torch.Tensor) -> torch.Tensor:
    from torch.distributed.tensor import DTensor

    return t.full_tensor() if isinstance(t, DTensor) else t


def full_params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name.replace("_checkpoint_wrapped_module.", ""): _full(p.detach()).clone()
        for name, p in model.named_parameters()
    }


def _local(t: torch.Tensor) -> torch.Tensor:
    from torch.distributed.tensor import DTensor

    return t.to_local() if isinstance(t, DTensor) else t


def _bytes(tensors) -> int:
    return sum(_local(t).numel() * t.element_size() for t in tensors)


def saved_bytes(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for the backward pass of one step (parameters
    excluded): the activations, as Korthikanti et al. 2022 count them. Backward runs too."""
    params = {_local(p).untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, torch.UntypedStorage] = {}

    def plain(t: object) -> list[object]:  # the tensors inside a DTensor
        if type(t) is torch.Tensor or not hasattr(t, "__tensor_flatten__"):
            return [t]
        return [x for name in t.__tensor_flatten__()[0] for x in plain(getattr(t, name))]

    def pack(t: torch.Tensor) -> torch.Tensor:
        for inner in plain(t):
            if not isinstance(inner, torch.Tensor):
                continue
            storage = inner.untyped_storage()
            if storage.data_ptr() not in params:
                seen[storage.data_ptr()] = storage
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(inputs).flatten(0, 1).float(), targets.flatten())
    # Sized when the forward pass ends: FSDP has freed (resized to 0) the blocks' gathered weights.
    held = sum(storage.nbytes() for storage in seen.values())
    loss.backward()
    return held


def measure(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, int]:
    """This rank's bytes of weights, gradients, AdamW state and activations over one step."""
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    activations = saved_bytes(model, inputs, targets)
    params = list(model.parameters())
    grads = _bytes(p.grad for p in params)
    opt.step()
    state = _bytes(t for s in opt.state.values() for t in s.values())
    return {
        "weights": _bytes(params),
        "grads": grads,
        "optimizer_state": state,
        "activations": activations,
    }


STEADY_STEPS = 2
"""Tracked steps per job; the lowest peak counts. Under FSDP2 on gloo, how many blocks' gathered
parameters overlap depends on thread timing: on a busy machine one step in a few holds an extra
block (seen: Mixtral-shaped, 0.89 of the plan once in a full-suite run, 0.97 alone)."""


def peak(
    job: dict[str, Any], mesh: Any, inputs: torch.Tensor, targets: torch.Tensor
) -> dict[str, Any]:
    """Peak bytes of live tensor storage on this rank over one steady training step, and the
    weights and optimizer state held after it (the lower of :data:`STEADY_STEPS` tracked steps).

    torch's own trackers (`torch.distributed._tools`: `FSDPMemTracker` for an FSDP2 model,
    `MemTracker` otherwise) watch every tensor storage an operation creates or touches, through
    a TorchDispatchMode and weak references to the storages, and keep the peak of their sum. A
    first step creates the AdamW state; the tracked second step is forward, loss, backward,
    AdamW step and zero_grad.
    """
    from torch.distributed._tools.fsdp2_mem_tracker import FSDPMemTracker
    from torch.distributed._tools.mem_tracker import MemTracker
    from torch.distributed.fsdp import FSDPModule

    model, parallelize = make_model(job["family"], job["backend"])
    if mesh is not None:
        parallelize(model, mesh, **job.get("options", {}))
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    step(model, opt, inputs, targets, **job.get("train", {}))
    tracked = []
    for _ in range(STEADY_STEPS):
        gc.collect()  # an earlier step's reference cycles (DTensor, FSDP state) are not this one's
        if isinstance(model, FSDPModule):
            tracker = FSDPMemTracker(model, opt)
            tracker.track_inputs((inputs, targets))
        else:
            tracker = MemTracker()
            tracker.track_external(model, opt, inputs, targets)
        with tracker:
            step(model, opt, inputs, targets, **job.get("train", {}))
        (top,) = tracker.get_tracker_snapshot("peak").values()
        (after,) = tracker.get_tracker_snapshot("current").values()  # gradients freed
        tracked.append((top["Total"], top, after))
    _, top, after = min(tracked, key=lambda t: t[0])
    after = {getattr(key, "value", key).lower(): value for key, value in after.items()}
    return {
        "peak": top["Total"],
        "weights": after.get("parameter", 0) + after.get("sharded param", 0),
        "optimizer_state": _bytes(t for state in opt.state.values() for t in state.values()),
        "at_peak": {str(getattr(key, "value", key)): value for key, value in top.items()},
    }


def run(rank: int, world: int, init: str, jobs: list[dict[str, Any]], out: str) -> None:
    """Run every job (family, backend, mesh shape, options) on this rank; rank 0 saves results."""
    from torch.distributed.device_mesh import init_device_mesh

    torch.set_num_threads(1)
    os.environ.setdefault("TORCH_NCCL_DISABLE", "1")
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    results, meshes = {}, {}
    try:
        for job in jobs:
            key = (tuple(job["shape"]), tuple(job["dims"]))
            if key not in meshes:
                meshes[key] = init_device_mesh("cpu", key[0], mesh_dim_names=key[1])
            mesh = meshes[key]
            started = time.perf_counter()
            inputs, targets = batch()
            dp = mesh["dp"].size() if "dp" in job["dims"] else 1
            at = mesh["dp"].get_local_rank() if "dp" in job["dims"] else 0
            rows = slice(at * BATCH // dp, (at + 1) * BATCH // dp)
            if job.get("peak"):
                results[job["id"]] = peak(job, mesh, inputs[rows], targets[rows])
                continue
            model, parallelize = make_model(job["family"], job["backend"])
            parallelize(model, mesh, **job.get("options", {}))
            if job.get("measure"):
                results[job["id"]] = measure(model, inputs[rows], targets[rows])
                continue
            losses = train(model, inputs[rows], targets[rows], **job.get("train", {}))
            losses = torch.stack(losses)
            if dp > 1:
                dist.all_reduce(losses, group=mesh["dp"].get_group())
                losses /= dp
            results[job["id"]] = {"losses": losses, "params": full_params(model)}
            results[job["id"]]["seconds"] = time.perf_counter() - started
        if rank == 0:
            torch.save(results, out)
        dist.barrier()  # gloo aborts a rank that leaves while another still talks to it
    finally:
        dist.destroy_process_group()


def spawn(world: int, jobs: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    """Run ``jobs`` on ``world`` gloo ranks in fresh processes; rank 0's results."""
    import torch.multiprocessing as mp

    out = tmp / "results.pt"
    init = f"file://{tmp / 'rendezvous'}"
    mp.spawn(run, args=(world, init, jobs, str(out)), nprocs=world, join=True)
    return torch.load(out)
