"""`archspec build`: generated source files (with --check for staleness) or a runtime module."""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path

from archspec.cli.common import EXIT_INVALID, EXIT_OK, load_all
from archspec.cli.project import Project, find_project
from archspec.errors import UsageError
from archspec.spec.model import ModelSpec
from archspec.spec.shipped import find_spec


def _source_path(ref: str, root: Path) -> str:
    """How a generated header names its spec: relative to the project root (else the working
    directory) when inside it, so the header does not depend on where the build ran."""
    path = find_spec(ref)
    if path is None:
        raise UsageError(f"no spec file or shipped spec named '{ref}'")
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"specs/{resolved.name}" if resolved.parent.name == "specs" else resolved.as_posix()


def run(args: argparse.Namespace) -> int:
    project = find_project()
    refs = args.specs or _project_specs(project, args.emit)
    specs = list(zip(refs, load_all(refs), strict=True))
    if args.emit == "module":
        if args.check:
            raise UsageError("--check applies to --emit code")
        return _modules([spec for _, spec in specs], args.device)
    if args.output is not None:
        out_dir = Path(args.output)
    else:
        out_dir = project.generated if project is not None else Path("generated")
    root = project.root if project is not None else Path.cwd()
    return _code(specs, out_dir, args.check, root)


def _project_specs(project: Project | None, emit: str) -> list[str]:
    """With no SPEC: every spec of the project's specs folder (--emit code only)."""
    if emit != "code":
        raise UsageError("name the SPEC(s) to build as modules")
    if project is None:
        raise UsageError(
            f"no SPEC given and no pyproject.toml in {Path.cwd()} or above it: "
            "name the specs to build, or run inside a project"
        )
    files = project.spec_files()
    if not files:
        raise UsageError(
            f"no SPEC given and no *.yaml in {project.specs} "
            "(set `specs` under [tool.archspec] in pyproject.toml)"
        )
    return [str(path) for path in files]


def _code(specs: list[tuple[str, ModelSpec]], out_dir: Path, check: bool, root: Path) -> int:
    from archspec.cli.render import shown, stderr, stdout
    from archspec.codegen.emit import emit_code, module_filename
    from archspec.fileio import write_atomic

    rendered = [
        (out_dir / module_filename(spec), emit_code(spec, source_path=_source_path(ref, root)))
        for ref, spec in specs
    ]
    names = [path.name for path, _ in rendered]
    if len(set(names)) != len(names):
        raise UsageError(
            f"two specs would write the same file: {sorted(n for n in names if names.count(n) > 1)}"
        )
    console = stdout()
    if check:
        stale = 0
        for path, text in rendered:
            old = _committed(path)
            if old == text:
                console.print(f"[green]up to date[/] {shown(_relative(path))}")
                continue
            stale += 1
            if old is None:
                console.print(f"[red]missing[/] {shown(_relative(path))}")
                continue
            console.print(f"[red]stale[/] {shown(_relative(path))}")
            diff = difflib.unified_diff(
                old.splitlines(True),
                text.splitlines(True),
                f"{path} (committed)",
                f"{path} (regenerated)",
            )
            console.out("".join(diff), highlight=False, end="")
        if stale:
            stderr().print(
                f"[bold red]{stale} generated file(s) out of date[/]: run archspec build without --check"
            )
            return EXIT_INVALID
        return EXIT_OK
    for path, text in rendered:
        write_atomic(path, text)
        console.print(f"wrote {shown(_relative(path))}")
    return EXIT_OK


def _relative(path: Path) -> str:
    """A path as printed: relative to the working directory when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _committed(path: Path) -> str | None:
    """The file on disk, as text (a file that is not UTF-8 reads with replacement characters:
    it is stale either way), or None when there is none."""
    if not path.is_file():
        return None
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_device(torch: object, name: str) -> None:
    """A device that cannot be used here is a usage error, said before building anything."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError(f"--device '{name}' is not a device torch knows") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(f"--device {name}: no CUDA GPU is available on this machine")
        if device.index is not None and device.index >= count:
            raise UsageError(f"--device {name}: this machine has {count} CUDA GPU(s)")


def _modules(specs: list[ModelSpec], device: str | None) -> int:
    from archspec.analysis.params import count_params
    from archspec.analysis.units import human, human_bytes
    from archspec.cli.render import stderr, stdout
    from archspec.cli.tree import module_tree

    console = stdout()
    for spec in specs:
        counts = count_params(spec)
        target = device
        if target is None:
            need, have = counts.total * 4, _available_memory()
            target = "cpu"
            if have is not None and need > have // 2:
                target = "meta"
                stderr().print(
                    f"[yellow]note:[/] {spec.name} needs {human_bytes(need)} in float32 and "
                    f"{human_bytes(have)} is available: building on the meta device (structure only). "
                    "Pass --device cpu to force."
                )
        import torch

        from archspec.nn.model import build_model

        _check_device(torch, target)
        try:
            model = build_model(spec, device=target)
        except (RuntimeError, ValueError, AssertionError) as err:
            raise UsageError(f"cannot build on device '{target}': {err}") from None
        built = sum(p.numel() for p in model.parameters())
        console.print(module_tree(model, f"{spec.name} on {target}"))
        ok = built == counts.total
        mark = "[green]matches[/]" if ok else "[bold red]DOES NOT MATCH[/]"
        console.print(
            f"{human(built)} parameters built ({built:,}); analytic count {counts.total:,}: {mark}"
        )
        del model, torch
        if not ok:
            return EXIT_INVALID
    return EXIT_OK
