"""`archspec plan` (memory of a training step per device) and `validate --tp` (can it be split?)."""

from __future__ import annotations

import argparse
import json
import re

from archspec.cli.common import EXIT_OK
from archspec.errors import SpecError, UsageError

UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `plan` command's options."""
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--devices", type=int, default=None, help="devices in all (default tp * dp)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel degree")
    p.add_argument("--dp", type=int, default=None, help="data-parallel (FSDP) degree")
    p.add_argument("--batch", type=int, default=1, help="sequences per data-parallel rank")
    p.add_argument("--seq", type=int, default=None, help="tokens per sequence (default: max)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="bf16")
    p.add_argument("--optimizer", choices=("adamw", "adam", "sgd"), default="adamw")
    p.add_argument("--checkpointing", action="store_true", help="activation checkpointing")
    p.add_argument("--loss-parallel", action="store_true", help="vocabulary-parallel loss")
    p.add_argument("--device-memory", default=None, help="e.g. 80GiB: say whether it fits")
    p.add_argument("--json", action="store_true")


def parse_bytes(text: str) -> int:
    """'80GiB' -> 85899345920; '80GB' -> 80000000000."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise UsageError(f"cannot read a memory size from '{text}' (e.g. 80GiB, 96GB)")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def plan(args: argparse.Namespace) -> int:
    from archspec.analysis.units import human_bytes
    from archspec.cli.render import stdout
    from archspec.parallel.memory import plan_memory
    from archspec.plan.lower import lower
    from archspec.spec.load import load_spec

    tp = args.tp
    dp = args.dp if args.dp is not None else (args.devices or tp) // tp
    if min(tp, dp) < 1 or (args.devices is not None and args.devices != tp * dp):
        raise UsageError(f"--devices ({args.devices}) must equal --tp ({tp}) x --dp ({dp})")
    check_tp([args.spec], tp)
    memory = None if args.device_memory is None else parse_bytes(args.device_memory)
    result = plan_memory(
        lower(load_spec(args.spec)),
        tp=tp,
        dp=dp,
        batch=args.batch,
        seq=args.seq,
        dtype=args.dtype,
        optimizer=args.optimizer,
        checkpointing=args.checkpointing,
        loss_parallel=args.loss_parallel,
        device_memory=memory,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return EXIT_OK
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"{escape(result.name)}: per device, tp={tp} x dp={dp}", title_justify="left"
    )
    table.add_column("term")
    table.add_column("bytes", justify="right")
    rows = [
        ("weights", result.weights),
        ("gradients", result.grads),
        (f"optimizer ({result.optimizer})", result.optimizer_state),
        ("activations" + (" (checkpointed)" if result.checkpointing else ""), result.activations),
        ("backward buffers (loss gradients, FSDP)", result.backward_buffers),
        ("optimizer temporaries", result.optimizer_temp),
        ("total (peak of a step)", result.total),
        ("KV cache (inference, not in total)", result.kv_cache),
    ]
    for name, value in rows:
        table.add_row(name, human_bytes(value))
    out = stdout()
    out.print(table)
    out.print(f"batch {result.batch} x seq {result.seq} per data-parallel rank, {result.dtype}")
    if result.fits is not None:
        verdict = "[green]fits[/]" if result.fits else "[red]does not fit[/]"
        out.print(f"{verdict} in {human_bytes(memory)} per device")
    return EXIT_OK


def check_tp(refs: list[str], tp: int) -> None:
    """Raise a located SpecError listing why each spec cannot be split across ``tp`` ranks."""
    from archspec.spec.parallel_checks import tp_issues

    if tp < 1:
        raise UsageError(f"--tp must be at least 1, got {tp}")
    issues = [issue for ref in refs for issue in tp_issues(ref, tp)]
    if issues:
        raise SpecError(issues)
