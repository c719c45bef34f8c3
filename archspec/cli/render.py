"""Rich rendering shared by the CLI commands (imported lazily, inside a command)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from archspec.errors import Issue, SpecError
from archspec.load.yaml import MAX_BYTES


class _Console(Console):
    """A rich console whose closed pipe reaches the CLI's boundary (rich would exit 1 itself)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def stderr() -> Console:
    """Console for errors. Markup is ours only: user text goes through :func:`escape`, and emoji
    codes (`:smile:`) are never replaced."""
    return _Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def stdout() -> Console:
    return _Console(highlight=False, soft_wrap=True, emoji=False)


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes, so that no user string can move the
    cursor, clear the screen or ring the bell (a spec line with ESC, a name with a form feed)."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def shown(text: str) -> str:
    """User text (a spec name, a path) ready for rich markup: printed as written, `[bold]` and
    all, with control characters escaped."""
    return escape(printable(text))


def print_spec_error(err: SpecError, console: Console) -> None:
    """Each issue with its location, the offending source line and a caret under the column."""
    n = len(err.issues)
    console.print(f"[bold red]error:[/] {n} problem{'s' if n != 1 else ''} in spec")
    for issue in err.issues:
        console.print(
            f"  [bold]{escape(printable(issue.location))}[/]: "
            f"[cyan]{escape(printable(issue.dotted_path))}[/]: {escape(printable(issue.message))}"
        )
        if issue.suggestion:
            console.print(f"      did you mean [green]{escape(printable(issue.suggestion))}[/]?")
        if issue.allowed:
            console.print(f"      allowed: {escape(printable(', '.join(issue.allowed)))}")
        snippet = _source_line(issue)
        if snippet:
            console.print(f"      [dim]{escape(printable(snippet[0]))}[/]")
            console.print(f"      [red]{' ' * snippet[1]}^[/]")


def _source_line(issue: Issue) -> tuple[str, int] | None:
    """The line of a spec file an issue points at. Only `.yaml`/`.yml` files are quoted: the
    content of any other file (`extends: /etc/passwd`) is never echoed."""
    if issue.file is None or issue.line is None:
        return None
    path = Path(issue.file)
    if path.suffix not in (".yaml", ".yml"):
        return None
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not 0 < issue.line <= len(lines):
        return None
    return lines[issue.line - 1], max((issue.column or 1) - 1, 0)
