"""Derived values of a spec, computed by pure functions and never written back into it.

A spec says what its author wrote; everything the compiler and the analysis need beyond that
(head size defaults, padded vocabulary, each layer's attention and FFN after `layer_overrides`)
comes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from archspec.spec.model import (
    AttentionSpec,
    FfnSpec,
    LayerNormSpec,
    LayerRule,
    ModelSpec,
    PositionSpec,
    RopePosition,
)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` onto ``base``: mappings merge key by key, anything else replaces.

    A mapping whose ``kind`` differs from the base's replaces it whole, so switching
    ``position.kind`` from ``rope`` to ``alibi`` does not drag ``theta`` along.
    """
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if (
            isinstance(old, Mapping)
            and isinstance(value, Mapping)
            and value.get("kind", old.get("kind")) == old.get("kind")
        ):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def rule_applies(rule: LayerRule, index: int) -> bool:
    """Whether a layer rule selects layer ``index``."""
    if rule.layers is not None and index in rule.layers:
        return True
    return rule.every is not None and index % rule.every == rule.offset


@dataclass(frozen=True)
class LayerSpec:
    """One layer's attention, FFN and position encoding after every applicable
    `layer_overrides` rule."""

    index: int
    attention: AttentionSpec
    ffn: FfnSpec
    position: PositionSpec
    mixer: str = "attention"
    """`attention` or `recurrent` (the model's `mixer`, or the last rule that sets one)."""


def layer_specs(spec: ModelSpec) -> tuple[LayerSpec, ...]:
    """Resolve `layer_overrides` into one attention and FFN spec per layer."""
    cache: dict[tuple[int, ...], LayerSpec] = {}
    out = []
    for index in range(spec.n_layers):
        rules = tuple(k for k, rule in enumerate(spec.layer_overrides) if rule_applies(rule, index))
        if rules not in cache:
            cache[rules] = _apply_rules(spec, rules, index)
        layer = cache[rules]
        out.append(LayerSpec(index, layer.attention, layer.ffn, layer.position, layer.mixer))
    return tuple(out)


def _apply_rules(spec: ModelSpec, rules: tuple[int, ...], index: int) -> LayerSpec:
    mixer = spec.mixer
    for k in rules:
        mixer = spec.layer_overrides[k].mixer or mixer
    if not rules:
        return LayerSpec(index, spec.attention, spec.ffn, spec.position, mixer)
    attention = spec.attention.model_dump(exclude_unset=True)
    ffn = spec.ffn.model_dump(exclude_unset=True)
    position = position_data(spec.position)
    for k in rules:
        attention = deep_merge(attention, spec.layer_overrides[k].attention)
        ffn = deep_merge(ffn, spec.layer_overrides[k].ffn)
        position = merge_position(position, spec.layer_overrides[k].position, spec.position)
    return LayerSpec(
        index,
        AttentionSpec.model_validate(attention),
        FfnSpec.model_validate(ffn),
        POSITION.validate_python(position),
        mixer,
    )


POSITION: TypeAdapter[PositionSpec] = TypeAdapter(PositionSpec)
"""Validates a position encoding of any kind (the layer rules may change it)."""


def position_data(position: PositionSpec) -> dict[str, Any]:
    """A position as written, with its kind (so that an override of another kind replaces it)."""
    return {**position.model_dump(exclude_unset=True), "kind": position.kind}


def merge_position(
    base: dict[str, Any], override: Mapping[str, Any], model: PositionSpec
) -> dict[str, Any]:
    """``override`` merged onto a position: key by key, or replacing it when the kind changes.

    Switching a layer back to `rope` (after a rule made it NoPE) starts from the model's RoPE
    when the model has one, so its rotary fraction and layout carry over.
    """
    if override.get("kind") == "rope" != base.get("kind") and model.kind == "rope":
        base = position_data(model)
    return deep_merge({"position": base}, {"position": override})["position"]


def layer_position_kinds(spec: ModelSpec) -> set[str]:
    """The position kinds the layers use (a RoPE model's NoPE layers add `none`)."""
    return {layer.position.kind for layer in layer_specs(spec)}


def head_dim(attention: AttentionSpec, d_model: int) -> int:
    """Size of one attention head: the explicit `head_dim`, else `d_model // n_heads`."""
    return attention.head_dim if attention.head_dim is not None else d_model // attention.n_heads


def n_kv_heads(attention: AttentionSpec) -> int:
    """Number of key/value heads (defaults to the query heads: multi-head attention)."""
    return attention.n_kv_heads if attention.n_kv_heads is not None else attention.n_heads


def vocab_rows(spec: ModelSpec) -> int:
    """Rows of the embedding and output matrices: the padded vocabulary when there is one."""
    return spec.padded_vocab_size or spec.vocab_size


