"""Block diagrams of model plans in the style of papers' figures, several models side by side.

Each model is a column read bottom-up (tokens -> embedding -> N x block -> final norm -> head ->
logits). Columns are cut into the same slots, each as tall as its tallest member, so the parts
line up; a box whose facts differ from the first model's box of the same role is outlined.
Layers of more than one kind (Gemma 2's alternating windows) get a layer-pattern strip.
An encoder-decoder is two such columns (`columns`), the encoder's bands (`ENCODER`) aligned with
the decoder's, an arrow from the encoder's output into the decoder's cross-attention.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from archspec.analysis.units import human
from archspec.draw.parts import (
    Box,
    cross_attention_box,
    embedding_box,
    ffn_box,
    head_box,
    merge,
    mixer_box,
    norm_box,
)
from archspec.draw.svg import Svg, fit, wrap
from archspec.plan.types import LayerPlan, ModelPlan

COL_W = 320
CX = 175
"""Centre of the residual stream within a column (room on the left for the 'N x' label)."""
FRAME = 126
"""Half width of the repeated block's frame."""
BOX_W = 196
SKIP = 112
"""Offset of a residual skip line from the stream."""
BRANCH = 56
"""Offset of each branch of a parallel block from the stream."""
BRANCH_W = 100
SKIP_WIDE = 116
"""Offset of the skip line around the two branches of a parallel block."""
GAP = 12
R = 8
"""Radius of a residual addition."""
TITLE_SIZE, FACT_SIZE, LINE = 11, 10, 12.5
FILLS = {"mixer": "#dbe7fb", "ffn": "#dcf2e1", "norm": "#fff2bf", "io": "#ece3f7"}
STROKE, HIGHLIGHT = "#444", "#e8590c"
KIND_COLOURS = ("#4c6ef5", "#f59f00", "#12b886", "#e64980", "#7950f2", "#868e96")


@dataclass(frozen=True)
class Kind:
    """One kind of layer: the boxes of its block, and how many layers are of this kind."""

    boxes: dict[str, Box]
    count: int


@dataclass(frozen=True)
class View:
    """What one column shows: its boxes (layer kinds merged) and its layer pattern."""

    plan: ModelPlan
    wiring: str
    boxes: dict[str, Box]
    kinds: tuple[Kind, ...]
    pattern: tuple[int, ...]
    """Index into `kinds` of each layer."""
    kind_labels: tuple[str, ...]
    role: str = ""
    """`encoder` or `decoder` in an encoder-decoder model (its two columns), else empty."""
    n_params: int | None = None
    """Parameters of the column's stack, when it is one of two; None: the whole model's."""


def layer_boxes(layer: LayerPlan, model: ModelPlan) -> dict[str, Box]:
    """The boxes of one block, by role; missing norms are absent."""
    boxes = {
        "attn": mixer_box(layer.mixer, model, model.windows[layer.mask]),
        "ffn": ffn_box(layer.ffn, model),
    }
    if layer.cross_attention is not None:
        boxes["cross_attn"] = cross_attention_box(layer.cross_attention, model)
    for key in ("attn_norm", "attn_post_norm", "cross_attn_norm", "ffn_norm", "ffn_post_norm"):
        norm = getattr(layer, key)
        if norm is not None:
            boxes[key] = norm_box(key, norm)
    return boxes


def view(model: ModelPlan) -> View:
    """Group the layers into kinds and merge their boxes into one block drawing."""
    kinds: dict[LayerPlan, list[int]] = {}
    for layer in model.layers:
        kinds.setdefault(dataclasses.replace(layer, index=0), []).append(layer.index)
    kind_list = [Kind(layer_boxes(layer, model), len(ix)) for layer, ix in kinds.items()]
    order = {layer: i for i, layer in enumerate(kinds)}
    pattern = tuple(order[dataclasses.replace(layer, index=0)] for layer in model.layers)
    keys = list(dict.fromkeys(k for kind in kind_list for k in kind.boxes))
    block = {k: merge([kind.boxes[k] for kind in kind_list if k in kind.boxes]) for k in keys}
    labels = []
    for kind in kind_list:
        own = [
            text
            for key, box in kind.boxes.items()
            for fact, text in box.facts
            if len({other.boxes.get(key, box).fields.get(fact) for other in kind_list}) > 1
        ]
        labels.append(" · ".join(own) or "same parts")
    boxes = dict(block)
    boxes["embed"] = embedding_box(model)
    boxes["head"] = head_box(model)
    if model.final_norm is not None:
        boxes["final_norm"] = norm_box("final_norm", model.final_norm)
    return View(model, model.layers[0].wiring, boxes, tuple(kind_list), pattern, tuple(labels))


