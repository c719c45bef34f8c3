"""Jinja filters: every value from a spec reaches generated code through one of these.

`py` writes a Python literal; `comment` and `doc` neutralise text so no spec string (name,
description, source) can close a comment or docstring and inject code.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata

LINE_WIDTH = 88
"""ruff's default line length: generated files pass `ruff format --check` under default
settings (and under this repository's 100) wherever they land."""


def py(value: object) -> str:
    """A Python literal for a plain value (int, float, bool, None, str, tuple of those)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 100_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot emit non-finite float {value!r}")
        return repr(value)
    if isinstance(value, str):
        return repr(_printable(value, keep_newlines=True))
    if isinstance(value, tuple):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"no literal for {type(value).__name__}")


def _printable(text: str, keep_newlines: bool) -> str:
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch)[0] == "C":
            continue
        else:
            out.append(ch)
    return "".join(out)


def comment(text: object) -> str:
    """Text safe on one `#` comment line: no line breaks, no control or separator characters."""
    return " ".join(_printable(str(text), keep_newlines=False).split())


def doc(text: object) -> str:
    """Text safe inside a triple-double-quoted docstring: backslashes and quotes escaped,
    control characters dropped, trailing spaces trimmed."""
    clean = _printable(str(text), keep_newlines=True).replace("\u2028", " ").replace("\u2029", " ")
    clean = clean.replace("\\", "\\\\").replace('"', '\\"')
    return "\n".join(line.rstrip() for line in clean.splitlines())


def tuple_literal(items: object, prefix: str = "", width: int = LINE_WIDTH, indent: int = 0) -> str:
    """A tuple literal laid out as `ruff format` would: a repeating pattern as `(a, b) * n`,
    else one line when `prefix + literal` fits in ``width``, else one item per line (``prefix``
    and the closing parenthesis at column ``indent``)."""
    values = tuple(items)
    for period in range(1, len(values) // 2 + 1):
        if len(values) % period == 0 and values == values[:period] * (len(values) // period):
            return f"{py(values[:period])} * {len(values) // period}"
    one_line = py(values)
    if len(prefix) + len(one_line) <= width:
        return one_line
    pad = " " * indent
    return "(\n" + "".join(f"{pad}    {py(v)},\n" for v in values) + f"{pad})"


def wrap(text: str, first: str, rest: str, width: int = 96) -> str:
    """Fill ``text`` to ``width`` columns, the first line prefixed by ``first``, the others by ``rest``."""
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def tuple_code(items: object, prefix: str = "", indent: int = 0, width: int = LINE_WIDTH) -> str:
    """A tuple of code expressions laid out as `ruff format` would: `(a,)` or `(a, b)` on one
    line when `prefix + tuple` fits in ``width``, else one item per line with a trailing comma."""
    parts = [str(item) for item in items]
    one_line = f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
    if len(prefix) + len(one_line) <= width:
        return one_line
    pad = " " * indent
    return "(\n" + "".join(f"{pad}    {part},\n" for part in parts) + f"{pad})"
