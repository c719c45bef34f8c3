"""The `archspec` command line. Thin and lazy: each command imports what it needs when it runs.

Exit status: 0 success, 1 bad input (an invalid spec, config or checkpoint, or a failed check),
2 usage or environment (a missing file, a bad flag, an unwritable output, no GPU). Every failure
prints one line (a spec error one line per problem) and never a traceback; an unexpected error
says it is a bug, and ``--debug`` (or ``ARCHSPEC_DEBUG=1``) shows its traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence

from archspec.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, SEQ_LEN_HELP, positive_int

ALLOW_EXTENDS_OUTSIDE = "ARCHSPEC_ALLOW_EXTENDS_OUTSIDE"
"""Environment variable (set to 1) that lets `extends` name files outside the spec's folder tree."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `archspec` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    debug = args.debug or os.environ.get("ARCHSPEC_DEBUG", "") not in ("", "0")
    before = os.environ.get(ALLOW_EXTENDS_OUTSIDE)
    if args.allow_extends_outside:
        os.environ[ALLOW_EXTENDS_OUTSIDE] = "1"
    _sane_streams()
    try:
        return _run(args, debug)
    finally:
        if before is None:
            os.environ.pop(ALLOW_EXTENDS_OUTSIDE, None)
        else:
            os.environ[ALLOW_EXTENDS_OUTSIDE] = before


