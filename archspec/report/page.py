"""`archspec report`: one self-contained HTML page (inline SVG and CSS, no script, no network).

Sections: the diagrams, a summary, the diff table with each knob's effect (analysis.diff),
parameters by component and per layer, memory against context length and weight format, FLOPs
per token at a labelled context length. Every string from a spec is escaped. Figures at a chosen
context come from `analyse` on the spec with that context as its `max_seq_len`.
"""

from __future__ import annotations

from archspec.analysis.compute import (
    KV_BYTES,
    WEIGHT_FORMATS,
    Analysis,
    analyse,
    matmul_params,
)
from archspec.analysis.diff import Effect, Row, diff
from archspec.analysis.params import COMPONENTS
from archspec.analysis.units import human, human_bytes
from archspec.draw import draw
from archspec.draw.svg import escape, svg_size
from archspec.plan.lower import lower
from archspec.report import charts
from archspec.spec.model import ModelSpec

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1a1a1a;font:14px/1.45 "DejaVu Sans",system-ui,
-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{background:#1f2937;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cbd5e1;font-size:13px}
main{max-width:1320px;margin:0 auto;padding:16px 20px 40px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:14px 18px;margin:14px 0}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:12px 0 6px;color:#374151}
.note{color:#555;font-size:12.5px;margin:6px 0 0}
.scroll{overflow-x:auto}
figure{margin:0}
figure svg{display:block;max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px 24px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #eceef1;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f8f9fb;font-weight:600}
tr>th:first-child{white-space:nowrap;width:1%}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.diff{background:#fff4e6;font-weight:600}
.effect{display:block;color:#666;font-weight:400;font-size:11.5px}
details summary{cursor:pointer;color:#374151;margin-top:8px}
"""


def report(specs: list[ModelSpec], seq_len: int | None = None) -> str:
    """The whole page for ``specs`` (the first is the reference of the diff).

    Args:
        specs: One or more validated specs.
        seq_len: Context length for FLOPs per token and memory figures (default: each model's
            max_seq_len).

    Returns:
        HTML text; the same specs always give the same bytes.
    """
    plans = [lower(spec) for spec in specs]
    analyses, rows = diff(specs, seq_len)  # knob effects on FLOPs at the same context
    at = [analyse(_at_context(spec, seq_len or spec.max_seq_len)) for spec in specs]
    names = [spec.name for spec in specs]
    title = "archspec report: " + ", ".join(names)
    parts = [
        _diagram(draw(plans)),
        _summary(specs, analyses, at, seq_len),
    ]
    if len(specs) > 1:
        parts.append(_diff_table(names, rows, seq_len))
    parts.append(_params(names, analyses))
    parts.append(_memory(specs, analyses, seq_len))
    parts.append(_flops(specs, at, seq_len))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>Exact counts from the specs; nothing was built or "
        "downloaded. Hover a bar or point for its exact value.</p></header><main>"
        + "\n".join(parts)
        + "</main></body></html>\n"
    )


SHRINK = 0.7
"""The diagram scales down to fit the page, but not below this: past it, it scrolls sideways
inside its frame (the page itself never does), so its text stays readable."""


def _diagram(svg: str) -> str:
    width, _ = svg_size(svg)
    return (
        '<section><h2>Architecture</h2><figure class="scroll">'
        f'<div style="min-width:{round(width * SHRINK)}px">{svg}</div></figure></section>'
    )


def _at_context(spec: ModelSpec, n: int) -> ModelSpec:
    """``spec`` as if its context were ``n`` tokens: what FLOPs and KV figures at ``n`` use."""
    return spec.model_copy(update={"max_seq_len": n})


def _effects_context(seq_len: int | None) -> str:
    return "full context" if seq_len is None else f"{seq_len:,} tokens"


def _context_label(spec: ModelSpec, seq_len: int | None) -> str:
    n = seq_len or spec.max_seq_len
    text = f"{n:,} tokens"
    if seq_len is None:
        text += " (max_seq_len)"
    elif seq_len > spec.max_seq_len:
        text += f" (beyond max_seq_len {spec.max_seq_len:,})"
    return text


def _summary(
    specs: list[ModelSpec], analyses: list[Analysis], at: list[Analysis], seq_len: int | None
) -> str:
    head = "".join(f"<th>{escape(s.name)}</th>" for s in specs)
    rows = [
        ("description", [escape(s.description) or "—" for s in specs]),
        ("parameters", [f"{a.params.total:,} ({human(a.params.total)})" for a in analyses]),
        ("parameters, head untied", [f"{a.params.total_untied:,}" for a in analyses]),
        ("non-embedding", [f"{a.params.non_embedding:,}" for a in analyses]),
        ("active / token", [f"{a.params.active:,}" for a in analyses]),
        ("context (max_seq_len)", [f"{s.max_seq_len:,}" for s in specs]),
        ("KV cache / token (16-bit)", [human_bytes(a.kv_cache_bytes_per_token) for a in analyses]),
        ("FLOPs context", [escape(_context_label(s, seq_len)) for s in specs]),
        (
            "KV cache, one sequence at that context",
            [human_bytes(a.kv_cache_bytes_full_context) for a in at],
        ),
        ("forward GFLOPs / token at that context", [f"{a.flops_per_token / 1e9:,.2f}" for a in at]),
        ("weights at bf16", [human_bytes(a.weight_bytes["bf16"]) for a in analyses]),
    ]
    body = "".join(
        f"<tr><th>{escape(label)}</th>"
        + "".join(f'<td class="num">{v}</td>' if i else f"<td>{v}</td>" for v in values)
        + "</tr>"
        for i, (label, values) in enumerate(rows)
    )
    return (
        f'<section><h2>Summary</h2><div class="scroll"><table><tr><th></th>{head}</tr>'
        f"{body}</table></div></section>"
    )


def _effect_text(e: Effect) -> str:
    parts = []
    if e.params:
        parts.append(("+" if e.params > 0 else "−") + human(abs(e.params)) + " params")
    if e.kv_cache_bytes_per_token:
        kv = e.kv_cache_bytes_per_token
        parts.append(f"KV {'+' if kv > 0 else '−'}{human_bytes(abs(kv))}/token")
    if e.flops_per_token:
        parts.append(f"{e.flops_per_token / 1e9:+.3g} GFLOPs/token".replace("-", "−"))
    return " · ".join(parts) or "no size change"


def _diff_table(names: list[str], rows: list[Row], seq_len: int | None) -> str:
    head = "<tr><th>feature</th>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"

    def row(r: Row) -> str:
        cells = []
        for value, effect in zip(r.values, r.effects, strict=True):
            cls = ' class="diff"' if value != r.values[0] else ""
            extra = (
                ""
                if effect is None
                else f'<span class="effect">{escape(_effect_text(effect))}</span>'
            )
            cells.append(f"<td{cls}>{escape(value)}{extra}</td>")
        return f"<tr><th>{escape(r.feature)}</th>{''.join(cells)}</tr>"

    differ = [r for r in rows if r.differs]
    same = [r for r in rows if not r.differs]
    table = (
        f'<div class="scroll"><table>{head}{"".join(row(r) for r in differ)}</table></div>'
        if differ
        else "<p>The specs agree on every feature.</p>"
    )
    agreed = (
        f"<details><summary>{len(same)} features where all agree</summary>"
        f'<div class="scroll"><table>{head}{"".join(row(r) for r in same)}</table></div></details>'
        if same
        else ""
    )
    return (
        "<section><h2>Differences</h2>"
        f'<p class="note">Shaded: differs from {escape(names[0])}. Under a value: what that knob '
        f"alone would change in {escape(names[0])} (parameters, KV cache per token, forward FLOPs "
        f"per token at {escape(_effects_context(seq_len))}).</p>{table}{agreed}</section>"
    )


def _params(names: list[str], analyses: list[Analysis]) -> str:
    shares = charts.stacked_shares(
        [(a.name, a.params.breakdown) for a in analyses], human, "Parameters by component"
    )
    stacks = [  # an encoder-decoder's encoder blocks get their own chart, before its decoder's
        (f"{a.name} {role}".strip(), layers)
        for a in analyses
        for role, layers in (
            (("encoder", a.params.encoder_layers), ("decoder", a.params.per_layer))
            if a.params.encoder_layers
            else (("", a.params.per_layer),)
        )
    ]
    layers = "".join(
        f"<h3>{escape(name)}: parameters per layer</h3><figure>"
        + charts.per_layer(
            name,
            [
                {"attention": layer.attention, "ffn": layer.ffn, "norm": layer.norm}
                for layer in stack
            ],
            human,
            f"{name}: parameters per layer",
        )
        + "</figure>"
        for name, stack in stacks
    )
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    body = "".join(
        f"<tr><th>{c}</th>"
        + "".join(f'<td class="num">{a.params.breakdown[c]:,}</td>' for a in analyses)
        + "</tr>"
        for c in COMPONENTS
    )
    total = "".join(f'<td class="num"><b>{a.params.total:,}</b></td>' for a in analyses)
    return (
        '<section><h2>Parameters</h2><div class="grid"><div><h3>By component</h3><figure>'
        f"{shares}</figure>"
        f'<div class="scroll"><table><tr><th></th>{head}</tr>{body}<tr><th>total</th>{total}</tr>'
        f'</table></div><p class="note">Tied output heads count once (in the embedding).</p>'
        f"</div><div>{layers}</div></div></section>"
    )


def _contexts(specs: list[ModelSpec], seq_len: int | None) -> list[int]:
    top = max([s.max_seq_len for s in specs] + [seq_len or 0])
    points = {2**k for k in range(8, 40) if 2**k <= top}
    points |= {s.max_seq_len for s in specs}
    if seq_len:
        points.add(seq_len)
    return sorted(points) or [top]


def _memory(specs: list[ModelSpec], analyses: list[Analysis], seq_len: int | None) -> str:
    contexts = _contexts(specs, seq_len)
    series = []
    for spec in specs:
        limit = max(spec.max_seq_len, seq_len or 0)
        pts = [
            (n, analyse(_at_context(spec, n)).kv_cache_bytes_full_context)
            for n in contexts
            if n <= limit
        ]
        series.append((spec.name, pts))
    kv = charts.lines(
        series,
        lambda b: human_bytes(int(b)),
        "context length (tokens, one sequence)",
        "KV cache against context length",
    )
    formats = list(WEIGHT_FORMATS)
    weights = charts.grouped_bars(
        formats,
        [(a.name, [a.weight_bytes[f] for f in formats]) for a in analyses],
        human_bytes,
        "Weight memory by format",
    )
    dtypes = {"fp32": 4, "bf16 / fp16": 2, "fp8 / int8": 1}
    head = "".join(f"<th>KV cache at {escape(d)}</th>" for d in dtypes)
    body = ""
    for spec in specs:
        n = seq_len or spec.max_seq_len
        full = analyse(_at_context(spec, n)).kv_cache_bytes_full_context
        cells = "".join(
            f'<td class="num">{human_bytes(full * b // KV_BYTES)}</td>' for b in dtypes.values()
        )
        body += f'<tr><th>{escape(spec.name)}</th><td class="num">{n:,}</td>{cells}</tr>'
    return (
        '<section><h2>Memory</h2><div class="grid"><div><h3>KV cache against context length '
        f"(16-bit cache, one sequence)</h3><figure>{kv}</figure>"
        '<p class="note">Sliding-window layers keep only their window. Other cache types scale '
        "the 16-bit figure: ×2 at fp32, ×½ at 8 bits.</p></div><div><h3>Weights by format</h3>"
        f"<figure>{weights}</figure>"
        '<p class="note">int8 / int4: weights only, without quantisation scales.</p></div></div>'
        f'<h3>KV cache of one sequence by cache type</h3><div class="scroll"><table><tr><th></th>'
        f"<th>context (tokens)</th>{head}</tr>{body}</table></div></section>"
    )


def _flops(specs: list[ModelSpec], at: list[Analysis], seq_len: int | None) -> str:
    label = (
        f"at a context of {seq_len:,} tokens"
        if seq_len
        else "at each model's full context (max_seq_len)"
    )
    parts = [
        (a.name, {"weights": 2 * matmul_params(s, a.params)})
        for s, a in zip(specs, at, strict=True)
    ]
    for (_, split), a in zip(parts, at, strict=True):
        split["attention over the context"] = a.flops_per_token - split["weights"]
    bars = charts.stacked_shares(
        parts,
        lambda f: f"{f / 1e9:,.2f} GF",
        f"Forward FLOPs per token {label}",
        colours={"weights": "#4dabf7", "attention over the context": "#f59f00"},
        absolute=True,
    )
    rows = "".join(
        f'<tr><th>{escape(s.name)}</th><td class="num">{escape(_context_label(s, seq_len))}</td>'
        f'<td class="num">{a.flops_per_token / 1e9:,.2f}</td></tr>'
        for s, a in zip(specs, at, strict=True)
    )
    return (
        f"<section><h2>Compute: forward FLOPs per token {escape(label)}</h2>"
        f'<div class="grid"><figure>{bars}</figure><div><table><tr><th></th><th>context</th>'
        f"<th>GFLOPs / token</th></tr>{rows}</table>"
        '<p class="note">2 × active matmul weights (output head included) + attention over the '
        "context each layer sees (Kaplan et al. 2020; PaLM appendix B). Choose the context with "
        "<code>--seq-len</code>.</p></div></div></section>"
    )
