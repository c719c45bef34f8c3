"""Side-by-side comparison of specs, like a paper's architecture table, with each knob's effect.

The effect of a knob is a counterfactual: the first spec with that one knob set as in another
spec, re-analysed; the change in parameters, KV-cache bytes per token and FLOPs per token is
what the knob costs or saves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from archspec.analysis.compute import TERNARY_FORMATS, Analysis, analyse, tokens_text
from archspec.analysis.units import fixed, human, human_bytes
from archspec.spec import adapters, linear, resolve
from archspec.spec.model import ModelSpec


@dataclass(frozen=True)
class Effect:
    """Change caused by one knob, relative to the first spec."""

    params: int
    kv_cache_bytes_per_token: int
    flops_per_token: int


@dataclass(frozen=True)
class Row:
    """One feature across the compared specs."""

    feature: str
    values: tuple[str, ...]
    differs: bool
    effects: tuple[Effect | None, ...]
    """Per spec: the knob's effect transplanted into the first spec (None for the first spec,
    for summary rows, and where the transplant would not be a valid spec)."""


@dataclass(frozen=True)
class Knob:
    feature: str
    show: Callable[[ModelSpec], str]
    paths: tuple[tuple[str, ...], ...] = ()
    """Fields copied from the other spec to measure the effect; empty for summary rows."""


def _fmt_float(x: float) -> str:
    return f"{x:g}"


def _norm(spec: ModelSpec) -> str:
    n = spec.norm
    if n.kind == "rmsnorm":
        text = "RMSNorm (1+w)" if n.unit_offset else "RMSNorm"
    elif not n.affine:
        text = "LayerNorm, no params"
    else:
        text = "LayerNorm" if resolve.layernorm_bias(n) else "LayerNorm, no bias"
    return f"{text}, eps {_fmt_float(n.eps)}"


def _placement(spec: ModelSpec) -> str:
    b = spec.block
    names = {
        "pre": "pre-norm",
        "post": "post-norm",
        "branch_post": "post-branch norm",
        "sandwich": "sandwich",
    }
    text = names[b.placement]
    if b.parallel_residual:
        text += ", parallel attn+FFN" + (" (shared norm)" if resolve.shared_norm(spec) else "")
    return text


def _attention_kind(spec: ModelSpec) -> str:
    heads, kv = spec.attention.n_heads, resolve.n_kv_heads(spec.attention)
    if kv == heads:
        return "MHA"
    return "MQA" if kv == 1 else f"GQA ({heads // kv} q/kv)"


def _position(spec: ModelSpec) -> str:
    p = spec.position
    if p.kind == "alibi" and p.scaled:
        return "ALiBi, scaled with the scores"
    if p.kind != "rope":
        if p.kind == "relative_bias":
            return f"T5 relative bias, {p.n_buckets} buckets, max {p.max_distance}"
        return {"learned": "learned absolute", "alibi": "ALiBi", "none": "none"}[p.kind]
    text = f"RoPE θ={_fmt_float(p.theta)}"
    if p.fraction != 1:
        text += f", {p.fraction:g} of dims"
    if p.layout != "half_split":
        text += ", interleaved"
    if p.scaling is not None:
        factor = getattr(p.scaling, "factor", None)
        text += f", {p.scaling.kind}" + ("" if factor is None else f" x{factor:g}")
    return text


def _layer_positions(spec: ModelSpec) -> str:
    """How the layers' positions differ from the model's (per-layer theta, NoPE layers)."""
    layers = resolve.layer_specs(spec)
    if all(layer.position == spec.position for layer in layers):
        return "—"
    nope = sum(layer.position.kind == "none" for layer in layers)
    rope = [layer.position for layer in layers if layer.position.kind == "rope"]
    distinct = [p for i, p in enumerate(rope) if p not in rope[:i]]
    parts = [f"{len(distinct)} RoPE configs"] if len(distinct) > 1 else []
    parts += [f"no positions on {nope}/{len(layers)} layers"] if nope else []
    return ", ".join(parts) or "—"


def _windows(spec: ModelSpec) -> str:
    windows = [layer.attention.sliding_window for layer in resolve.layer_specs(spec)]
    if all(w is None for w in windows):
        return "—"
    if len(set(windows)) == 1:
        return f"{windows[0]} (all layers)"
    n = sum(w is not None for w in windows)
    return f"{max(w for w in windows if w)} on {n}/{len(windows)} layers"


def _mixer(spec: ModelSpec) -> str:
    """Which token mixer the layers use: attention, Griffin's recurrent block, or a mix."""
    layers = resolve.layer_specs(spec)
    n = sum(layer.mixer == "recurrent" for layer in layers)
    if n == 0:
        return "attention"
    width = spec.recurrent.width if spec.recurrent else 0
    if n == len(layers):
        return f"recurrent (RG-LRU, width {width})"
    return f"recurrent {n}/{len(layers)} (width {width}), attention {len(layers) - n}"