def rotary_dim(position: RopePosition, head_size: int) -> int:
    """Dimensions of each head that rotate: `int(head_dim * fraction)` as the references compute it."""
    return int(head_size * position.fraction)


def attention_bias(spec: ModelSpec, attention: AttentionSpec) -> dict[str, bool]:
    """The four projection bias flags with the global default applied."""
    flags = {
        "q": attention.q_bias,
        "k": attention.k_bias,
        "v": attention.v_bias,
        "o": attention.o_bias,
    }
    return {name: spec.bias if flag is None else flag for name, flag in flags.items()}


def ffn_bias(spec: ModelSpec, ffn: FfnSpec) -> bool:
    """The FFN bias flag with the global default applied."""
    return spec.bias if ffn.bias is None else ffn.bias


def layernorm_bias(norm: LayerNormSpec) -> bool:
    """A LayerNorm's shift: as written, or present exactly when it has a scale."""
    return norm.affine if norm.bias is None else norm.bias


def is_gated(ffn: FfnSpec) -> bool:
    """Gated FFNs (GLU variants, Shazeer 2020) have three projections instead of two."""
    return ffn.activation in ("swiglu", "geglu", "geglu_tanh", "reglu", "relu2_glu")


def shared_norm(spec: ModelSpec) -> bool:
    """Whether a parallel block's two branches share one norm (the default when parallel)."""
    return spec.block.parallel_residual and spec.block.shared_norm is not False


def resolved_dict(spec: ModelSpec) -> dict[str, Any]:
    """The spec with every default written out plus a `derived` section: what `archspec show` prints."""
    data = spec.model_dump(mode="json")
    layers = layer_specs(spec)
    data["derived"] = {
        "head_dim": sorted({head_dim(layer.attention, spec.d_model) for layer in layers}),
        "n_kv_heads": sorted({n_kv_heads(layer.attention) for layer in layers}),
        "vocab_rows": vocab_rows(spec),
        "sliding_window_per_layer": [layer.attention.sliding_window for layer in layers],
        "ffn_hidden_dim_per_layer": [layer.ffn.hidden_dim for layer in layers],
    }
    if spec.layer_overrides and any(rule.position for rule in spec.layer_overrides):
        data["derived"]["position_per_layer"] = [
            _position_label(layer.position) for layer in layers
        ]
    return data


def _position_label(position: PositionSpec) -> str:
    """A layer's position encoding in a few words: `none`, or `rope theta=... scaling=...`."""
    if position.kind != "rope":
        return position.kind
    scaling = position.scaling
    factor = getattr(scaling, "factor", None)
    how = (
        "" if scaling is None else f" {scaling.kind}" + ("" if factor is None else f" x{factor:g}")
    )
    return f"rope theta={position.theta:g}{how}"


def encoder_view(spec: ModelSpec) -> ModelSpec:
    """The encoder stack of an encoder-decoder spec as a spec of its own: the top-level fields
    with the encoder's parts in place of the decoder's, so that the per-layer resolution,
    counting and lowering of a decoder stack serve it unchanged. Not validated again (the rules
    ran on the whole spec); never shown or dumped."""
    enc = spec.encoder
    if enc is None:
        raise ValueError(f"{spec.name} has no encoder")
    update: dict[str, Any] = {
        "n_layers": enc.n_layers,
        "attention": enc.attention or spec.attention,
        "ffn": enc.ffn or spec.ffn,
        "norm": enc.norm or spec.norm,
        "position": enc.position or spec.position,
        "layer_overrides": [],
        "adapters": None,
        "encoder": None,
        "cross_attention": None,
        "head": spec.head.model_copy(update={"final_norm": enc.final_norm}),
    }
    return spec.model_copy(update=update)


def logit_scale(spec: ModelSpec) -> float | None:
    """The multiplier of the logits: `head.logit_scale` times `d_model ** -0.5` when the head
    scales by it (T5 v1.0; the head is linear, so scaling its input or output is the same)."""
    scale = spec.head.logit_scale
    if spec.head.scale_by_inv_sqrt_d_model:
        scale = (1.0 if scale is None else scale) * spec.d_model**-0.5
    return scale


def cross_attention(spec: ModelSpec) -> AttentionSpec:
    """The decoder's cross-attention as an attention spec: the cross-attention's fields, the
    self-attention's where they are null; no window, soft-cap, clipping or QK-norm."""
    cross = spec.cross_attention
    if cross is None:
        raise ValueError(f"{spec.name} has no cross-attention")
    att = spec.attention
    fields = ("n_heads", "n_kv_heads", "head_dim", "q_bias", "k_bias", "v_bias", "o_bias", "scale")
    values = {
        name: getattr(att, name) if getattr(cross, name) is None else getattr(cross, name)
        for name in fields
    }
    if cross.n_heads is not None and cross.n_kv_heads is None:
        values["n_kv_heads"] = None  # its own heads: multi-head unless it says otherwise
    return AttentionSpec(**values)
