"""The training loop behind `python -m archspec.train`: one process per device, under torchrun."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from archspec.errors import UsageError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def train(args: argparse.Namespace) -> list[float]:
    """Run ``args.steps`` AdamW steps; returns the loss of each step (mean over the batch)."""
    from archspec.nn.model import build_model
    from archspec.parallel import parallelize
    from archspec.spec.load import load_spec

    spec = load_spec(args.spec)
    device = _init()
    world = dist.get_world_size()
    try:
        if world % args.tp:
            raise UsageError(f"--tp ({args.tp}) must divide the number of processes ({world})")
        mesh = init_device_mesh(
            device.type, (world // args.tp, args.tp), mesh_dim_names=("dp", "tp")
        )
        torch.manual_seed(args.seed)  # the same initial weights on every rank
        model = build_model(spec, device=device, dtype=DTYPES[args.dtype])
        parallelize(
            model,
            mesh,
            loss_parallel=args.loss_parallel,
            activation_checkpointing=args.checkpointing,
        )
        batches = Batches(args, spec.vocab_size, mesh, device)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
        losses = _loop(model, opt, batches, args, mesh)
        if args.checkpoint:
            from archspec.train.checkpoint import save

            save(model, opt, Path(args.checkpoint))
        dist.barrier()  # gloo aborts a rank that leaves while another still talks to it
        return losses
    finally:
        dist.destroy_process_group()


def _init() -> torch.device:
    """Join the process group torchrun describes (NCCL on GPUs, gloo on CPUs)."""
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29511")
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return torch.device("cuda", local)
    dist.init_process_group("gloo")
    return torch.device("cpu")


class Batches:
    """(inputs, targets) of ``batch`` x ``seq`` tokens: each data-parallel rank draws its own
    windows; the ranks of one tensor-parallel group draw the same ones."""

    def __init__(
        self, args: argparse.Namespace, vocab: int, mesh: DeviceMesh, device: torch.device
    ) -> None:
        self.batch, self.seq, self.device = args.batch, args.seq, device
        self.generator = torch.Generator().manual_seed(args.seed + 1 + mesh["dp"].get_local_rank())
        if args.tokens:
            path = Path(args.tokens)
            n = path.stat().st_size // 2
            if n <= args.seq + 1:
                raise UsageError(f"{path} holds {n} tokens; --seq {args.seq} needs more")
            self.tokens = torch.from_file(str(path), size=n, dtype=torch.uint16).long()
        else:
            self.tokens = None
            self.vocab = vocab

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tokens is None:
            shape = (self.batch, self.seq + 1)
            rows = torch.randint(0, self.vocab, shape, generator=self.generator)
        else:
            starts = torch.randint(
                0, len(self.tokens) - self.seq - 1, (self.batch,), generator=self.generator
            )
            rows = torch.stack([self.tokens[s : s + self.seq + 1] for s in starts.tolist()])
        rows = rows.to(self.device)
        return rows[:, :-1], rows[:, 1:]


def _loop(model, opt, batches: Batches, args: argparse.Namespace, mesh: DeviceMesh) -> list[float]:
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from torch.distributed.tensor import DTensor
    from torch.distributed.tensor.parallel import loss_parallel

    rank0 = dist.get_rank() == 0
    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
    )
    losses = []
    with Progress(*columns, TimeElapsedColumn(), disable=not rank0) as progress:
        task = progress.add_task("train", total=args.steps, loss="")
        for step in range(args.steps):
            inputs, targets = batches.next()
            opt.zero_grad()
            logits = model(inputs)
            with loss_parallel() if args.loss_parallel else nullcontext():
                loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
                loss.backward()
            opt.step()
            value = loss.detach()
            value = value.full_tensor() if isinstance(value, DTensor) else value
            dist.all_reduce(value, group=mesh["dp"].get_group())  # mean over data-parallel ranks
            losses.append(value.item() / mesh["dp"].size())
            progress.update(task, advance=1, loss=f"loss {losses[-1]:.4f}")
            if rank0 and not progress.console.is_terminal:
                print(f"step {step + 1}/{args.steps} loss {losses[-1]:.4f}", flush=True)
    return losses