_LAYER_MIXERS = "layer_overrides (mixer)"
"""Transplant path of the layer rules' mixer choices only (`layer_overrides` moves the rest)."""


def _bias(spec: ModelSpec) -> str:
    att = resolve.attention_bias(spec, spec.attention)
    on = [k for k, v in att.items() if v] + (["ffn"] if resolve.ffn_bias(spec, spec.ffn) else [])
    if not on:
        return "none"
    return "all" if len(on) == 5 else "+".join(on)


def _opt(value: Any) -> str:
    return "—" if value is None else _fmt_float(value) if isinstance(value, float) else str(value)


def _moe(spec: ModelSpec) -> str:
    moe = spec.ffn.moe
    return "—" if moe is None else f"{moe.n_experts} experts, top-{moe.experts_per_token}"


def _stack(spec: ModelSpec) -> str:
    if spec.encoder is None:
        return "decoder-only"
    shared = ", shared embedding" if spec.encoder.share_embedding else ""
    return f"encoder-decoder{shared}"


KNOBS: tuple[Knob, ...] = (
    Knob("stacks", _stack, (("encoder",), ("cross_attention",))),
    Knob(
        "encoder layers",
        lambda s: "—" if s.encoder is None else str(s.encoder.n_layers),
        (("encoder",), ("cross_attention",)),
    ),
    Knob("layers", lambda s: str(s.n_layers), (("n_layers",),)),
    Knob("width (d_model)", lambda s: str(s.d_model), (("d_model",),)),
    Knob("ffn hidden", lambda s: str(s.ffn.hidden_dim), (("ffn", "hidden_dim"),)),
    Knob("activation", lambda s: s.ffn.activation, (("ffn", "activation"),)),
    Knob("mixture of experts", _moe, (("ffn", "moe"),)),
    Knob("mixer", _mixer, (("mixer",), ("recurrent",), (_LAYER_MIXERS,))),
    Knob("attention", _attention_kind, (("attention", "n_heads"), ("attention", "n_kv_heads"))),
    Knob("heads", lambda s: str(s.attention.n_heads), (("attention", "n_heads"),)),
    Knob(
        "kv heads", lambda s: str(resolve.n_kv_heads(s.attention)), (("attention", "n_kv_heads"),)
    ),
    Knob(
        "head size",
        lambda s: str(resolve.head_dim(s.attention, s.d_model)),
        (("attention", "head_dim"),),
    ),
    Knob("sliding window", _windows, (("attention", "sliding_window"), ("layer_overrides",))),
    Knob(
        "attn logit softcap",
        lambda s: _opt(s.attention.logit_softcap),
        (("attention", "logit_softcap"),),
    ),
    Knob("qkv clip", lambda s: _opt(s.attention.qkv_clip), (("attention", "qkv_clip"),)),
    Knob(
        "qk norm",
        lambda s: "—" if s.attention.qk_norm is None else s.attention.qk_norm.scope,
        (("attention", "qk_norm"),),
    ),
    Knob("norm", _norm, (("norm",),)),
    Knob("norm placement", _placement, (("block",),)),
    Knob("position", _position, (("position",),)),
    Knob("per-layer position", _layer_positions, (("layer_overrides",),)),
    Knob(
        "bias",
        _bias,
        (
            ("bias",),
            ("attention", "q_bias"),
            ("attention", "k_bias"),
            ("attention", "v_bias"),
            ("attention", "o_bias"),
            ("ffn", "bias"),
        ),
    ),
    Knob(
        "vocab",
        lambda s: (
            f"{s.vocab_size}" + (f" (padded {s.padded_vocab_size})" if s.padded_vocab_size else "")
        ),
        (("vocab_size",), ("padded_vocab_size",)),
    ),
    Knob(
        "tied embeddings",
        lambda s: "yes" if s.head.tie_embeddings else "no",
        (("head", "tie_embeddings"),),
    ),
    Knob(
        "embedding x sqrt(d)",
        lambda s: "yes" if s.embedding.scale_by_sqrt_d_model else "no",
        (("embedding",),),
    ),
    Knob(
        "embedding multiplier",
        lambda s: _opt(s.embedding.multiplier),
        (("embedding", "multiplier"),),
    ),
    Knob(
        "embedding norm",
        lambda s: "—" if s.embedding.norm is None else s.embedding.norm.kind,
        (("embedding", "norm"),),
    ),
    Knob(
        "residual multiplier",
        lambda s: _opt(s.block.residual_multiplier),
        (("block", "residual_multiplier"),),
    ),
    Knob("head bias", lambda s: "yes" if s.head.bias else "no", (("head", "bias"),)),
    Knob("logit scale", lambda s: _opt(s.head.logit_scale), (("head", "logit_scale"),)),
    Knob(
        "head input x d_model^-0.5",
        lambda s: "yes" if s.head.scale_by_inv_sqrt_d_model else "no",
        (("head", "scale_by_inv_sqrt_d_model"),),
    ),
    Knob("final logit softcap", lambda s: _opt(s.head.logit_softcap), (("head", "logit_softcap"),)),
    Knob("context", lambda s: str(s.max_seq_len), (("max_seq_len",),)),
    Knob("dtype", lambda s: s.dtype, (("dtype",),)),
    Knob(
        "adapters",
        lambda s: "—" if s.adapters is None else adapters.describe(s.adapters),
        (("adapters",),),
    ),
    Knob("linear kind", lambda s: _linear_kind(s), (("linear",),)),
    Knob(
        "sub-norms",
        lambda s: _sub_norms(s),
        (("attention", "sub_norm"), ("ffn", "sub_norm")),
    ),
)