def _run(args: argparse.Namespace, debug: bool) -> int:
    """Run the command's handler; every failure becomes one line and an exit status."""
    try:
        code = args.handler(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        if debug and not _expected(err):
            raise
        code = _report(err)
        _drain_stdout()
        return code


def _expected(err: Exception) -> bool:
    """Errors about the input or the environment (one line even under --debug), not bugs."""
    from archspec.errors import ArchspecError

    return isinstance(err, ArchspecError | OSError)


def _report(err: Exception) -> int:
    """Print one line for ``err`` and return its exit status."""
    from archspec.errors import ArchspecError, SpecError, UsageError

    try:
        if isinstance(err, SpecError):
            from archspec.cli.render import print_spec_error, stderr

            print_spec_error(err, stderr())
            return EXIT_INVALID
        if isinstance(err, UsageError):
            _fail(str(err))
            return EXIT_USAGE
        if isinstance(err, ArchspecError):
            _fail(str(err))
            return EXIT_INVALID
        if isinstance(err, OSError):
            # Reading a named file is checked where it happens; what gets here is the environment:
            # an unwritable output, a full disk, a closed terminal.
            if err.filename:
                where = str(err.filename)
            elif err.errno in (errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EPIPE):
                where = "cannot write the output"
            else:
                where = "system error"
            _fail(f"{where}: {err.strerror or err}")
            return EXIT_USAGE
        if isinstance(err, RecursionError | MemoryError):
            _fail(f"input too large or too deeply nested ({type(err).__name__})")
            return EXIT_INVALID
        _fail(
            f"internal error (a bug in archspec, please report it): {type(err).__name__}: {err}. "
            "Run with --debug or ARCHSPEC_DEBUG=1 for the traceback."
        )
        return EXIT_INVALID
    except BrokenPipeError:
        return _closed_pipe()


def _sane_streams() -> None:
    """Characters the terminal's encoding cannot show are escaped rather than fatal
    (``PYTHONIOENCODING=ascii`` and a unicode spec name)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def _drain_stdout() -> None:
    """Flush what a failed command printed; where stdout cannot take it (/dev/full), drop it."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _closed_pipe()


def _closed_pipe() -> int:
    """The reader went away (`| head -1`): stop quietly, as other command-line tools do.

    stdout is pointed at /dev/null so that the interpreter's last flush does not complain.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_OK


def _fail(message: str) -> None:
    from rich.markup import escape

    from archspec.cli.render import printable, stderr

    one_line = " ".join(message.splitlines())
    stderr().print(f"[bold red]error:[/] {escape(printable(one_line))}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Describe a decoder-only transformer in YAML; count, diff and compile it.",
    )
    _common_options(parser, False)
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        # Accepted after the command too; SUPPRESS keeps the value given before it.
        _common_options(p, argparse.SUPPRESS)
        return p

    from archspec.cli import commands as c

    p = command("validate", c.validate, "Check specs; print every problem with its location.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec file or shipped name")
    p.add_argument("--tp", type=int, default=None, help="also check a split over TP ranks")
    p = command("params", c.params, "Count parameters exactly, without building anything.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--detail", action="store_true", help="breakdown, per-layer counts, FLOPs, KV cache, memory"
    )
    p.add_argument("--seq-len", type=positive_int, metavar="N", help=SEQ_LEN_HELP)
    p = command("diff", c.diff, "Compare specs side by side, like a paper's architecture table.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--all", action="store_true", help="also show rows where all specs agree")
    p.add_argument("--json", action="store_true")
    p.add_argument("--seq-len", type=positive_int, metavar="N", help=SEQ_LEN_HELP)
    p = command(
        "show",
        c.show,
        "Print the fully resolved spec (extends applied, defaults and derived values written out).",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true")
    p = command("list", c.list_specs, "List the shipped specs with their parameter counts.")
    p.add_argument("--json", action="store_true")
    command("schema", c.schema, "Print the JSON Schema of the spec language (for editors).")
    p = command("build", c.build, "Compile specs to generated PyTorch source or a runtime module.")
    p.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="default (--emit code): every spec of the project's specs folder",
    )
    p.add_argument("--emit", choices=("code", "module"), default="code")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output folder for --emit code (default: the project's generated folder)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory; show a diff and exit 1 when stale",
    )
    p.add_argument(
        "--device",
        default=None,
        help="--emit module: device (default: cpu, or meta when it would not fit in memory)",
    )
    from archspec.cli import plan

    plan.add_arguments(command("plan", plan.plan, "Memory per device of a training step."))
    p = command(
        "import-hf", c.import_hf, "Read a Hugging Face config.json (or model folder) as a spec."
    )
    p.add_argument("path", metavar="PATH", help="config.json, model folder, or hub id ORG/NAME")
    p.add_argument("-o", "--output", default=None, help="write the spec here instead of stdout")
    p.add_argument("--name", default=None, help="spec name (default: the folder name)")
    p.add_argument(
        "--base", default=None, help="for a peft adapter folder: the spec it fine-tunes (extends)"
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="KEY",
        help="a config key you vouch does not change the architecture (repeatable)",
    )
    p.add_argument(
        "--vocab-size",
        type=int,
        default=None,
        metavar="N",
        help="the tokenizer's vocabulary when the config's vocab_size is padded",
    )
    p.add_argument("--revision", default=None, help="branch, tag or commit of a hub id")
    p = command("export-hf", c.export_hf, "Write a spec as a Hugging Face config.json.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", default=None, help="write config.json here instead of stdout")
    p.add_argument(
        "--transformers",
        choices=("both", "4", "5"),
        default="both",
        help="key spellings: both (default; 4.4x-4.57 and 5 read the same), 4 or 5 only",
    )
    p = command(
        "check",
        c.check,
        "Compare a spec with a safetensors checkpoint by reading only its header(s).",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument(
        "path", metavar="PATH", help="model folder, .safetensors file, index json or hub id"
    )
    p.add_argument("--revision", default=None, help="branch, tag or commit of a hub id")
    from archspec.cli import draw as d

    p = command("draw", d.draw, "Draw specs side by side as a block diagram (.svg or .png).")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument(
        "-o", "--output", default=None, help="FILE.svg or FILE.png (default: SVG on stdout)"
    )
    p = command("report", d.report, "Write one self-contained HTML report: diagrams, diff, charts.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("-o", "--output", default=None, help="report.html (default: stdout)")
    p.add_argument(
        "--seq-len", type=int, default=None, help="context for FLOPs (default: max_seq_len)"
    )
    return parser


def _common_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show the traceback of an unexpected error, a bug (also ARCHSPEC_DEBUG=1)",
    )
    parser.add_argument(
        "--allow-extends-outside",
        action="store_true",
        default=default,
        help=f"let `extends` read files outside the spec's folder tree (also {ALLOW_EXTENDS_OUTSIDE}=1)",
    )


if __name__ == "__main__":
    sys.exit(main())
