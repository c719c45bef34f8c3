"""Block diagrams of model plans in the style of papers' figures, several models side by side.

Each model is a column read bottom-up (tokens -> embedding -> N x block -> final norm -> head ->
logits). Columns are cut into the same slots, each as tall as its tallest member, so the parts
line up; a box whose facts differ from the first model's box of the same role is outlined.
Layers of more than one kind (Gemma 2's alternating windows) get a layer-pattern strip.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from archspec.analysis.units import human
from archspec.draw.parts import Box, embedding_box, ffn_box, head_box, merge, mixer_box, norm_box
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
    """One kind of layer: the boxes of its block."""

    layer: LayerPlan
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


def layer_boxes(layer: LayerPlan, model: ModelPlan) -> dict[str, Box]:
    """The boxes of one block, by role; missing norms are absent."""
    boxes = {
        "attn": mixer_box(layer.attention, model, model.windows[layer.mask]),
        "ffn": ffn_box(layer.ffn, model),
    }
    for key in ("attn_norm", "attn_post_norm", "ffn_norm", "ffn_post_norm"):
        norm = getattr(layer, key)
        if norm is not None:
            boxes[key] = norm_box(key, norm)
    return boxes


def view(model: ModelPlan) -> View:
    """Group the layers into kinds and merge their boxes into one block drawing."""
    kinds: dict[LayerPlan, list[int]] = {}
    for layer in model.layers:
        kinds.setdefault(dataclasses.replace(layer, index=0), []).append(layer.index)
    kind_list = [Kind(layer, layer_boxes(layer, model), len(ix)) for layer, ix in kinds.items()]
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

    def differs(self, key: str, value: object, ref_value: object) -> bool:
        return self.ref is not None and value != ref_value


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
        y += _box(g, box, CX, y, BOX_W, cmp) + GAP
    skip_y = y - GAP / 2
    g.path([(CX, skip_y), (CX + SKIP, skip_y), (CX + SKIP, add_y), (CX + R + 1, add_y)])
    g.arrow(CX + R + 1, add_y, "left")
    return y


def _parallel(g: Svg, y: float, v: View, cmp: Compare) -> float:
    """x + attn(n1(x)) + ffn(n2(x)): two branches side by side merging into one add, the skip
    around them on the right; with a shared norm, one norm on the stream feeds both branches."""
    add_y = y + GAP + R
    g.add(CX, add_y, R)
    g.path([(CX, 0), (CX, add_y - R)])
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


def _block(v: View, cmp: Compare) -> tuple[Svg, float]:
    """The repeated block in local coordinates (top at 0); returns it and its height."""
    g = Svg()
    b = v.boxes
    if v.wiring == "parallel":
        return g, _parallel(g, 0, v, cmp)
    post = v.wiring == "post"
    y = 0.0
    for name in ("ffn", "attn"):
        branch = [b[k] for k in (f"{name}_norm", name, f"{name}_post_norm") if k in b]
        after = None
        if post:
            branch, after = [b[name]], b[f"{name}_norm"]
        y = _sublayer(g, y, branch, after, cmp)
    g.path([(CX, 0), (CX, y)])
    return g, y


def _title(g: Svg, v: View) -> None:
    g.text(CX, 18, fit(v.plan.name, COL_W - 20, 14), size=14, bold=True)
    sub = f"{human(v.plan.n_params)} parameters · {v.plan.n_layers} layers · d {v.plan.d_model}"
    g.text(CX, 34, fit(sub, COL_W - 20, 10.5), size=10.5, fill="#555")


def _pattern(g: Svg, v: View) -> None:
    if len(v.kinds) < 2:
        return
    g.text(CX - FRAME, 10, "Layer pattern (layer 0 at left):", size=10, anchor="start")
    width = 2 * FRAME / len(v.pattern)
    for i, kind in enumerate(v.pattern):
        colour = KIND_COLOURS[kind % len(KIND_COLOURS)]
        g.rect(
            CX - FRAME + i * width,
            15,
            width,
            12,
            fill=colour,
            stroke="#fff",
            stroke_width=0.5,
            rx=0,
        )
    for k, (kind, label) in enumerate(zip(v.kinds, v.kind_labels, strict=True)):
        y = 32 + k * 14
        g.rect(CX - FRAME, y, 10, 10, fill=KIND_COLOURS[k % len(KIND_COLOURS)], stroke="#fff", rx=1)
        text = f"{kind.count} × {label}"
        g.text(CX - FRAME + 14, y + 9, fit(text, 2 * FRAME - 14, 10), size=10, anchor="start")


def _pattern_height(v: View) -> float:
    return 0 if len(v.kinds) < 2 else 36 + 14 * len(v.kinds)


def draw(plans: list[ModelPlan]) -> str:
    """An SVG document drawing ``plans`` side by side, differences from the first outlined.

    Args:
        plans: One or more lowered models.

    Returns:
        The SVG text; the same plans always give the same bytes.
    """
    views = [view(plan) for plan in plans]
    first = views[0]

    compares = [Compare(None if v is first else first.boxes) for v in views]
    blocks = [_block(v, cmp) for v, cmp in zip(views, compares, strict=True)]
    pattern_h = max(_pattern_height(v) for v in views)
    head_h, embed_h, final_h = (
        max(_measure(v.boxes.get(key)) for v in views) for key in ("head", "embed", "final_norm")
    )
    block_h = max(height for _, height in blocks) + 2 * GAP
    top = 44 + pattern_h
    y_logits = top + 12
    y_head = y_logits + 18
    y_final = y_head + head_h + GAP
    y_block = y_final + final_h + (GAP if final_h else 0) + 6
    y_embed = y_block + block_h + 6 + GAP
    y_tokens = y_embed + embed_h + 22
    height = math.ceil(y_tokens + 10 + (28 if len(views) > 1 else 8))
    svg = Svg()
    for i, (v, (block, own_h), cmp) in enumerate(zip(views, blocks, compares, strict=True)):
        g = Svg()
        _title(g, v)
        p = Svg()
        _pattern(p, v)
        g.group(p, 0, 44)
        g.rect(
            CX - FRAME,
            y_block,
            2 * FRAME,
            block_h,
            fill="#f7f7f9",
            stroke=STROKE,
            rx=8,
            dash=True,
            back=True,
        )
        g.path([(CX, y_logits + 4), (CX, y_block + GAP)])
        g.path([(CX, y_block + GAP + own_h), (CX, y_tokens - 12)])
        g.arrow(CX, y_logits + 4, "up")
        g.text(CX, y_logits, "logits", size=10.5, fill="#555")
        g.text(CX, y_tokens, "tokens", size=10.5, fill="#555")
        _box(g, v.boxes["head"], CX, y_head, BOX_W, cmp)
        if "final_norm" in v.boxes:
            _box(g, v.boxes["final_norm"], CX, y_final, BOX_W, cmp)
        hl = cmp.differs("n_layers", v.plan.n_layers, first.plan.n_layers)
        g.text(
            CX - FRAME - 6,
            y_block + block_h / 2 + 5,
            f"{v.plan.n_layers}×",
            size=14,
            anchor="end",
            bold=True,
            fill=HIGHLIGHT if hl else "#1a1a1a",
        )
        g.group(block, 0, y_block + GAP)
        _box(g, v.boxes["embed"], CX, y_embed, BOX_W, cmp)
        svg.group(g, i * COL_W, 0)
    if len(views) > 1:
        note = f"Outlined in orange: differs from {first.plan.name} (what differs in bold)."
        svg.text(12, height - 12, fit(note, len(views) * COL_W - 24, 11), size=11, anchor="start")
    names = ", ".join(v.plan.name for v in views)
    return svg.render(len(views) * COL_W, height, title=f"Architecture of {names}")


def _measure(box: Box | None) -> float:
    if box is None:
        return 0
    return _box(Svg(), box, CX, 0, BOX_W, Compare(None))