def _linear_kind(spec: ModelSpec) -> str:
    """`dense`, or the kind and on how many of the seven block projections it sits."""
    chosen = linear.projections(spec)
    if not chosen:
        return "dense"
    where = "all projections" if len(chosen) == 7 else "+".join(chosen)
    return f"{linear.kind_name(spec)} ({where})"


def _sub_norms(spec: ModelSpec) -> str:
    on = [n for n, v in (("attn", spec.attention.sub_norm), ("ffn", spec.ffn.sub_norm)) if v]
    return "+".join(on) or "—"


def _explicit(spec: ModelSpec) -> dict[str, Any]:
    """The spec as a dict with derived head size and kv heads written out, ready for transplants."""
    data = spec.model_dump(mode="json", exclude={"name", "description", "source", "extends"})
    data["attention"]["head_dim"] = resolve.head_dim(spec.attention, spec.d_model)
    data["attention"]["n_kv_heads"] = resolve.n_kv_heads(spec.attention)
    data.setdefault("adapters", None)  # left out of dumps when null; transplants need the key
    data.setdefault("linear", None)
    data["attention"].setdefault("sub_norm", False)
    data["ffn"].setdefault("sub_norm", False)
    data.setdefault("mixer", "attention")  # likewise the mixer axis
    data.setdefault("recurrent", None)
    data.setdefault("encoder", None)
    data.setdefault("cross_attention", None)
    return data