@dataclass(frozen=True)
class Compare:
    """Marks what differs from the reference column's box of the same role."""

    ref: dict[str, Box] | None
    """The first column's boxes; None while drawing the first column itself."""
    ref_plan: ModelPlan | None = None

    def marks(self, box: Box) -> tuple[bool, bool, set[str]]:
        """(outline the box, mark its title, keys of the facts to mark)."""
        if self.ref is None:
            return False, False, set()
        other = self.ref.get(box.key)
        if other is None:
            return True, True, {key for key, _ in box.facts}
        facts = {key for key, text in box.facts if other.fields.get(key) != text}
        title = other.title != box.title
        return title or bool(facts) or other.signature != box.signature, title, facts


def _box(g: Svg, box: Box, cx: float, y: float, width: float, cmp: Compare) -> float:
    """Draw ``box`` centred on ``cx`` with its top at ``y``; return its height."""
    outline, title_mark, fact_marks = cmp.marks(box)
    title = wrap(box.title.split(" "), width - 10, TITLE_SIZE)
    facts = wrap([text for _, text in box.facts], width - 10, FACT_SIZE, sep=" · ")
    height = 8 + LINE * (len(title) + len(facts))
    fill = FILLS[box.style]
    if box.stacked:
        for shift in (6, 3):
            g.rect(cx - width / 2 + shift, y - shift, width, height, fill=fill, stroke=STROKE)
    g.rect(
        cx - width / 2,
        y,
        width,
        height,
        fill=fill,
        stroke=HIGHLIGHT if outline else STROKE,
        stroke_width=2.5 if outline else 1,
    )
    marked = [key in fact_marks for key, _ in box.facts]
    ty = y + 4 + LINE - 3
    for line in title:
        text = " ".join(piece for piece, _ in line)
        g.runs(cx, ty, [(text, title_mark)], sep=" ", size=TITLE_SIZE, bold=True)
        ty += LINE
    for line in facts:
        runs = [(piece, marked[i]) for piece, i in line]
        g.runs(cx, ty, runs, sep=" · ", size=FACT_SIZE, fill="#333")
        ty += LINE
    return height


def _sublayer(g: Svg, y: float, branch: list[Box], after: Box | None, cmp: Compare) -> float:
    """A residual sub-layer drawn top-down from ``y``: [norm after the add], the add, then the
    branch's boxes (given bottom-up); the skip leaves the stream below them. Returns the bottom."""
    y += GAP
    if after is not None:
        y += _box(g, after, CX, y, BOX_W, cmp) + GAP
    add_y = y + R
    g.add(CX, add_y, R)
    y += 2 * R + GAP
    for box in reversed(branch):
        height = _box(g, box, CX, y, BOX_W, cmp)
        g.anchors[box.key] = y + height / 2
        y += height + GAP
    skip_y = y - GAP / 2
    g.path([(CX, skip_y), (CX + SKIP, skip_y), (CX + SKIP, add_y), (CX + R + 1, add_y)])
    g.arrow(CX + R + 1, add_y, "left")
    return y


