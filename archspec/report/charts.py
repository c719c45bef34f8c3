"""Charts of the report as inline SVG: stacked bars, small per-layer columns, line charts.

Hand-written like the diagrams (deterministic bytes, no script); each mark carries a <title>
with its exact value, which browsers show on hover.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from archspec.draw.svg import FONT, escape, fit, num

PALETTE = ("#4263eb", "#f08c00", "#2f9e44", "#d6336c", "#7048e8", "#1098ad", "#868e96")
COMPONENT_COLOURS = {
    "embedding": "#9775fa",
    "position": "#e599f7",
    "attention": "#4dabf7",
    "ffn": "#69db7c",
    "norm": "#ffd43b",
    "head": "#ff8787",
}


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {num(width)} '
        f'{num(height)}" width="{num(width)}" height="{num(height)}" font-family="{FONT}" '
        f'role="img"><title>{escape(label)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, size: float = 11, anchor: str = "start", **kw: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in kw.items())
    return (
        f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" fill="{fill}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float, width: float) -> list[str]:
    out, cx = [], x
    for name, colour in items:
        step = 18 + len(name) * 6.6 + 14
        if cx + step > x + width and cx > x:
            cx, y = x, y + 16
        out.append(f'<rect x="{num(cx)}" y="{num(y - 9)}" width="11" height="11" fill="{colour}"/>')
        out.append(_text(cx + 15, y, name))
        cx += step
    return out


def stacked_shares(
    rows: Sequence[tuple[str, dict[str, int]]],
    fmt: Callable[[int], str],
    label: str,
    colours: dict[str, str] = COMPONENT_COLOURS,
    absolute: bool = False,
) -> str:
    """One horizontal bar per model, split into parts with their shares marked; each bar full
    width, or (``absolute``) as long as its total against the largest."""
    width, left, bar = 640, 150, 22
    names = [k for k in colours if any(parts.get(k) for _, parts in rows)]
    body = _legend([(n, colours[n]) for n in names], left, 14, width - left)
    top = 30
    peak = max((sum(parts.values()) for _, parts in rows), default=0) or 1
    for i, (model, parts) in enumerate(rows):
        y = top + i * (bar + 12)
        total = sum(parts.values()) or 1
        scale = peak if absolute else total
        body.append(_text(left - 8, y + bar / 2 + 4, fit(model, left - 12, 11), anchor="end"))
        x = left
        for name in names:
            value = parts.get(name, 0)
            w = (width - left - 80) * value / scale
            if w > 0:
                tip = f"{model}: {name} {fmt(value)} ({100 * value / total:.1f}%)"
                body.append(_rect(x, y, w, bar, colours[name], tip))
                if w > 34:
                    share = f"{100 * value / total:.0f}%"
                    body.append(_text(x + w / 2, y + bar / 2 + 4, share, 10, "middle"))
            x += w
        body.append(_text(x + 6, y + bar / 2 + 4, fmt(total), 11))
    height = top + len(rows) * (bar + 12) + 4
    return _svg(width, height, label, body)


MAX_BARS = 200
"""Past this many layers, neighbouring layers share a column (their largest count), so a very
deep model does not turn into tens of thousands of elements."""


def per_layer(
    model: str, layers: Sequence[dict[str, int]], fmt: Callable[[int], str], label: str
) -> str:
    """Columns per layer, stacked by component: where the parameters of the blocks sit."""
    width, height, left, bottom, top = 640, 150, 64, 22, 12
    group = max(1, math.ceil(len(layers) / MAX_BARS))
    columns = []
    for start in range(0, len(layers), group):
        members = layers[start : start + group]
        biggest = max(members, key=lambda layer: sum(layer.values()))
        span = (
            f"layer {start}"
            if group == 1
            else f"layers {start}-{start + len(members) - 1}, largest"
        )
        columns.append((span, biggest))
    peak = max((sum(layer.values()) for _, layer in columns), default=0) or 1
    plot_w, plot_h = width - left - 10, height - top - bottom
    step = plot_w / max(len(columns), 1)
    body = [
        f'<line x1="{left}" y1="{num(top + plot_h)}" x2="{width - 10}" y2="{num(top + plot_h)}" '
        'stroke="#888"/>',
        _text(left - 6, top + 8, fmt(peak), 10, "end"),
        _text(left - 6, top + plot_h, "0", 10, "end"),
        _text(left, height - 6, "layer 0", 10),
        _text(width - 10, height - 6, f"layer {len(layers) - 1}", 10, "end"),
    ]
    for i, (span, layer) in enumerate(columns):
        y = top + plot_h
        for name, value in layer.items():
            h = plot_h * value / peak
            if h <= 0:
                continue
            y -= h
            tip = f"{model}, {span}: {name} {value:,}"
            body.append(
                _rect(left + i * step + step * 0.1, y, step * 0.8, h, COMPONENT_COLOURS[name], tip)
            )
    return _svg(width, height, label, body)


def _binary_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Powers of two between ``lo`` and ``hi`` (sizes in bytes read well as KiB / MiB / GiB),
    thinned to at most ``most`` evenly spaced ones."""
    ticks = [2.0**k for k in range(math.ceil(math.log2(lo)), math.floor(math.log2(hi)) + 1)]
    step = max(1, math.ceil(len(ticks) / most))
    return ticks[::step]


