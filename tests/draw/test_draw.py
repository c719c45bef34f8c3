"""Block diagrams: deterministic bytes, valid XML, every spec feature visible, strings escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings

from archspec.draw import draw
from archspec.draw.figure import HIGHLIGHT
from archspec.draw.svg import wrap
from archspec.plan.lower import lower
from archspec.spec.load import load_spec
from archspec.spec.shipped import shipped_names
from tests.strategies import encoder_decoder_specs, hostile_text, specs, tiny_spec

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(**changes: Any) -> str:
    return draw([lower(tiny_spec(**changes))])


def texts(svg: str) -> str:
    """All visible text of the figure, one element per line (tspans joined)."""
    root = ET.fromstring(svg)
    return "\n".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


ENCODER_DECODER = [name for name in shipped_names() if load_spec(name).encoder is not None]


def test_shipped_encoder_decoders_exist() -> None:
    assert {"t5-small", "flan-t5-small"} <= set(ENCODER_DECODER)


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_spec_draws_valid_deterministic_svg(name: str) -> None:
    plan = lower(load_spec(name))
    first, second = draw([plan]), draw([lower(load_spec(name))])
    assert first == second
    root = ET.fromstring(first)
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    shown = texts(first)
    assert name in shown and f"{plan.n_layers}×" in shown
    assert "Token embedding" in shown and "Output head" in shown


@pytest.mark.parametrize("name", ENCODER_DECODER)
def test_an_encoder_decoder_draws_two_columns_joined_by_cross_attention(name: str) -> None:
    plan = lower(load_spec(name))
    assert plan.encoder is not None and plan.relative_bias is not None
    svg = draw([plan])
    shown = texts(svg)
    assert f"{name} · encoder" in shown and f"{name} · decoder" in shown
    assert f"{plan.encoder.n_layers}×" in shown and "encoder output" in shown
    assert shown.count("Cross-attention") == 1 and "K, V: encoder output" in shown
    bias = plan.relative_bias
    fact = f"T5 relative bias ({bias.n_buckets} buckets, max {bias.max_distance})"
    assert re.sub(r"\s+", " ", shown.replace("\n", " ")).count(fact) == 2  # one per stack
    assert "bidirectional" in shown and "full causal" in shown
    assert float(ET.fromstring(svg).get("width")) == 2 * float(
        ET.fromstring(draw([lower(load_spec("llama2-7b"))])).get("width")
    )
    # the arrow from the encoder's output ends at the cross-attention box, pointing right
    assert svg.count("<polygon") > 1


def test_t5_head_shows_its_scale_and_tying_and_the_embedding_its_sharing() -> None:
    shown = texts(draw([lower(load_spec("t5-small"))]))
    assert "tied to embedding" in shown and "× d^-0.5" in shown
    assert "shared embedding" in shown and "encoder + decoder" in shown
    flan = texts(draw([lower(load_spec("flan-t5-small"))]))
    assert "untied" in flan and "d^-0.5" not in flan


def test_an_encoder_with_its_own_embedding_draws_two_embeddings() -> None:
    own = draw(
        [
            lower(
                load_spec("t5-small").model_copy(
                    update={
                        "encoder": load_spec("t5-small").encoder.model_copy(
                            update={"share_embedding": False}
                        )
                    }
                )
            )
        ]
    )
    shown = texts(own)
    assert "Encoder token embedding" in shown and "shared embedding" not in shown
    assert shown.count("tokens") == 2


def test_encoder_decoders_and_decoder_only_models_compare_side_by_side() -> None:
    svg = draw([lower(load_spec(n)) for n in ("t5-small", "flan-t5-small", "llama2-7b")])
    shown = texts(svg)
    assert "differs from t5-small" in shown and shown.split("\n").count("encoder output") == 2
    assert HIGHLIGHT in svg


BASE = svg_of()

FEATURES: list[tuple[str, dict[str, Any], str]] = [
    ("gqa", {"attention": {"n_kv_heads": 2}}, "Grouped-query attention"),
    ("kv heads", {"attention": {"n_kv_heads": 2}}, "2 kv heads"),
    ("mqa", {"attention": {"n_kv_heads": 1}}, "Multi-query attention"),
    ("head size", {"attention": {"head_dim": 8}}, "head 8"),
    ("window", {"attention": {"sliding_window": 8}}, "window 8"),
    ("attention softcap", {"attention": {"logit_softcap": 50.0}}, "softcap 50"),
    ("qk norm per head", {"attention": {"qk_norm": {"scope": "head"}}}, "QK-RMSNorm per head"),
    ("qk norm projection", {"attention": {"qk_norm": {"scope": "projection"}}}, "per projection"),
    ("qkv clip", {"attention": {"qkv_clip": 8.0}}, "qkv clip 8"),
    ("attention bias", {"attention": {"q_bias": True}}, "bias q"),
    ("swiglu", {"ffn": {"activation": "swiglu"}}, "SwiGLU (SiLU)"),
    ("gated width", {"ffn": {"activation": "geglu"}}, "16→2×32→16"),
    ("gelu mlp", {"ffn": {"activation": "gelu"}}, "MLP, GELU"),
    ("ffn width", {"ffn": {"hidden_dim": 48}}, "16→48→16"),
    ("moe", {"ffn": {"moe": {"n_experts": 4, "experts_per_token": 2}}}, "4 experts, top-2"),
    ("layernorm", {"norm": {"kind": "layernorm"}}, "LayerNorm"),
    ("no-bias layernorm", {"norm": {"kind": "layernorm", "bias": False}}, "LayerNorm, no bias"),
    ("gemma norm", {"norm": {"unit_offset": True}}, "RMSNorm (1+w)"),
    ("eps", {"norm": {"eps": 1e-3}}, "ε 0.001"),
    ("learned positions", {"position": {"kind": "learned"}}, "learned positions (16)"),
    ("alibi", {"position": {"kind": "alibi"}}, "ALiBi"),
    ("rope theta", {"position": {"theta": 500000.0}}, "RoPE θ 500000"),
    ("partial rope", {"position": {"fraction": 0.5}}, "on 2/4"),
    ("tied head", {"head": {"tie_embeddings": True}}, "tied to embedding"),
    ("head softcap", {"head": {"logit_softcap": 30.0}}, "softcap 30"),
    ("head bias", {"head": {"bias": True}}, "bias"),
    ("embedding scale", {"embedding": {"scale_by_sqrt_d_model": True}}, "× √d = 4.00"),
    ("padded vocab", {"padded_vocab_size": 64}, "64 rows"),
    ("layers", {"n_layers": 3}, "3×"),
    (
        "layer pattern",
        {"layer_overrides": [{"every": 2, "attention": {"sliding_window": 4}}]},
        "Layer pattern",
    ),
]


@pytest.mark.parametrize(("feature", "changes", "shown"), FEATURES, ids=[f[0] for f in FEATURES])
def test_each_feature_changes_the_drawing_where_it_should(
    feature: str, changes: dict[str, Any], shown: str
) -> None:
    svg = svg_of(**changes)
    assert svg != BASE
    assert shown in texts(svg)
    assert shown not in texts(BASE)


def _norm_boxes(svg: str) -> int:
    return texts(svg).count("RMSNorm\nε")


@pytest.mark.parametrize(
    ("block", "norms"),
    [
        ({"placement": "pre"}, 3),
        ({"placement": "post"}, 3),
        ({"placement": "branch_post"}, 3),
        ({"placement": "sandwich"}, 5),
        ({"parallel_residual": True, "shared_norm": True}, 2),
        ({"parallel_residual": True, "shared_norm": False}, 3),
    ],
    ids=["pre", "post", "branch_post", "sandwich", "parallel-shared", "parallel-separate"],
)
def test_norm_placement_draws_each_norm_where_it_is(block: dict[str, Any], norms: int) -> None:
    svg = svg_of(block=block)
    assert _norm_boxes(svg) == norms  # block norms plus the final norm
    assert _norm_boxes(svg_of(block=block, head={"final_norm": False})) == norms - 1


def test_placements_draw_differently() -> None:
    drawn = {svg_of(block={"placement": p}) for p in ("pre", "post", "branch_post", "sandwich")} | {
        svg_of(block={"parallel_residual": True, "shared_norm": s}) for s in (True, False)
    }
    assert len(drawn) == 6


def placed(svg: str) -> list[tuple[ET.Element, float]]:
    """Every element with its absolute y offset (the sum of the translations above it)."""
    out: list[tuple[ET.Element, float]] = []

    def walk(el: ET.Element, dy: float) -> None:
        shift = re.match(r"translate\(([-\d.]+),([-\d.]+)\)", el.get("transform", ""))
        if shift:
            dy += float(shift.group(2))
        out.append((el, dy))
        for child in el:
            walk(child, dy)

    walk(ET.fromstring(svg), 0.0)
    return out


def test_post_norm_sits_above_the_add_and_pre_norm_below_it() -> None:
    def order(svg: str) -> list[str]:
        marks = []
        for el, dy in placed(svg):
            if el.tag == f"{SVG}circle":
                marks.append(("add", dy + float(el.get("cy"))))
            elif el.tag == f"{SVG}text" and "".join(el.itertext()) == "RMSNorm":
                marks.append(("norm", dy + float(el.get("y"))))
        return [m for m, _ in sorted(marks, key=lambda m: m[1])]

    # Whole-figure y order, top to bottom: the final norm first, then per sub-layer.
    assert order(svg_of(block={"placement": "pre"})) == ["norm", "add", "norm", "add", "norm"]
    assert order(svg_of(block={"placement": "post"})) == ["norm", "norm", "add", "norm", "add"]


def test_gemma2_pattern_strip_has_one_cell_per_layer() -> None:
    svg = draw([lower(load_spec("gemma2-9b"))])
    shown = texts(svg)
    assert "Layer pattern" in shown
    assert "21 × window 4096" in shown and "21 × full causal" in shown
    cells = re.findall(r'<rect [^>]*height="12" rx="0" fill="(#[0-9a-f]+)"', svg)
    assert len(cells) == 42
    assert cells[:4] == [cells[0], cells[1], cells[0], cells[1]] and cells[0] != cells[1]
    assert "window 4096 | full causal" in shown
    assert "Layer pattern" not in texts(draw([lower(load_spec("llama2-7b"))]))


def test_side_by_side_marks_only_what_differs() -> None:
    a = lower(tiny_spec())
    b = lower(tiny_spec(attention={"n_kv_heads": 2}))
    same = draw([a, lower(tiny_spec())])
    assert HIGHLIGHT not in same
    both = draw([a, b])
    assert both.count(f'stroke="{HIGHLIGHT}"') == 1  # the attention box of the second model
    assert re.search(r'<tspan fill="#c2410c" font-weight="bold">2 kv heads</tspan>', both)
    root = ET.fromstring(both)
    assert float(root.get("width")) == 2 * float(ET.fromstring(draw([a])).get("width"))


def test_columns_are_aligned() -> None:
    """The embedding of every column sits at the same height, whatever its block holds."""
    svg = draw([lower(tiny_spec()), lower(tiny_spec(block={"placement": "sandwich"}))])
    ys = [
        dy + float(el.get("y"))
        for el, dy in placed(svg)
        if el.tag == f"{SVG}text" and "".join(el.itertext()) == "Token embedding"
    ]
    assert len(ys) == 2 and ys[0] == ys[1]


HOSTILE = 'evil</text><script>alert("x")</script>&amp; \x00\x1b\ufffe"\''


def test_hostile_names_are_escaped_and_the_svg_stays_valid_xml() -> None:
    svg = draw([lower(tiny_spec(name=HOSTILE)), lower(tiny_spec(name="<b>"))])
    assert "<script" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)
    assert 'evil</text><script>alert("x")' in "".join(root.itertext())


@settings(max_examples=25)
@given(specs())
def test_any_valid_spec_draws_valid_deterministic_xml(spec: Any) -> None:
    plan = lower(spec)
    svg = draw([plan])
    assert svg == draw([plan])
    ET.fromstring(svg)


@settings(max_examples=10, deadline=None)
@given(encoder_decoder_specs())
def test_any_encoder_decoder_spec_draws_valid_deterministic_xml(spec: Any) -> None:
    plan = lower(spec)
    svg = draw([plan])
    assert svg == draw([plan])
    shown = texts(svg)
    assert "Cross-attention" in shown and "encoder output" in shown


@settings(max_examples=25)
@given(hostile_text())
def test_any_text_in_a_name_keeps_the_svg_valid(name: str) -> None:
    ET.fromstring(draw([lower(tiny_spec(name=name or "x"))]))


def test_wrap_breaks_long_pieces_at_spaces_then_arrows_and_keeps_their_origin() -> None:
    lines = wrap(["short", "a much longer piece of text here", "2560→10240→2560"], 60, 10)
    # 60 px at 10 px: 9 characters a line
    assert all(len(" ".join(p for p, _ in line)) <= 9 for line in lines)
    assert lines[0] == [("short", 0)]
    assert [p for line in lines for p, i in line if i == 1] == [
        "a much",
        "longer",
        "piece of",
        "text here",
    ]
    assert [p for line in lines for p, i in line if i == 2] == ["2560→", "10240→", "2560"]
    assert wrap(["unbreakable-word-here"], 60, 10) == [[("unbreaka…", 0)]]


def test_pattern_strip_merges_runs_of_one_kind() -> None:
    spec = tiny_spec(n_layers=6, layer_overrides=[{"layers": [0, 1], "ffn": {"hidden_dim": 48}}])
    svg = draw([lower(spec)])
    cells = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="12" rx="0"', svg)
    assert len(cells) == 2
    assert float(cells[1][1]) == 2 * float(cells[0][1])  # 4 layers against 2
    assert "2 × 16→48→16" in texts(svg) and "4 × 16→32→16" in texts(svg)
