"""Hypothesis strategies for valid tiny specs, shared by every test package.

``specs()`` draws a :class:`~archspec.spec.model.ModelSpec` at tiny sizes (width 16-64, 1-3
layers, vocabulary 16-128, head size 4-16 or derived, context 8-64) and, over enough examples,
every feature of the schema: both norms and all their options, the four placements, parallel
residuals with shared and separate norms, every activation, mixture of experts, MHA/MQA/GQA with a
head size independent of the width, bias overrides, attention scale, sliding windows, softcaps,
QKV clipping, QK-norm in both scopes, every position encoding and RoPE scaling (LongRoPE too),
ALiBi added to the scaled scores or scaled with them and in bfloat16 (Falcon),
padded vocabularies, tying, head bias, embedding scale, multiplier and norm, residual multiplier,
logit scale, no final norm, and `layer_overrides` selecting by `layers` and by `every`/`offset`,
overriding windows, FFN widths and (in RoPE models) positions: NoPE layers, other thetas and
scalings. ``spec_dicts()`` draws the same as plain data, before validation.

Specs are built as dicts and validated with ``ModelSpec.model_validate``, so the cross-field rules
hold by construction (even rotary dimension, heads divisible by key/value heads, ...).

A failing example prints as YAML: ``specs()`` calls ``hypothesis.note(to_yaml(spec))`` as it draws,
so the report of the minimal failing example carries the spec as a file you can save and load::

    from hypothesis import given
    from tests.strategies import specs

    @given(specs())
    def test_something(spec):
        ...   # on failure: "spec (YAML):" followed by the spec, then the falsifying example

``tiny_spec(**changes)`` builds one small fixed spec for example-based tests.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import note
from hypothesis import strategies as st

from archspec.spec.dump import to_yaml
from archspec.spec.model import ModelSpec
from archspec.spec.resolve import deep_merge

ACTIVATIONS = (
    "gelu",
    "gelu_tanh",
    "relu",
    "silu",
    "swiglu",
    "geglu",
    "geglu_tanh",
    "reglu",
    "relu2",
    "relu2_glu",
)
PLACEMENTS = ("pre", "post", "branch_post", "sandwich")
POSITIONS = ("learned", "rope", "alibi", "none")
ROPE_SCALINGS = ("linear", "ntk", "yarn", "llama3", "longrope")
_MAX_PAIRS = 32
"""Most rotary pairs a drawn head has (64 dimensions); LongRoPE factor lists are cut to size."""

TINY: dict[str, Any] = {
    "name": "tiny",
    "vocab_size": 32,
    "d_model": 16,
    "n_layers": 2,
    "max_seq_len": 16,
    "attention": {"n_heads": 4},
    "ffn": {"activation": "silu", "hidden_dim": 32},
}
"""A minimal valid spec: 4 heads of 4, a SiLU FFN of 32, RMSNorm, RoPE, untied, no bias."""


def tiny_spec(**changes: Any) -> ModelSpec:
    """:data:`TINY` with ``changes`` merged in (nested mappings merge key by key)."""
    return ModelSpec.model_validate(deep_merge(TINY, changes))


# A plain scalar the reader takes for a YAML 1.2 float ("1e5") but PyYAML's dumper, which follows
# YAML 1.1, writes unquoted: such a string does not survive `to_yaml` yet (test_roundtrip's xfail).
_YAML12_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


def hostile_text() -> st.SearchStrategy[str]:
    """Any Unicode text a YAML file can hold: quotes, colons, newlines, `#`, non-ASCII.

    Two kinds do not survive `to_yaml` yet (see test_roundtrip's xfail tests): U+0085, and
    strings such as "1e5" that read back as YAML 1.2 floats.
    """
    return st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def tame_text() -> st.SearchStrategy[str]:
    """Short ASCII text with YAML's special characters (quotes, colons, `#`): the default texts.

    Never a string like "1e5", which `to_yaml` does not write back faithfully yet.
    """
    alphabet = "abcdefghijklmnopqrstuvwxyz ABC0123456789.,:;-'\"()#/"
    return st.text(alphabet, max_size=30).filter(lambda t: not _YAML12_FLOAT.match(t))


_SIZES = st.floats(0.01, 100.0, allow_nan=False, allow_infinity=False)
_EPS = st.sampled_from([1e-5, 1e-6, 1e-8]) | st.floats(1e-8, 0.1)
_BIAS = st.sampled_from([None, True, False])


def _maybe(draw: st.DrawFn, out: dict[str, Any], key: str, strategy: st.SearchStrategy) -> None:
    """Write ``key`` into ``out`` or leave the field at its default, as drawn."""
    if draw(st.booleans()):
        out[key] = draw(strategy)


@st.composite
def norm_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A LayerNorm (affine with and without bias, or parameter-free) or an RMSNorm."""
    norm: dict[str, Any] = {"kind": draw(st.sampled_from(["layernorm", "rmsnorm"]))}
    _maybe(draw, norm, "eps", _EPS)
    _maybe(draw, norm, "compute_dtype", st.sampled_from(["float32", "input"]))
    if norm["kind"] == "rmsnorm":
        _maybe(draw, norm, "unit_offset", st.booleans())
    elif draw(st.booleans()):
        norm["affine"] = False
        norm["bias"] = False  # a LayerNorm bias needs affine: true (and defaults to true)
    else:
        _maybe(draw, norm, "affine", st.just(True))
        _maybe(draw, norm, "bias", st.booleans())
    return norm


@st.composite
def rope_scaling_dicts(draw: st.DrawFn, max_seq_len: int) -> dict[str, Any]:
    """One RoPE scaling of each kind, with its optional fields sometimes written."""
    kind = draw(st.sampled_from(ROPE_SCALINGS))
    if kind == "longrope":
        return draw(longrope_dicts(max_seq_len))
    scaling: dict[str, Any] = {"kind": kind, "factor": draw(st.floats(1.0, 16.0))}
    if kind == "yarn":
        scaling["original_max_seq_len"] = draw(st.integers(4, max_seq_len))
        if draw(st.booleans()):
            slow = draw(st.floats(0.5, 4.0))
            scaling["beta_slow"] = slow
            scaling["beta_fast"] = slow + draw(st.floats(1.0, 32.0))
        _maybe(draw, scaling, "attention_factor", st.floats(0.5, 2.0))
    elif kind == "llama3":
        _maybe(draw, scaling, "original_max_seq_len", st.integers(4, max_seq_len))
        if draw(st.booleans()):
            low = draw(st.floats(0.5, 2.0))
            scaling["low_freq_factor"] = low
            scaling["high_freq_factor"] = low + draw(st.floats(0.5, 4.0))
    return scaling


@st.composite
def longrope_dicts(draw: st.DrawFn, max_seq_len: int) -> dict[str, Any]:
    """LongRoPE with :data:`_MAX_PAIRS` factors each (:func:`spec_dicts` cuts them to the rotary
    pairs). The long factors differ from the short ones only when the original context covers
    `max_seq_len`: transformers switches tables per pass, so where the switch can happen, a
    cached prefix keeps its short-factor rotation and cached decoding is not one forward pass."""
    factors = st.lists(st.floats(1.0, 8.0), min_size=_MAX_PAIRS, max_size=_MAX_PAIRS)
    short = draw(factors)
    original = draw(st.integers(4, 2 * max_seq_len))
    scaling: dict[str, Any] = {
        "kind": "longrope",
        "short_factor": short,
        "long_factor": draw(factors) if original >= max_seq_len else short,
        "original_max_seq_len": original,
    }
    _maybe(draw, scaling, "attention_factor", st.floats(0.5, 2.0))
    return scaling


def _cut_longrope(position: dict[str, Any] | None, attention: dict[str, Any], d_model: int) -> None:
    """Cut drawn LongRoPE factor lists to the head's rotary pairs."""
    scaling = (position or {}).get("scaling") or {}
    if scaling.get("kind") != "longrope":
        return
    size = attention.get("head_dim") or d_model // attention["n_heads"]
    pairs = int(size * position.get("fraction", 1.0)) // 2
    scaling["short_factor"] = scaling["short_factor"][:pairs]
    scaling["long_factor"] = scaling["long_factor"][:pairs]


@st.composite
def position_dicts(draw: st.DrawFn, max_seq_len: int = 64) -> dict[str, Any]:
    """Learned, RoPE (fraction, layout, scaling), ALiBi or none."""
    # RoPE has the most options, so it is drawn more often than the others.
    position: dict[str, Any] = {"kind": draw(st.sampled_from(("rope",) + POSITIONS))}
    if position["kind"] == "rope":
        _maybe(
            draw,
            position,
            "theta",
            st.sampled_from([10000.0, 500000.0, 1e6]) | st.floats(1.5, 100.0),
        )
        _maybe(draw, position, "fraction", st.sampled_from([1.0, 0.5, 0.25, 0.4, 0.75]))
        _maybe(draw, position, "layout", st.sampled_from(["half_split", "interleaved"]))
        if draw(st.booleans()):
            position["scaling"] = draw(rope_scaling_dicts(max_seq_len))
        else:
            _maybe(draw, position, "scaling", st.none())
    elif position["kind"] == "alibi":
        _maybe(draw, position, "scaled", st.booleans())  # Falcon: bias scaled with the scores
        _maybe(draw, position, "bias_dtype", st.sampled_from(["float32", "bfloat16"]))
    return position


def _rotary_ok(fraction: float | None, size: int, min_rotary: int = 2) -> bool:
    """Whether a head of ``size`` rotates an even number (>= ``min_rotary``) of dimensions
    (None: no RoPE)."""
    if fraction is None:
        return True
    rot = int(size * fraction)
    return rot >= min_rotary and rot % 2 == 0


@st.composite
def attention_dicts(
    draw: st.DrawFn, max_seq_len: int, fraction: float | None, min_rotary: int = 2
) -> tuple[int, dict[str, Any]]:
    """``(d_model, attention)``: MHA, MQA or GQA; head size derived or set apart from the width."""
    n_heads = draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
    attention: dict[str, Any] = {"n_heads": n_heads}
    kv = draw(st.sampled_from([None] + [d for d in range(1, n_heads + 1) if n_heads % d == 0]))
    if kv is not None:
        attention["n_kv_heads"] = kv
    derived = [
        d
        for d in range(16, 65)
        if d % n_heads == 0 and _rotary_ok(fraction, d // n_heads, min_rotary)
    ]
    if derived and draw(st.booleans()):
        d_model = draw(st.sampled_from(derived))
    else:
        d_model = draw(st.integers(16, 64))
        attention["head_dim"] = draw(
            st.sampled_from([hd for hd in range(4, 17) if _rotary_ok(fraction, hd, min_rotary)])
        )
    for name in ("q_bias", "k_bias", "v_bias", "o_bias"):
        _maybe(draw, attention, name, _BIAS)
    _maybe(draw, attention, "scale", st.none() | _SIZES)
    _maybe(draw, attention, "sliding_window", st.none() | st.integers(1, max_seq_len + 8))
    _maybe(draw, attention, "logit_softcap", st.none() | st.floats(1.0, 100.0))
    _maybe(draw, attention, "qkv_clip", st.none() | st.floats(0.5, 20.0))
    if draw(st.booleans()):
        qk_norm: dict[str, Any] = {}
        _maybe(draw, qk_norm, "scope", st.sampled_from(["head", "projection"]))
        _maybe(draw, qk_norm, "norm", norm_dicts())
        attention["qk_norm"] = qk_norm
    _maybe(draw, attention, "sub_norm", st.booleans())
    return d_model, attention


@st.composite
def ffn_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A dense FFN with any activation, or a mixture of 2-4 experts with top-k routing."""
    ffn: dict[str, Any] = {
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "hidden_dim": draw(st.integers(8, 96)),
    }
    _maybe(draw, ffn, "bias", _BIAS)
    if draw(st.booleans()):
        n_experts = draw(st.integers(2, 4))
        moe: dict[str, Any] = {
            "n_experts": n_experts,
            "experts_per_token": draw(st.integers(1, n_experts)),
        }
        _maybe(draw, moe, "normalize_top_k", st.booleans())
        _maybe(draw, moe, "router_bias", st.booleans())
        ffn["moe"] = moe
    else:
        _maybe(draw, ffn, "sub_norm", st.booleans())
    return ffn


@st.composite
def linear_dicts(draw: st.DrawFn, moe: bool) -> dict[str, Any]:
    """A `linear:` section: dense, or BitLinear on every projection or a drawn few (attention
    projections only in a mixture of experts)."""
    if draw(st.booleans()):
        return {"kind": "dense"}
    names = ["q_proj", "k_proj", "v_proj", "o_proj"]
    if not moe:
        names += ["gate_proj", "up_proj", "down_proj"]
    linear: dict[str, Any] = {"kind": "bitlinear_b158"}
    if moe or draw(st.booleans()):
        linear["projections"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    return linear


@st.composite
def block_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Any placement; with `pre`, maybe a parallel residual with a shared or separate norms."""
    block: dict[str, Any] = {}
    placement = draw(st.sampled_from(PLACEMENTS))
    if placement != "pre" or draw(st.booleans()):
        block["placement"] = placement
    if placement == "pre" and draw(st.booleans()):
        block["parallel_residual"] = True
        _maybe(draw, block, "shared_norm", st.booleans())
    else:
        _maybe(draw, block, "parallel_residual", st.just(False))
    _maybe(draw, block, "residual_multiplier", st.none() | st.floats(0.1, 2.0))
    return block


@st.composite
def layer_position_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A layer's position in a RoPE model: none (NoPE), another theta and/or another scaling."""
    if draw(st.integers(0, 2)) == 0:
        return {"kind": "none"}
    position: dict[str, Any] = {"kind": "rope"}  # (an earlier rule may have switched RoPE off)
    _maybe(draw, position, "theta", st.sampled_from([500.0, 1e6]) | st.floats(1.5, 100.0))
    if len(position) == 1 or draw(st.booleans()):
        factor = draw(st.floats(1.0, 16.0))
        position["scaling"] = draw(
            st.sampled_from(
                [
                    None,
                    {"kind": "linear", "factor": factor},
                    {"kind": "llama3", "factor": factor, "original_max_seq_len": 8},
                ]
            )
        )
    return position


@st.composite
def layer_rule_dicts(
    draw: st.DrawFn, n_layers: int, max_seq_len: int, rope: bool = False
) -> dict[str, Any]:
    """A rule picking `layers` or `every`/`offset` that overrides the window and/or FFN width,
    and in a RoPE model sometimes the position (NoPE layers, another theta or scaling)."""
    rule: dict[str, Any] = {}
    by_list = draw(st.booleans())
    if by_list or draw(st.integers(0, 4)) == 0:
        rule["layers"] = sorted(draw(st.sets(st.integers(0, n_layers - 1), min_size=1)))
    if not by_list:
        every = draw(st.integers(1, n_layers + 1))
        rule["every"] = every
        _maybe(draw, rule, "offset", st.integers(0, every - 1))
    which = draw(st.sampled_from(["attention", "ffn", "both"]))
    if which in ("attention", "both"):
        rule["attention"] = {"sliding_window": draw(st.none() | st.integers(1, max_seq_len))}
    if which in ("ffn", "both"):
        rule["ffn"] = {"hidden_dim": draw(st.integers(8, 96))}
    if rope and draw(st.booleans()):
        rule["position"] = draw(layer_position_dicts())
    return rule


@st.composite
def recurrent_dicts(draw: st.DrawFn, n_layers: int) -> dict[str, Any]:
    """Griffin's recurrent mixer: the `recurrent` section, and every layer recurrent (Hawk) or
    some of them through a layer rule (Griffin: recurrent, recurrent, attention)."""
    n_heads = draw(st.sampled_from([1, 2, 4]))
    recurrent: dict[str, Any] = {"width": n_heads * draw(st.integers(1, 6)), "n_heads": n_heads}
    _maybe(draw, recurrent, "conv_width", st.integers(1, 5))
    _maybe(draw, recurrent, "c", st.floats(1.0, 8.0))
    _maybe(draw, recurrent, "bias", st.booleans())
    out: dict[str, Any] = {"recurrent": recurrent}
    kind = draw(st.sampled_from(["all", "some recurrent", "some attention"]))
    if kind == "all":
        out["mixer"] = "recurrent"
    else:
        every = draw(st.integers(1, n_layers + 1))
        rule = {"every": every, "offset": draw(st.integers(0, every - 1))}
        out["mixer"] = "attention" if kind == "some recurrent" else "recurrent"
        rule["mixer"] = "recurrent" if kind == "some recurrent" else "attention"
        out["mixer_rule"] = rule
    return out


@st.composite
def spec_dicts(
    draw: st.DrawFn,
    max_layers: int = 3,
    texts: st.SearchStrategy[str] | None = None,
    mixers: bool = True,
) -> dict[str, Any]:
    """A valid tiny spec as plain data (what a YAML file would hold).

    Args:
        max_layers: Most transformer blocks drawn (at least 1).
        texts: Strings for `description` and `source`: :func:`tame_text` by default, or e.g.
            :func:`hostile_text` to stress dumping and code generation.
        mixers: Sometimes make layers recurrent (Griffin's mixer), one spec in four.
    """
    texts = texts if texts is not None else tame_text()
    n_layers = draw(st.integers(1, max_layers))
    max_seq_len = draw(st.integers(8, 64))
    vocab_size = draw(st.integers(16, 128))
    # None: leave `position` out, which means RoPE with every default.
    position = None if draw(st.integers(0, 3)) == 0 else draw(position_dicts(max_seq_len))
    rope = position is None or position["kind"] == "rope"
    fraction = (position or {}).get("fraction", 1.0) if rope else None
    ntk = rope and ((position or {}).get("scaling") or {}).get("kind") == "ntk"
    min_rotary = 4 if ntk else 2  # NTK raises the base to rotary_dim / (rotary_dim - 2)
    d_model, attention = draw(attention_dicts(max_seq_len, fraction, min_rotary))
    _cut_longrope(position, attention, d_model)
    data: dict[str, Any] = {
        "name": "tiny-" + draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", max_size=10)),
        "vocab_size": vocab_size,
        "d_model": d_model,
        "n_layers": n_layers,
        "max_seq_len": max_seq_len,
        "attention": attention,
        "ffn": draw(ffn_dicts()),
    }
    _maybe(draw, data, "description", texts)
    _maybe(draw, data, "source", st.dictionaries(st.sampled_from(["paper", "config"]), texts))
    _maybe(draw, data, "padded_vocab_size", st.integers(vocab_size, vocab_size + 64))
    _maybe(draw, data, "dtype", st.sampled_from(["float32", "bfloat16", "float16"]))
    _maybe(draw, data, "bias", st.booleans())
    _maybe(draw, data, "norm", norm_dicts())
    if position is not None:
        data["position"] = position
    _maybe(draw, data, "block", block_dicts())
    embedding = st.fixed_dictionaries(
        {},
        optional={
            "scale_by_sqrt_d_model": st.booleans(),
            "multiplier": st.none() | st.floats(0.5, 16.0),
            "norm": st.none() | norm_dicts(),
            "scale_dtype": st.none() | st.just("bfloat16"),
        },
    )
    _maybe(draw, data, "embedding", embedding)
    _maybe(
        draw,
        data,
        "head",
        st.fixed_dictionaries(
            {},
            optional={
                "final_norm": st.booleans(),
                "tie_embeddings": st.booleans(),
                "bias": st.booleans(),
                "logit_softcap": st.none() | st.floats(1.0, 50.0),
                "logit_scale": st.none() | st.floats(0.05, 2.0),
            },
        ),
    )
    _maybe(
        draw,
        data,
        "layer_overrides",
        st.lists(layer_rule_dicts(n_layers, max_seq_len, rope), min_size=1, max_size=2),
    )
    _maybe(draw, data, "linear", linear_dicts("moe" in data["ffn"]))
    if mixers and draw(st.integers(0, 3)) == 0:
        recurrent = draw(recurrent_dicts(n_layers))
        rule = recurrent.pop("mixer_rule", None)
        data.update(recurrent)
        if rule is not None:
            data["layer_overrides"] = [*data.get("layer_overrides", []), rule]
    return data


@st.composite
def specs(
    draw: st.DrawFn, max_layers: int = 3, texts: st.SearchStrategy[str] | None = None
) -> ModelSpec:
    """A valid tiny :class:`ModelSpec`; on failure its YAML is printed with the example."""
    spec = ModelSpec.model_validate(draw(spec_dicts(max_layers, texts)))
    note(f"spec (YAML):\n{to_yaml(spec)}")
    return spec


@st.composite
def adapter_dicts(draw: st.DrawFn, spec: ModelSpec) -> dict[str, Any]:
    """A valid `adapters:` section for ``spec``: targets the model has, maybe layers and overrides."""
    from archspec.spec import resolve

    layers = resolve.layer_specs(spec)
    names = ["q_proj", "k_proj", "v_proj", "o_proj"]
    if not spec.head.tie_embeddings:
        names.append("lm_head")
    if all(layer.ffn.moe is None for layer in layers):
        names += ["up_proj", "down_proj"]
        if all(resolve.is_gated(layer.ffn) for layer in layers):
            names += ["gate_proj", "all-linear"]
    targets = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    out: dict[str, Any] = {
        "kind": draw(st.sampled_from(["lora", "dora"])),
        "r": draw(st.integers(1, 4)),
        "targets": targets,
    }
    _maybe(draw, out, "alpha", st.floats(0.5, 16.0))
    _maybe(draw, out, "rslora", st.booleans())
    _maybe(draw, out, "dropout", st.sampled_from([0.0, 0.1]))
    _maybe(
        draw, out, "layers", st.lists(st.integers(0, spec.n_layers - 1), min_size=1, unique=True)
    )
    concrete = [t for t in targets if t != "all-linear"]
    if concrete and draw(st.booleans()):
        out["overrides"] = {draw(st.sampled_from(concrete)): {"r": draw(st.integers(1, 4))}}
    return out


@st.composite
def adapted_specs(draw: st.DrawFn, max_layers: int = 2) -> ModelSpec:
    """A valid tiny spec with an `adapters:` section; on failure its YAML is printed."""
    drawn = draw(spec_dicts(max_layers, mixers=False))
    drawn.pop("linear", None)  # adapters need dense base weights
    base = ModelSpec.model_validate(drawn)
    data = base.model_dump(mode="json")
    data["adapters"] = draw(adapter_dicts(base))
    spec = ModelSpec.model_validate(data)
    note(f"spec (YAML):\n{to_yaml(spec)}")
    return spec


@st.composite
def encoder_decoder_spec_dicts(draw: st.DrawFn, max_layers: int = 2) -> dict[str, Any]:
    """A valid tiny encoder-decoder spec (T5-like) as plain data: relative-bias or no
    positions, pre-norm blocks, dense FFNs, sometimes an encoder with its own attention, FFN,
    norm or embedding, and a cross-attention that differs from the self-attention."""
    d_model, attention = draw(attention_dicts(32, None))
    for name in ("sliding_window", "logit_softcap", "sub_norm"):
        attention.pop(name, None)
    ffn = draw(ffn_dicts())
    ffn.pop("moe", None)
    ffn.pop("sub_norm", None)  # BitNet's sub-norms are refused with an encoder (yet)
    position = draw(
        st.sampled_from(
            [
                {"kind": "relative_bias", "n_buckets": 8, "max_distance": 12},
                {"kind": "relative_bias", "n_buckets": 6, "max_distance": 20},
                {"kind": "none"},
            ]
        )
    )
    encoder: dict[str, Any] = {"n_layers": draw(st.integers(1, max_layers))}
    _maybe(draw, encoder, "share_embedding", st.booleans())
    _maybe(draw, encoder, "final_norm", st.booleans())
    _maybe(draw, encoder, "norm", norm_dicts())
    if draw(st.booleans()):
        encoder["ffn"] = {
            "activation": draw(st.sampled_from(ACTIVATIONS)),
            "hidden_dim": draw(st.integers(8, 64)),
        }
    if draw(st.booleans()):  # same width, other heads
        heads = draw(st.sampled_from([1, 2, 4]))
        encoder["attention"] = {"n_heads": heads, "head_dim": draw(st.integers(4, 12))}
    cross: dict[str, Any] = {}
    if draw(st.booleans()):
        cross = {"n_heads": draw(st.sampled_from([1, 2, 3])), "head_dim": draw(st.integers(4, 12))}
    _maybe(draw, cross, "scale", st.floats(0.05, 1.0))
    data: dict[str, Any] = {
        "name": "tiny-t5-" + draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=6)),
        "vocab_size": draw(st.integers(16, 96)),
        "d_model": d_model,
        "n_layers": draw(st.integers(1, max_layers)),
        "max_seq_len": 32,
        "position": position,
        "attention": attention,
        "ffn": ffn,
        "encoder": encoder,
        "cross_attention": cross,
    }
    _maybe(draw, data, "bias", st.booleans())
    _maybe(draw, data, "norm", norm_dicts())
    _maybe(
        draw,
        data,
        "head",
        st.fixed_dictionaries(
            {},
            optional={
                "final_norm": st.booleans(),
                "tie_embeddings": st.booleans(),
                "bias": st.booleans(),
                "logit_scale": st.none() | st.floats(0.05, 2.0),
                "scale_by_inv_sqrt_d_model": st.booleans(),
            },
        ),
    )
    return data


@st.composite
def encoder_decoder_specs(draw: st.DrawFn, max_layers: int = 2) -> ModelSpec:
    """A valid tiny encoder-decoder :class:`ModelSpec`; on failure its YAML is printed."""
    spec = ModelSpec.model_validate(draw(encoder_decoder_spec_dicts(max_layers)))
    note(f"spec (YAML):\n{to_yaml(spec)}")
    return spec
