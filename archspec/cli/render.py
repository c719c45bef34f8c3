"""Rich rendering shared by the CLI commands (imported lazily, inside a command)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from archspec.errors import Issue, SpecError


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def print_spec_error(err: SpecError, console: Console) -> None:
    """Each issue with its location, the offending source line and a caret under the column."""
    n = len(err.issues)
    console.print(f"[bold red]error:[/] {n} problem{'s' if n != 1 else ''} in spec")
    for issue in err.issues:
        console.print(
            f"  [bold]{escape(issue.location)}[/]: [cyan]{escape(issue.dotted_path)}[/]: {escape(issue.message)}"
        )
        if issue.suggestion:
            console.print(f"      did you mean [green]{escape(issue.suggestion)}[/]?")
        if issue.allowed:
            console.print(f"      allowed: {escape(', '.join(issue.allowed))}")
        snippet = _source_line(issue)
        if snippet:
            console.print(f"      [dim]{escape(snippet[0])}[/]")
            console.print(f"      [red]{' ' * snippet[1]}^[/]")


def _source_line(issue: Issue) -> tuple[str, int] | None:
    if issue.file is None or issue.line is None:
        return None
    try:
        lines = Path(issue.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not 0 < issue.line <= len(lines):
        return None
    return lines[issue.line - 1], max((issue.column or 1) - 1, 0)
