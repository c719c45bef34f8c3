"""Errors raised by archspec: one base class, and a spec error that carries located issues."""

from __future__ import annotations

from dataclasses import dataclass, field


class ArchspecError(Exception):
    """Base class of every error archspec raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem found in a spec, located in its file.

    Attributes:
        message: What is wrong, in plain words.
        path: Field path inside the spec, e.g. ``("attention", "n_heads")``.
        file: The file the offending value was written in (may be a base spec).
        line: 1-based line, or None when the value was not written in any file.
        column: 1-based column, or None.
        allowed: The values that would have been accepted, when there is a closed set.
        suggestion: A did-you-mean, when one is close.
        related: Other fields a cross-field rule involves (``n_heads`` for ``n_kv_heads``).
    """

    message: str
    path: tuple[str | int, ...] = ()
    file: str | None = None
    line: int | None = None
    column: int | None = None
    allowed: tuple[str, ...] = ()
    suggestion: str | None = None
    related: tuple[tuple[str | int, ...], ...] = ()

    @property
    def dotted_path(self) -> str:
        return ".".join(str(p) for p in self.path) or "<root>"

    @property
    def location(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        text = f"{self.location}: {self.dotted_path}: {self.message}"
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        if self.allowed:
            text += f" [allowed: {', '.join(self.allowed)}]"
        return text


@dataclass
class SpecError(ArchspecError):
    """A spec that cannot be read or is not valid; carries every issue found, not just the first."""

    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} in spec"
        return head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues)


class UsageError(ArchspecError):
    """The command was called wrongly (missing file, bad flag combination): exit status 2."""


class CheckpointError(ArchspecError):
    """A checkpoint does not match the model it is loaded into."""