_SELECT = ("layers", "every", "offset")


def _rules(rest_from: dict[str, Any], mixers_from: dict[str, Any]) -> list[dict[str, Any]]:
    """Layer rules: those of ``rest_from`` without their mixer choice, then the mixer choices of
    ``mixers_from`` alone, so that a window or FFN transplant keeps each layer's mixer."""
    rest = [{k: v for k, v in r.items() if k != "mixer"} for r in rest_from["layer_overrides"]]
    rest = [r for r in rest if any(r.get(k) for k in ("attention", "ffn", "position"))]
    mixers = [
        {**{k: r[k] for k in _SELECT if k in r}, "mixer": r["mixer"]}
        for r in mixers_from["layer_overrides"]
        if r.get("mixer")
    ]
    return copy.deepcopy(rest + mixers)


def _transplant(
    base: dict[str, Any], other: dict[str, Any], paths: tuple[tuple[str, ...], ...]
) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for path in paths:
        if path in (("layer_overrides",), (_LAYER_MIXERS,)):
            rest, mixers = (other, base) if path == ("layer_overrides",) else (base, other)
            out["layer_overrides"] = _rules(rest, mixers)
            continue
        src, dst = other, out
        key = path[-1]
        for step in path[:-1]:
            if not (isinstance(src.get(step), dict) and isinstance(dst.get(step), dict)):
                key = step  # one side has no such section (None, default): take it whole
                break
            src, dst = src[step], dst[step]
        if key in src:
            dst[key] = copy.deepcopy(src[key])
        else:  # left at its default in ``other``: the default here too
            dst.pop(key, None)
    return out


def diff(specs: list[ModelSpec], seq_len: int | None = None) -> tuple[list[Analysis], list[Row]]:
    """Compare specs feature by feature; effects are measured against the first spec.

    FLOPs per token are taken at ``seq_len`` tokens of context for every spec, or each at its
    own ``max_seq_len`` when it is None.
    """
    analyses = [analyse(s, seq_len) for s in specs]
    explicit = [_explicit(s) for s in specs]
    base = analyses[0]
    rows: list[Row] = []
    for knob in KNOBS:
        values = tuple(knob.show(s) for s in specs)
        differs = len(set(values)) > 1
        effects: list[Effect | None] = [None]
        for i in range(1, len(specs)):
            effects.append(
                _effect(knob, explicit[0], explicit[i], base, specs[0].name, seq_len)
                if differs and values[i] != values[0]
                else None
            )
        rows.append(Row(knob.feature, values, differs, tuple(effects)))
    summaries = (
        ("parameters", lambda a: human(a.params.total)),
        ("parameters, head untied", lambda a: human(a.params.total_untied)),
        ("non-embedding params", lambda a: human(a.params.non_embedding)),
        ("active params / token", lambda a: human(a.params.active)),
        ("KV cache / token (16-bit)", lambda a: human_bytes(a.kv_cache_bytes_per_token)),
        (flops_label(seq_len), lambda a: fixed(a.flops_per_token, 10**9, 1)),
    )
    if any(linear.projections(s) for s in specs):  # what ternary storage really costs
        summaries += (("weights, bf16 or ternary 2-bit packed", _stored_weights),)
    if any(a.recurrent_state_bytes for a in analyses):  # constant in the context
        summaries += (
            ("recurrent state / sequence", lambda a: human_bytes(a.recurrent_state_bytes)),
            ("KV cache, full context", lambda a: human_bytes(a.kv_cache_bytes_full_context)),
        )
    if any(s.adapters is not None for s in specs):  # without adapters, trainable is the total
        summaries += (("trainable params", lambda a: human(a.params.trainable)),)
    if any(s.encoder is not None for s in specs):  # a row per stack ("—": decoder-only)
        summaries += _stack_rows(seq_len)
    for feature, show in summaries:
        values = tuple(show(a) for a in analyses)
        rows.append(Row(feature, values, len(set(values)) > 1, tuple(None for _ in specs)))
    return analyses, rows


