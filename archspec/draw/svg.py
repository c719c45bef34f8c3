"""A few SVG primitives written by hand: deterministic bytes, every string escaped.

No layout library: the figures are boxes, lines and text on a fixed grid, and writing the
elements directly keeps the output byte-stable (no ids, no timestamps, fixed number format).
"""

from __future__ import annotations

import re

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
CHAR_WIDTH = 0.62
"""Average glyph width as a fraction of the font size, to estimate text widths without metrics."""

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold at all (control characters, lone surrogates, U+FFFE/U+FFFF)."""


def escape(text: str) -> str:
    """Text safe inside an element or a double-quoted attribute of SVG or HTML."""
    text = _NOT_XML.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def num(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros: '12', '3.5', '-0.25'."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` in pixels at font ``size``."""
    return len(text) * size * CHAR_WIDTH


def fit(text: str, width: float, size: float) -> str:
    """``text`` cut with an ellipsis so that it fits in ``width`` pixels."""
    limit = max(1, int(width / (size * CHAR_WIDTH)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tokens(word: str, limit: int) -> list[tuple[str, str]]:
    """``word`` as (token, joiner before it): split at spaces, then after arrows, when too long."""
    if len(word) <= limit:
        return [(word, "")]
    out: list[tuple[str, str]] = []
    for k, part in enumerate(word.split(" ")):
        chunks = [c for c in re.split(r"(?<=→)", part) if c] if len(part) > limit else [part]
        for j, chunk in enumerate(chunks):
            out.append((chunk, " " if k and not j else ""))
    return out


def wrap(
    words: list[str], width: float, size: float, sep: str = " "
) -> list[list[tuple[str, int]]]:
    """Greedy line breaking of ``words`` (pieces joined by ``sep``) within ``width`` pixels:
    the pieces of each line, each with the index of the word it comes from. A piece longer than
    a line is broken at its spaces, then after its arrows; what still does not fit is cut with
    an ellipsis."""
    limit = max(1, int(width / (size * CHAR_WIDTH)))
    pieces: list[tuple[str, int]] = []
    for i, word in enumerate(words):
        line = ""
        for token, joiner in _tokens(word, limit):
            token = fit(token, width, size)
            if line and len(line) + len(joiner) + len(token) <= limit:
                line += joiner + token
            else:
                if line:
                    pieces.append((line, i))
                line = token
        pieces.append((line, i))
    lines: list[list[tuple[str, int]]] = []
    used = 0
    for piece, i in pieces:
        if lines and used + len(sep) + len(piece) <= limit:
            lines[-1].append((piece, i))
            used += len(sep) + len(piece)
        else:
            lines.append([(piece, i)])
            used = len(piece)
    return lines


def svg_size(svg: str) -> tuple[int, int]:
    """The pixel width and height written on the root element."""
    found = re.search(r'<svg [^>]*width="([\d.]+)" height="([\d.]+)"', svg)
    if found is None:
        raise ValueError("SVG without a width and height on its root element")
    return round(float(found.group(1))), round(float(found.group(2)))


class Svg:
    """Elements in drawing order, on two layers: connectors behind, boxes and text in front."""

    def __init__(self) -> None:
        self.back: list[str] = []
        self.front: list[str] = []
        self.anchors: dict[str, float] = {}
        """Heights of named points (the middle of a box by its key) for connectors drawn later."""

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        fill: str,
        stroke: str = "#444",
        stroke_width: float = 1,
        rx: float = 4,
        dash: bool = False,
        back: bool = False,
    ) -> None:
        extra = ' stroke-dasharray="4 3"' if dash else ""
        (self.back if back else self.front).append(
            f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" rx="{num(rx)}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{num(stroke_width)}"{extra}/>'
        )

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 11,
        anchor: str = "middle",
        bold: bool = False,
        fill: str = "#1a1a1a",
    ) -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.front.append(
            f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="{anchor}"'
            f'{weight} fill="{fill}">{escape(text)}</text>'
        )

    def runs(
        self,
        x: float,
        y: float,
        runs: list[tuple[str, bool]],
        *,
        sep: str,
        size: float,
        bold: bool = False,
        fill: str = "#1a1a1a",
        mark: str = "#c2410c",
    ) -> None:
        """One centred line of pieces joined by ``sep``; marked pieces in bold ``mark`` colour."""
        weight = ' font-weight="bold"' if bold else ""
        spans = []
        for i, (text, marked) in enumerate(runs):
            if i:
                spans.append(escape(sep))
            body = escape(text)
            spans.append(
                f'<tspan fill="{mark}" font-weight="bold">{body}</tspan>' if marked else body
            )
        self.front.append(
            f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="middle"'
            f'{weight} fill="{fill}">{"".join(spans)}</text>'
        )

    def path(self, points: list[tuple[float, float]], *, stroke: str = "#555") -> None:
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{num(x)} {num(y)}" for i, (x, y) in enumerate(points)
        )
        self.back.append(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.4"/>')

    def arrow(self, x: float, y: float, direction: str, *, fill: str = "#555") -> None:
        """A small arrowhead whose tip is at (x, y), pointing `up`, `left` or `right`."""
        s = 5
        tips = {
            "up": [(x, y), (x - s, y + 2 * s), (x + s, y + 2 * s)],
            "left": [(x, y), (x + 2 * s, y - s), (x + 2 * s, y + s)],
            "right": [(x, y), (x - 2 * s, y - s), (x - 2 * s, y + s)],
        }[direction]
        points = " ".join(f"{num(px)},{num(py)}" for px, py in tips)
        self.front.append(f'<polygon points="{points}" fill="{fill}"/>')

    def add(self, cx: float, cy: float, r: float, *, stroke: str = "#444") -> None:
        """The residual addition: a circled plus."""
        self.front.append(
            f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}" fill="#fff" stroke="{stroke}" '
            f'stroke-width="1.2"/>'
        )
        self.front.append(
            f'<path d="M{num(cx - r + 3)} {num(cy)} H{num(cx + r - 3)} M{num(cx)} '
            f'{num(cy - r + 3)} V{num(cy + r - 3)}" stroke="{stroke}" stroke-width="1.2"/>'
        )

    def group(self, inner: Svg, dx: float, dy: float) -> None:
        """Place ``inner`` translated by (dx, dy), keeping its two layers apart."""
        shift = f'<g transform="translate({num(dx)},{num(dy)})">'
        if inner.back:
            self.back.append(shift + "".join(inner.back) + "</g>")
        if inner.front:
            self.front.append(shift + "".join(inner.front) + "</g>")

    def render(self, width: float, height: float, *, title: str) -> str:
        """The document: fixed header, title for screen readers, back layer, front layer."""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}" height="{num(height)}" '
            f'viewBox="0 0 {num(width)} {num(height)}" font-family="{FONT}" role="img">\n'
            f"<title>{escape(title)}</title>\n"
            f'<rect width="100%" height="100%" fill="#fff"/>\n'
            + "\n".join(self.back + self.front)
            + "\n</svg>\n"
        )
