"""Adapters of a spec resolved per projection, and the rules an `adapters:` section must follow.

Pure functions of the spec: which projections of which layer carry an adapter, with what rank,
alpha and scale, and each projection's (in, out) size. Counting, lowering and the HF adapter
files all ask these, so they agree on every choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archspec.spec import resolve
from archspec.spec.model import AdapterSpec, ModelSpec

Path = tuple[str | int, ...]

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
FFN = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = ATTENTION + FFN
"""peft's `all-linear`: every nn.Linear but the output head; on a dense model these seven."""

REFUSED = {
    "router": "the router of transformers' MoE blocks is not an nn.Linear; peft adapts it "
    "through `target_parameters` (a parametrisation), which archspec does not build",
    "experts": "peft 0.21 adapts stacked experts through `target_parameters` with one rank "
    "r * n_experts factor pair per stacked tensor (and twice the rank on gate_up_proj), a "
    "layout archspec does not build",
}
"""Targets the language names but refuses, with the reason."""


@dataclass(frozen=True)
class Adapted:
    """One adapted projection: its kind, rank, alpha, scale and dropout."""

    kind: str
    r: int
    alpha: float
    scaling: float
    dropout: float


def targets(adapters: AdapterSpec) -> tuple[str, ...]:
    """The targeted projection names, `all-linear` expanded, in a fixed order."""
    wanted = set(adapters.targets)
    if "all-linear" in wanted:
        wanted |= set(ALL_LINEAR)
    order = ALL_LINEAR + ("lm_head", "router", "experts")
    return tuple(name for name in order if name in wanted)


def _adapted_layer(adapters: AdapterSpec, index: int) -> bool:
    return adapters.layers is None or index in adapters.layers


def adapter(spec: ModelSpec, layer: int | None, name: str) -> Adapted | None:
    """The adapter on projection ``name`` of block ``layer`` (None: the output head), or None."""
    a = spec.adapters
    if a is None or name not in targets(a):
        return None
    if layer is not None and not _adapted_layer(a, layer):
        return None
    override = a.overrides.get(name)
    r = override.r if override is not None and override.r is not None else a.r
    alpha = override.alpha if override is not None and override.alpha is not None else a.alpha
    scaling = alpha / math.sqrt(r) if a.rslora else alpha / r
    return Adapted(a.kind, r, alpha, scaling, a.dropout)


def linear_shape(spec: ModelSpec, layer: resolve.LayerSpec, name: str) -> tuple[int, int]:
    """(in, out) features of projection ``name`` of a block."""
    att, d = layer.attention, spec.d_model
    q = att.n_heads * resolve.head_dim(att, d)
    kv = resolve.n_kv_heads(att) * resolve.head_dim(att, d)
    h = layer.ffn.hidden_dim
    return {
        "q_proj": (d, q),
        "k_proj": (d, kv),
        "v_proj": (d, kv),
        "o_proj": (q, d),
        "gate_proj": (d, h),
        "up_proj": (d, h),
        "down_proj": (h, d),
    }[name]


def adapter_params(a: Adapted, shape: tuple[int, int]) -> int:
    """A (r, in) and B (out, r); DoRA adds a magnitude per output row."""
    n_in, n_out = shape
    return a.r * (n_in + n_out) + (n_out if a.kind == "dora" else 0)


def adapter_issues(spec: ModelSpec) -> list[tuple[Path, str]]:
    """Every problem of the `adapters:` section, with the path of the field at fault."""
    a = spec.adapters
    if a is None:
        return []
    issues: list[tuple[Path, str]] = []
    here: Path = ("adapters",)
    layers = resolve.layer_specs(spec)
    moe = any(layer.ffn.moe is not None for layer in layers)
    for k, name in enumerate(a.targets):
        path = here + ("targets", k)
        if name in a.targets[:k]:
            issues.append((path, f"target {name!r} is listed twice"))
        elif name in REFUSED:
            issues.append((path, f"adapters on {name!r} are not supported: {REFUSED[name]}"))
        elif name == "lm_head" and spec.head.tie_embeddings:
            issues.append(
                (
                    path,
                    "the output head is tied to the embedding (head.tie_embeddings): an adapter "
                    "on it would untie them when merged",
                )
            )
        elif name == "all-linear" and moe:
            issues.append(
                (
                    path,
                    "all-linear on a mixture of experts is not supported: peft's all-linear also "
                    f"adapts the router and the experts ({REFUSED['experts']}); list the "
                    "attention projections instead",
                )
            )
        elif name in FFN:
            missing = [
                layer.index
                for layer in layers
                if layer.ffn.moe is not None
                or (name == "gate_proj" and not resolve.is_gated(layer.ffn))
            ]
            if missing:
                why = "has a mixture of experts" if moe else "has an ungated FFN (no gate_proj)"
                issues.append((path, f"the model has no {name} to adapt: layer {missing[0]} {why}"))
    for k, index in enumerate(a.layers or []):
        if index >= spec.n_layers:
            issues.append(
                (
                    here + ("layers", k),
                    f"layer {index} does not exist: the model has {spec.n_layers} layers "
                    f"(0..{spec.n_layers - 1})",
                )
            )
    chosen = targets(a)
    for name in a.overrides:
        if name not in chosen or name == "all-linear":
            issues.append(
                (
                    here + ("overrides", name),
                    f"override for {name!r}, which is not a target; targets: {', '.join(chosen)}",
                )
            )
    return issues


def describe(a: AdapterSpec) -> str:
    """One line for listings, e.g. `dora r=8 q,v` (rsLoRA, layers and overrides when set)."""
    names = ",".join(t.removesuffix("_proj") for t in a.targets)
    text = f"{a.kind}{' rs' if a.rslora else ''} r={a.r} {names}"
    if a.layers is not None:
        text += f" layers={','.join(map(str, a.layers))}"
    for name, o in a.overrides.items():
        parts = ([f"r={o.r}"] if o.r else []) + ([f"alpha={o.alpha:g}"] if o.alpha else [])
        text += f" {name.removesuffix('_proj')}:{'/'.join(parts)}"
    return text
