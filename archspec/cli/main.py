"""The `archspec` command line. Thin and lazy: each command imports what it needs when it runs.

Exit status: 0 success, 1 invalid spec (or a failed check), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `archspec` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    from archspec.errors import ArchspecError, SpecError, UsageError

    try:
        return args.handler(args)
    except SpecError as err:
        from archspec.cli.render import print_spec_error, stderr

        print_spec_error(err, stderr())
        return EXIT_INVALID
    except UsageError as err:
        _fail(str(err))
        return EXIT_USAGE
    except ArchspecError as err:
        _fail(str(err))
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _fail(message: str) -> None:
    from rich.markup import escape

    from archspec.cli.render import stderr

    stderr().print(f"[bold red]error:[/] {escape(message)}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Describe a decoder-only transformer in YAML; count, diff and compile it.",
    )
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
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
    p = command("diff", c.diff, "Compare specs side by side, like a paper's architecture table.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--all", action="store_true", help="also show rows where all specs agree")
    p.add_argument("--json", action="store_true")
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
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--emit", choices=("code", "module"), default="code")
    p.add_argument(
        "-o",
        "--output",
        default="generated",
        help="output folder for --emit code (default: generated/)",
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
    p.add_argument("path", metavar="PATH")
    p.add_argument("-o", "--output", default=None, help="write the spec here instead of stdout")
    p.add_argument("--name", default=None, help="spec name (default: the folder name)")
    p = command("export-hf", c.export_hf, "Write a spec as a Hugging Face config.json.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", default=None, help="write config.json here instead of stdout")
    p = command(
        "check",
        c.check,
        "Compare a spec with a safetensors checkpoint by reading only its header(s).",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("path", metavar="PATH", help="model folder, .safetensors file or index json")
    return parser


if __name__ == "__main__":
    sys.exit(main())
