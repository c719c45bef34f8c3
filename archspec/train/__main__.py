"""Train a spec on a (dp x tp) mesh: ``torchrun --nproc-per-node 2 -m archspec.train SPEC --tp 2``.

Synthetic tokens unless ``--tokens`` names a file of uint16 token ids (nanoGPT's ``.bin``).
Rank 0 shows the loss; ``--checkpoint DIR`` saves a sharded torch.distributed.checkpoint there,
which `archspec.train.checkpoint.consolidate` turns into one safetensors file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m archspec.train", description=__doc__)
    p.add_argument("spec", metavar="SPEC", help="spec file or shipped name")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel degree")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=4, help="sequences per data-parallel rank")
    p.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    p.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate")
    p.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="parameter dtype")
    p.add_argument("--tokens", default=None, help="uint16 token file (default: random tokens)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss-parallel", action="store_true", help="vocabulary-parallel loss")
    p.add_argument("--checkpointing", action="store_true", help="activation checkpointing")
    p.add_argument("--checkpoint", default=None, metavar="DIR", help="save a sharded checkpoint")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from archspec.errors import ArchspecError
    from archspec.train.loop import train

    args = parse_args(argv)
    try:
        train(args)
    except ArchspecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
