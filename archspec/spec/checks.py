"""Cross-field rules of the spec language, each reported with the path of the field at fault.

They run once every field has parsed, and return all problems at once rather than the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from archspec.spec import resolve

if TYPE_CHECKING:
    from archspec.spec.model import AttentionSpec, FfnSpec, ModelSpec

Path = tuple[str | int, ...]


class CrossFieldError(ValueError):
    """Raised by the spec's model validator; carries every (path, message) found."""

    def __init__(self, issues: list[tuple[Path, str]]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in issues))


def cross_field_issues(spec: ModelSpec) -> list[tuple[Path, str]]:
    """Every violated cross-field rule of ``spec`` as ``(field path, message)`` pairs."""
    issues: list[tuple[Path, str]] = []
    issues += _model_rules(spec)
    issues += _rule_shape(spec)
    if any(path[:1] == ("layer_overrides",) for path, _ in issues):
        return issues
    try:
        layers = resolve.layer_specs(spec)
    except ValidationError as err:
        return issues + _override_errors(spec, err)
    seen: set[str] = set()
    for layer in layers:
        prefix = _owner(spec, layer.index)
        for path, message in _attention_rules(spec, layer.attention) + _ffn_rules(layer.ffn):
            if message in seen:
                continue
            seen.add(message)
            issues.append((prefix + path, message))
    return issues


def _owner(spec: ModelSpec, index: int) -> Path:
    """Path of the last override rule touching layer ``index``, or () for the base spec."""
    owner: Path = ()
    for k, rule in enumerate(spec.layer_overrides):
        if resolve.rule_applies(rule, index):
            owner = ("layer_overrides", k)
    return owner


def _model_rules(spec: ModelSpec) -> list[tuple[Path, str]]:
    issues: list[tuple[Path, str]] = []
    if spec.padded_vocab_size is not None and spec.padded_vocab_size < spec.vocab_size:
        issues.append(
            (
                ("padded_vocab_size",),
                f"padded_vocab_size ({spec.padded_vocab_size}) is smaller than vocab_size ({spec.vocab_size})",
            )
        )
    block = spec.block
    if block.parallel_residual and block.placement != "pre":
        issues.append(
            (
                ("block", "placement"),
                f"parallel_residual needs placement 'pre', got '{block.placement}'",
            )
        )
    if block.shared_norm is not None and not block.parallel_residual:
        issues.append(
            (("block", "shared_norm"), "shared_norm only applies with parallel_residual: true")
        )
    norms = [(("norm",), spec.norm)]
    if spec.attention.qk_norm is not None:
        norms.append((("attention", "qk_norm", "norm"), spec.attention.qk_norm.norm))
    for path, norm in norms:
        if norm.kind == "layernorm" and norm.bias and not norm.affine:
            issues.append((path + ("bias",), "a LayerNorm bias needs affine: true"))
    return issues


def _rule_shape(spec: ModelSpec) -> list[tuple[Path, str]]:
    issues: list[tuple[Path, str]] = []
    for k, rule in enumerate(spec.layer_overrides):
        path: Path = ("layer_overrides", k)
        if rule.layers is None and rule.every is None:
            issues.append((path, "a layer rule needs `layers` or `every`"))
        if rule.every is not None and rule.offset >= rule.every:
            issues.append(
                (path + ("offset",), f"offset ({rule.offset}) must be smaller than every ({rule.every})")
            )
        for index in rule.layers or []:
            if index >= spec.n_layers:
                issues.append(
                    (path + ("layers",), f"layer {index} does not exist (n_layers is {spec.n_layers})")
                )
        if not rule.attention and not rule.ffn:
            issues.append((path, "a layer rule must override `attention` or `ffn`"))
    return issues


def _override_errors(spec: ModelSpec, err: ValidationError) -> list[tuple[Path, str]]:
    """Locate an override that made a layer's attention or FFN invalid."""
    issues: list[tuple[Path, str]] = []
    for k, rule in enumerate(spec.layer_overrides):
        for part, override in (("attention", rule.attention), ("ffn", rule.ffn)):
            if not override:
                continue
            base = getattr(spec, part)
            try:
                type(base).model_validate(
                    resolve.deep_merge(base.model_dump(exclude_unset=True), override)
                )
            except ValidationError as sub:
                for e in sub.errors():
                    issues.append((("layer_overrides", k, part) + tuple(e["loc"]), e["msg"]))
    return issues or [(("layer_overrides",), str(err))]


def _attention_rules(spec: ModelSpec, att: AttentionSpec) -> list[tuple[Path, str]]:
    issues: list[tuple[Path, str]] = []
    here: Path = ("attention",)
    if att.head_dim is None and spec.d_model % att.n_heads:
        issues.append(
            (
                here + ("n_heads",),
                f"d_model ({spec.d_model}) is not divisible by attention.n_heads ({att.n_heads}); "
                "set attention.head_dim",
            )
        )
    kv = resolve.n_kv_heads(att)
    if kv > att.n_heads:
        issues.append(
            (
                here + ("n_kv_heads",),
                f"n_kv_heads ({kv}) is larger than n_heads ({att.n_heads})",
            )
        )
    elif att.n_heads % kv:
        issues.append(
            (
                here + ("n_kv_heads",),
                f"n_heads ({att.n_heads}) is not divisible by n_kv_heads ({kv})",
            )
        )
    if spec.position.kind == "rope":
        size = resolve.head_dim(att, spec.d_model)
        rot = resolve.rotary_dim(spec.position, size)
        if rot < 2 or rot % 2:
            issues.append(
                (
                    ("position", "fraction"),
                    f"rotary dimension int(head_dim * fraction) = int({size} * {spec.position.fraction}) "
                    f"= {rot} must be even and at least 2",
                )
            )
    return issues


def _ffn_rules(ffn: FfnSpec) -> list[tuple[Path, str]]:
    if ffn.moe is not None and ffn.moe.experts_per_token > ffn.moe.n_experts:
        return [
            (
                ("ffn", "moe", "experts_per_token"),
                f"experts_per_token ({ffn.moe.experts_per_token}) is larger than n_experts "
                f"({ffn.moe.n_experts})",
            )
        ]
    return []