def _parallel(g: Svg, y: float, v: View, cmp: Compare) -> float:
    """x + attn(n1(x)) + ffn(n2(x)): two branches side by side merging into one add, the skip
    around them on the right; with a shared norm, one norm on the stream feeds both branches."""
    add_y = y + GAP + R
    g.add(CX, add_y, R)
    g.path([(CX, y), (CX, add_y - R)])
    merge_y = add_y + R + 10
    y = merge_y + 10
    left, right = CX - BRANCH, CX + BRANCH
    shared = "ffn_norm" not in v.boxes
    bottoms = []
    for x, keys in ((left, ["attn"]), (right, ["ffn"])):
        if not shared:
            keys.append(keys[0] + "_norm")
        by = y
        for key in keys:
            by += _box(g, v.boxes[key], x, by, BRANCH_W, cmp) + GAP
        bottoms.append(by)
    split_y = max(bottoms) - GAP / 2
    for x in (left, right):
        g.path([(x, split_y), (x, merge_y), (CX, merge_y), (CX, add_y + R + 1)])
    g.arrow(CX, add_y + R + 1, "up")
    g.path([(left, split_y), (right, split_y)])
    y = split_y + GAP / 2
    if shared:
        y += GAP / 2 + _box(g, v.boxes["attn_norm"], CX, y + GAP / 2, BOX_W / 2, cmp) + GAP
    skip_y = y
    g.path([(CX, split_y), (CX, skip_y + GAP / 2)])
    g.path([(CX, skip_y), (CX + SKIP_WIDE, skip_y), (CX + SKIP_WIDE, add_y), (CX + R + 1, add_y)])
    g.arrow(CX + R + 1, add_y, "left")
    return skip_y + GAP / 2


def _sequential(g: Svg, y: float, v: View, cmp: Compare) -> float:
    """x + post(f(pre(x))) twice (attention, then FFN), with whichever norms the plan has."""
    top = y
    for name in ("ffn", "cross_attn", "attn"):
        if name not in v.boxes:
            continue
        keys = (f"{name}_norm", name, f"{name}_post_norm")
        y = _sublayer(g, y, [v.boxes[k] for k in keys if k in v.boxes], None, cmp)
    g.path([(CX, top), (CX, y)])
    return y


def _post(g: Svg, y: float, v: View, cmp: Compare) -> float:
    """norm(x + f(x)) twice: the norm sits on the stream after the add (original Transformer)."""
    top = y
    for name in ("ffn", "attn"):
        y = _sublayer(g, y, [v.boxes[name]], v.boxes[f"{name}_norm"], cmp)
    g.path([(CX, top), (CX, y)])
    return y


WIRINGS: dict[str, Callable[[Svg, float, View, Compare], float]] = {
    "sequential": _sequential,
    "post": _post,
    "parallel": _parallel,
}
"""How a block is drawn, by the plan's wiring; each returns the bottom of what it drew."""


def _block(v: View, cmp: Compare) -> tuple[Svg, float]:
    """The repeated block in local coordinates (top at 0); returns it and its height."""
    g = Svg()
    return g, WIRINGS[v.wiring](g, 0.0, v, cmp)