def _stored_weights(a: Analysis) -> str:
    """Weight memory as the model is stored: ternary packed when it has BitLinears, else bf16."""
    return human_bytes(a.weight_bytes.get(TERNARY_FORMATS[0], a.weight_bytes["bf16"]))


def _stack_rows(seq_len: int | None) -> tuple[tuple[str, Any], ...]:
    """Rows of an encoder-decoder's stacks: parameters, FLOPs and cache per token of each; a
    decoder-only model shows its one stack as the decoder."""

    def params(stack: str) -> Any:
        def show(a: Analysis) -> str:
            if a.stacks:
                return human(a.params.stacks[stack])
            if stack == "encoder":
                return "—"
            breakdown = a.params.breakdown
            shared = breakdown["embedding"] + breakdown["head"]
            return human(shared if stack == "shared" else a.params.total - shared)

        return show

    def figure(stack: str, key: str, whole: int | None, fmt: Any) -> Any:
        def show(a: Analysis) -> str:
            if a.stacks:
                return fmt(a.stacks[stack][key])
            if stack == "encoder":
                return "—"
            return fmt(
                a.flops_per_token if key == "flops_per_token" else a.kv_cache_bytes_per_token
            )

        return show

    rows: tuple[tuple[str, Any], ...] = ()
    for stack in ("encoder", "decoder"):
        rows += (
            (f"{stack} params", params(stack)),
            (
                f"{stack} GFLOPs / token",
                figure(stack, "flops_per_token", None, lambda v: fixed(v, 10**9, 1)),
            ),
            (
                f"{stack} cache / token (16-bit)",
                figure(stack, "cache_bytes_per_token", None, human_bytes),
            ),
        )
    return (*rows, ("shared embedding + head", params("shared")))


def flops_label(seq_len: int | None) -> str:
    """Name of the FLOPs row, with the context length it was computed at."""
    at = "full context" if seq_len is None else tokens_text(seq_len)
    return f"forward GFLOPs / token at {at}"


def differing_fields(specs: list[ModelSpec]) -> list[str]:
    """Dotted paths of the fields (name, description and source left out; head size and kv
    heads written out) whose values are not all equal; empty when the specs describe the same
    architecture."""
    found: list[str] = []

    def walk(values: list[Any], path: str) -> None:
        if all(isinstance(v, dict) for v in values):
            for key in dict.fromkeys(k for v in values for k in v):
                walk([v.get(key) for v in values], f"{path}.{key}" if path else key)
        elif any(v != values[0] for v in values[1:]):
            found.append(path)

    dicts = [_explicit(s) | {"derived": resolve.resolved_dict(s)["derived"]} for s in specs]
    walk(dicts, "")
    return found


def _effect(
    knob: Knob,
    base: dict[str, Any],
    other: dict[str, Any],
    base_analysis: Analysis,
    name: str,
    seq_len: int | None,
) -> Effect | None:
    data = _transplant(base, other, knob.paths)
    try:
        changed = analyse(ModelSpec.model_validate(dict(data, name=name)), seq_len)
    except (ValidationError, ValueError):
        return None
    return Effect(
        params=changed.params.total - base_analysis.params.total,
        kv_cache_bytes_per_token=changed.kv_cache_bytes_per_token
        - base_analysis.kv_cache_bytes_per_token,
        flops_per_token=changed.flops_per_token - base_analysis.flops_per_token,
    )