def lines(
    series: Sequence[tuple[str, Sequence[tuple[int, int]]]],
    fmt: Callable[[float], str],
    x_label: str,
    label: str,
) -> str:
    """A line per model over context lengths (log2 x axis, log10 y axis)."""
    width, height, left, right, top, bottom = 640, 300, 74, 16, 40, 40
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts if y > 0]
    if not xs or not ys:
        return _svg(width, 60, label, [_text(10, 30, "nothing to plot")])
    x0, x1 = math.log2(min(xs)), math.log2(max(xs))
    y0, y1 = math.log10(min(ys)), math.log10(max(ys))
    if y1 - y0 < 1:
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + plot_w * (math.log2(x) - x0) / (x1 - x0)

    def py(y: float) -> float:
        return top + plot_h * (1 - (math.log10(y) - y0) / (y1 - y0))

    body = _legend(
        [(name, PALETTE[i % len(PALETTE)]) for i, (name, _) in enumerate(series)], left, 14, plot_w
    )
    for t in _binary_ticks(10**y0, 10**y1):
        y = py(t)
        body.append(
            f'<line x1="{left}" y1="{num(y)}" x2="{width - right}" y2="{num(y)}" stroke="#e6e6e6"/>'
        )
        body.append(_text(left - 6, y + 4, fmt(t), 10, "end"))
    for x in sorted(set(xs)):
        if math.log2(x) == int(math.log2(x)) or x == max(xs):
            body.append(_text(px(x), height - bottom + 16, _tokens(x), 10, "middle"))
    body.append(_text(left + plot_w / 2, height - 6, x_label, 11, "middle", fill="#555"))
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>'
    )
    for i, (name, pts) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{num(px(x))},{num(py(y))}" for x, y in pts if y > 0)
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            if y > 0:
                body.append(
                    f'<circle cx="{num(px(x))}" cy="{num(py(y))}" r="3" fill="{colour}">'
                    f"<title>{escape(f'{name}: {fmt(y)} at {x:,} tokens')}</title></circle>"
                )
    return _svg(width, height, label, body)


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    fmt: Callable[[int], str],
    label: str,
) -> str:
    """Bars per group (e.g. weight format), one bar per model, linear scale from zero."""
    width, height, left, top, bottom = 640, 260, 74, 40, 30
    peak = max((v for _, values in series for v in values), default=0) or 1
    plot_w, plot_h = width - left - 10, height - top - bottom
    body = _legend(
        [(name, PALETTE[i % len(PALETTE)]) for i, (name, _) in enumerate(series)], left, 14, plot_w
    )
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#888"/>'
    )
    body.append(_text(left - 6, top + 8, fmt(peak), 10, "end"))
    body.append(_text(left - 6, top + plot_h, "0", 10, "end"))
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for g, group in enumerate(groups):
        gx = left + g * group_w + group_w * 0.1
        body.append(_text(gx + group_w * 0.4, height - 10, group, 11, "middle"))
        for s, (name, values) in enumerate(series):
            h = plot_h * values[g] / peak
            tip = f"{name}, {group}: {fmt(values[g])}"
            body.append(
                _rect(
                    gx + s * bar_w,
                    top + plot_h - h,
                    bar_w * 0.92,
                    h,
                    PALETTE[s % len(PALETTE)],
                    tip,
                )
            )
            if bar_w >= 48:
                x = gx + s * bar_w + bar_w * 0.46
                body.append(_text(x, top + plot_h - h - 4, fmt(values[g]), 10, "middle"))
    return _svg(width, height, label, body)


def _tokens(n: int) -> str:
    """4096 -> '4K', 131072 -> '128K', 1000 -> '1000'."""
    if n >= 1024 and n % 1024 == 0:
        k = n // 1024
        return f"{k // 1024}M" if k >= 1024 and k % 1024 == 0 else f"{k}K"
    return str(n)