def _pattern(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    """The layer-pattern strip: one cell per layer coloured by its kind (runs merged), and a
    legend of what sets each kind apart."""
    if len(v.kinds) < 2:
        return
    g.text(CX - FRAME, y + 10, "Layer pattern (layer 0 at left):", size=10, anchor="start")
    cell = 2 * FRAME / len(v.pattern)
    start = 0
    for i in range(1, len(v.pattern) + 1):
        if i < len(v.pattern) and v.pattern[i] == v.pattern[start]:
            continue
        colour = KIND_COLOURS[v.pattern[start] % len(KIND_COLOURS)]
        x = CX - FRAME + start * cell
        g.rect(
            x, y + 15, (i - start) * cell, 12, fill=colour, stroke="#fff", stroke_width=0.5, rx=0
        )
        start = i
    for k, (kind, label) in enumerate(zip(v.kinds, v.kind_labels, strict=True)):
        ky = y + 32 + k * 14
        g.rect(
            CX - FRAME, ky, 10, 10, fill=KIND_COLOURS[k % len(KIND_COLOURS)], stroke="#fff", rx=1
        )
        text = f"{kind.count} × {label}"
        g.text(CX - FRAME + 14, ky + 9, fit(text, 2 * FRAME - 14, 10), size=10, anchor="start")


def _pattern_height(v: View) -> float:
    return 0 if len(v.kinds) < 2 else 40 + 14 * len(v.kinds)


def _stream(g: Svg, y0: float, y1: float) -> None:
    g.path([(CX, y0), (CX, y1)])


def _output(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    g.text(CX, y + 10, "logits", size=10.5, fill="#555")
    _stream(g, y + 14, y + height)
    g.arrow(CX, y + 14, "up")


def _input(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    _stream(g, y, y + height - 12)
    g.text(CX, y + height, "tokens", size=10.5, fill="#555")


def _boxed(key: str) -> Slot:
    """A slot holding one box on the stream (absent boxes leave the stream running through)."""

    def measure(v: View) -> float:
        box = v.boxes.get(key)
        return 0 if box is None else _box(Svg(), box, CX, 0, BOX_W, Compare(None)) + GAP

    def paint(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
        _stream(g, y, y + height)
        if key in v.boxes:
            _box(g, v.boxes[key], CX, y, BOX_W, cmp)

    return Slot(measure, paint)


def _block_height(v: View) -> float:
    return _block(v, Compare(None))[1] + 2 * GAP


def _repeated(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    """The repeated block in its dashed frame with 'N×', the stream padding it to the slot."""
    block, own = _block(v, cmp)
    g.rect(
        CX - FRAME, y, 2 * FRAME, height, fill="#f7f7f9", stroke=STROKE, rx=8, dash=True, back=True
    )
    _stream(g, y, y + GAP)
    _stream(g, y + GAP + own, y + height)
    g.group(block, 0, y + GAP)
    g.anchors.update({key: y + GAP + at for key, at in block.anchors.items()})
    differs = cmp.ref_plan is not None and v.plan.n_layers != cmp.ref_plan.n_layers
    g.text(
        CX - FRAME - 6,
        y + height / 2 + 5,
        f"{v.plan.n_layers}×",
        size=14,
        anchor="end",
        bold=True,
        fill=HIGHLIGHT if differs else "#1a1a1a",
    )


def _title(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    name = f"{v.plan.name} · {v.role}" if v.role else v.plan.name
    g.text(CX, y + 18, fit(name, COL_W - 20, 14), size=14, bold=True)
    n_params = v.plan.n_params if v.n_params is None else v.n_params
    sub = f"{human(n_params)} parameters · {v.plan.n_layers} layers · d {v.plan.d_model}"
    g.text(CX, y + 34, fit(sub, COL_W - 20, 10.5), size=10.5, fill="#555")


@dataclass(frozen=True)
class Slot:
    """A horizontal band of the figure: as tall as its tallest column, so columns align."""

    measure: Callable[[View], float]
    paint: Callable[[Svg, View, float, float, Compare], None]


DECODER_ONLY = (
    Slot(lambda v: 44, _title),
    Slot(_pattern_height, _pattern),
    Slot(lambda v: 22, _output),
    _boxed("head"),
    _boxed("final_norm"),
    Slot(_block_height, _repeated),
    Slot(lambda v: GAP, lambda g, v, y, h, cmp: _stream(g, y, y + h)),
    _boxed("embed"),
    Slot(lambda v: 24, _input),
)
"""The bands of a decoder-only model (and of the decoder of an encoder-decoder), top to bottom."""


def _encoder_output(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    """Where the encoder's stream ends: the cross-attention arrow leaves from here."""
    g.text(CX, y + 10, "encoder output", size=10.5, fill="#555")
    _stream(g, y + 14, y + height)
    g.anchors["output"] = y + 6


def _encoder_embedding(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    """The encoder's own embedding, or a line from the decoder's shared one beside it."""
    if "embed" in v.boxes:
        _boxed("embed").paint(g, v, y, height, cmp)
        return
    mid = y + height / 2
    _stream(g, y, mid)
    g.path([(CX, mid), (COL_W + CX - BOX_W / 2, mid)])
    g.arrow(CX, y, "up")
    g.text(CX + 6, mid - 4, "shared embedding", size=10, fill="#555", anchor="start")


def _encoder_input(g: Svg, v: View, y: float, height: float, cmp: Compare) -> None:
    if "embed" in v.boxes:
        _input(g, v, y, height, cmp)


ENCODER = (
    Slot(lambda v: 44, _title),
    Slot(_pattern_height, _pattern),
    Slot(lambda v: 22, _encoder_output),
    _boxed("head"),
    _boxed("final_norm"),
    Slot(_block_height, _repeated),
    Slot(lambda v: GAP, lambda g, v, y, h, cmp: _stream(g, y, y + h)),
    Slot(_boxed("embed").measure, _encoder_embedding),
    Slot(lambda v: 24, _encoder_input),
)
"""The bands of the encoder column, beside its decoder's and aligned with DECODER_ONLY's: no
head, 'encoder output' instead of logits, its own embedding or a link to the shared one."""


def encoder_view(model: ModelPlan) -> View:
    """The encoder stack drawn as a column: its layers, final norm and relative bias in place of
    the decoder's (the boxes read the model plan), no head."""
    stack = model.encoder
    assert stack is not None
    as_model = dataclasses.replace(
        model,
        layers=stack.layers,
        n_layers=stack.n_layers,
        final_norm=stack.final_norm,
        relative_bias=stack.relative_bias,
        encoder=None,
    )
    v = view(as_model)
    boxes = {k: box for k, box in v.boxes.items() if k != "head"}
    if stack.own_embedding:
        boxes["embed"] = dataclasses.replace(boxes["embed"], title="Encoder token embedding")
    else:
        del boxes["embed"]
    return dataclasses.replace(v, boxes=boxes, role="encoder", n_params=stack.n_params)


def columns(model: ModelPlan) -> list[tuple[View, tuple[Slot, ...]]]:
    """The columns of one model with their bands: one for a decoder-only model; the encoder
    beside the decoder for an encoder-decoder."""
    if model.encoder is None:
        return [(view(model), DECODER_ONLY)]
    decoder = dataclasses.replace(
        view(model), role="decoder", n_params=model.n_params - model.encoder.n_params
    )
    return [(encoder_view(model), ENCODER), (decoder, DECODER_ONLY)]


def _cross_arrow(svg: Svg, x: float, encoder: Svg, decoder: Svg) -> None:
    """From the encoder's output (column at ``x``) down into the decoder's cross-attention."""
    top, into = encoder.anchors["output"], decoder.anchors["cross_attn"]
    gutter = x + COL_W - 2
    tip = x + COL_W + CX - BOX_W / 2
    svg.path([(x + CX + 44, top), (gutter, top), (gutter, into), (tip, into)])
    svg.arrow(tip, into, "right")


def draw(plans: list[ModelPlan]) -> str:
    """An SVG document drawing ``plans`` side by side, differences from the first outlined.

    Args:
        plans: One or more lowered models.

    Returns:
        The SVG text; the same plans always give the same bytes.
    """
    cols = [col for plan in plans for col in columns(plan)]
    first = cols[0][0]
    refs = {}
    for v, _ in cols:
        refs.setdefault(v.role or "decoder", v)
    heights = [max(slots[i].measure(v) for v, slots in cols) for i in range(len(DECODER_ONLY))]
    svg = Svg()
    drawn = []
    for i, (v, slots) in enumerate(cols):
        ref = refs[v.role or "decoder"]
        cmp = Compare(None) if ref is v else Compare(ref.boxes, ref.plan)
        g = Svg()
        y = 0.0
        for slot, height in zip(slots, heights, strict=True):
            slot.paint(g, v, y, height, cmp)
            y += height
        svg.group(g, i * COL_W, 0)
        drawn.append(g)
    for i, (v, _) in enumerate(cols):
        if v.role == "encoder":
            _cross_arrow(svg, i * COL_W, drawn[i], drawn[i + 1])
    several = len(plans) > 1
    height = math.ceil(sum(heights) + (30 if several else 8))
    if several:
        note = f"Outlined in orange: differs from {first.plan.name} (what differs in bold)."
        svg.text(12, height - 12, fit(note, len(cols) * COL_W - 24, 11), size=11, anchor="start")
    names = ", ".join(plan.name for plan in plans)
    return svg.render(len(cols) * COL_W, height, title=f"Architecture of {names}")
