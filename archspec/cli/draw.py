"""`archspec draw` and `archspec report`: pictures of specs, as SVG / PNG or one HTML file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from archspec.cli.common import EXIT_OK, load_all
from archspec.errors import ArchspecError, UsageError


def draw(args: argparse.Namespace) -> int:
    from archspec.draw import draw as render
    from archspec.plan.lower import lower

    suffix = Path(args.output).suffix.lower() if args.output else ".svg"
    if suffix not in (".svg", ".png"):
        raise UsageError(f"-o {args.output}: the figure is written as .svg or .png")
    svg = render([lower(spec) for spec in load_all(args.specs)])
    if args.output is None:
        sys.stdout.write(svg)
    elif suffix == ".png":
        from archspec.draw.raster import write_png

        _write(args.output, lambda: write_png(svg, args.output))
    else:
        from archspec.fileio import write_atomic

        _write(args.output, lambda: write_atomic(args.output, svg))
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    from archspec.report import report as render

    if args.seq_len is not None and args.seq_len < 1:
        raise UsageError(f"--seq-len {args.seq_len}: must be a positive number of tokens")
    html = render(load_all(args.specs), seq_len=args.seq_len)
    if args.output is None:
        sys.stdout.write(html)
    else:
        from archspec.fileio import write_atomic

        _write(args.output, lambda: write_atomic(args.output, html))
    return EXIT_OK


def _write(path: str, write: Callable[[], object]) -> None:
    """Run ``write``, turning a file-system failure into one located error."""
    try:
        write()
    except OSError as err:
        raise ArchspecError(f"cannot write {path}: {err.strerror or err}") from None
