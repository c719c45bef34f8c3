"""Cross-field rules of the spec language, each reported with the path of the field at fault.

They run once every field has parsed, and return all problems at once rather than the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from archspec.spec import resolve
from archspec.spec.adapters import adapter_issues
from archspec.spec.encoder_checks import encoder_issues
from archspec.spec.linear import linear_issues
from archspec.spec.mixer_checks import mixer_issues

if TYPE_CHECKING:
    from archspec.spec.model import AttentionSpec, FfnSpec, ModelSpec, NormSpec, PositionSpec

Path = tuple[str | int, ...]

MAX_LAYERS = 10_000
"""Ten times the deepest transformer trained (DeepNet, 1,000 layers): the per-layer rules, counts
and plans do work per layer, so a typo of 10**9 must be refused before any of it."""
MAX_HEADS = 16_384
"""Far above any model's attention heads (128 in the largest published); ALiBi slopes and head
tables are per head."""
MAX_EXPERTS = 65_536
"""Far above any mixture-of-experts (DeepSeek-V3: 256 routed experts); the built module has one
FFN per expert."""


class CrossFieldError(ValueError):
    """Raised by the spec's model validator; carries every (path, message) found."""

    def __init__(self, issues: list[tuple[Path, str]]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in issues))


class OverrideError(str):
    """Message of a pydantic error found validating a layer override.

    It keeps the error itself, so that :mod:`archspec.spec.locate` describes it like an error
    anywhere else in the spec (did-you-mean, allowed values).
    """

    error: dict[str, Any]
    """The pydantic error, its location relative to the part."""
    part: dict[str, Any]
    """The part's data as validated: the base with the overrides merged in."""

    def __new__(cls, error: dict[str, Any], part: dict[str, Any]) -> OverrideError:
        self = super().__new__(cls, error["msg"])
        self.error = error
        self.part = part
        return self


class Related(str):
    """Message of a cross-field rule that also names the other fields involved, so that the
    error can point at whichever of them the user wrote (a child's `d_model`, not the base's
    `n_heads`)."""

    related: tuple[Path, ...]

    def __new__(cls, message: str, *related: Path) -> Related:
        self = super().__new__(cls, message)
        self.related = related
        return self


def cross_field_issues(spec: ModelSpec) -> list[tuple[Path, str]]:
    """Every violated cross-field rule of ``spec`` as ``(field path, message)`` pairs."""
    issues = _bounds(spec)
    if issues:
        return issues
    issues += _model_rules(spec)
    issues += encoder_issues(spec, cross_field_issues)
    issues += _rule_shape(spec)
    if any(path[:1] == ("layer_overrides",) for path, _ in issues):
        return issues
    invalid = _override_errors(spec)
    if invalid:
        return issues + invalid
    layers = resolve.layer_specs(spec)
    base = {message for _, message in _layer_rules(spec, spec.attention, spec.ffn, spec.position)}
    seen: set[str] = set()
    for layer in layers:
        for path, message in _layer_rules(spec, layer.attention, layer.ffn, layer.position):
            if message in seen:
                continue
            seen.add(message)
            issues.append((path if message in base else _blame(spec, layer.index, path), message))
    issues += _shared_rotary_rule(spec, layers) + adapter_issues(spec) + linear_issues(spec)
    return issues + _sub_norm_rule(spec, layers) + mixer_issues(spec, layers)


def _bounds(spec: ModelSpec) -> list[tuple[Path, str]]:
    """Sizes that the other rules (and every later stage) do work in proportion to, checked
    first so that no work grows with a number before it is known to be sane."""
    issues: list[tuple[Path, str]] = []
    if spec.n_layers > MAX_LAYERS:
        issues.append(
            (("n_layers",), f"{spec.n_layers} layers is more than the {MAX_LAYERS:,} allowed")
        )
    if spec.encoder is not None and spec.encoder.n_layers > MAX_LAYERS:
        n = spec.encoder.n_layers
        issues.append(
            (("encoder", "n_layers"), f"{n} layers is more than the {MAX_LAYERS:,} allowed")
        )
    parts: list[tuple[Path, dict[str, Any]]] = [
        (
            ("attention",),
            {"n_heads": spec.attention.n_heads, "n_kv_heads": spec.attention.n_kv_heads},
        ),
        (("ffn", "moe"), {"n_experts": spec.ffn.moe.n_experts if spec.ffn.moe else None}),
    ]
    for k, rule in enumerate(spec.layer_overrides):
        parts.append((("layer_overrides", k, "attention"), rule.attention))
        moe = rule.ffn.get("moe") if isinstance(rule.ffn, dict) else None
        if isinstance(moe, dict):
            parts.append((("layer_overrides", k, "ffn", "moe"), moe))
    limits = {"n_heads": MAX_HEADS, "n_kv_heads": MAX_HEADS, "n_experts": MAX_EXPERTS}
    for path, values in parts:
        for key, limit in limits.items():
            value = values.get(key) if isinstance(values, dict) else None
            if isinstance(value, int) and value > limit:
                issues.append((path + (key,), f"{key} {value} is more than the {limit:,} allowed"))
    return issues


def _shared_rotary_rule(spec: ModelSpec, layers: list[resolve.LayerSpec]) -> list[tuple[Path, str]]:
    """Rotary tables are computed once per forward pass for all layers, so every layer needs
    the head size of the first."""
    layers = [layer for layer in layers if layer.position.kind == "rope"]
    if not layers:
        return []
    sizes = [_head_size(layer.attention, spec.d_model) for layer in layers]
    for layer, size in zip(layers, sizes, strict=True):
        if None not in (size, sizes[0]) and size != sizes[0]:
            return [
                (
                    _blame(spec, layer.index, ("attention", "head_dim")),
                    f"with rotary positions every layer needs the same head size (one set of "
                    f"rotary tables serves all layers): layer 0 has {sizes[0]}, layer "
                    f"{layer.index} has {size}",
                )
            ]
    return []


def _layer_rules(
    spec: ModelSpec, att: AttentionSpec, ffn: FfnSpec, position: PositionSpec
) -> list[tuple[Path, str]]:
    return _attention_rules(spec, att, position) + _ffn_rules(ffn)


def _blame(spec: ModelSpec, index: int, path: Path) -> Path:
    """Path of the override that broke a rule on layer ``index`` (the base spec keeps it).

    That is the last rule applying to the layer that overrides the part at fault (the rotary
    dimension follows the head size, so `attention`), down to the field when the rule sets it.
    """
    part = "ffn" if path[0] == "ffn" else "attention"
    if path[:2] == ("position", "scaling"):
        part = "position"
    for k in reversed(range(len(spec.layer_overrides))):
        rule = spec.layer_overrides[k]
        override = getattr(rule, part)
        if override and resolve.rule_applies(rule, index):
            here: Path = ("layer_overrides", k, part)
            return here + path[1:2] if path[0] == part and path[1] in override else here
    return path


def _model_rules(spec: ModelSpec) -> list[tuple[Path, str]]:
    issues: list[tuple[Path, str]] = []
    if spec.padded_vocab_size is not None and spec.padded_vocab_size < spec.vocab_size:
        issues.append(
            (
                ("padded_vocab_size",),
                Related(
                    f"padded_vocab_size ({spec.padded_vocab_size}) is smaller than "
                    f"vocab_size ({spec.vocab_size})",
                    ("vocab_size",),
                ),
            )
        )
    block = spec.block
    if block.parallel_residual and block.placement != "pre":
        issues.append(
            (
                ("block", "placement"),
                Related(
                    f"parallel_residual needs placement 'pre', got '{block.placement}'",
                    ("block", "parallel_residual"),
                ),
            )
        )
    if block.shared_norm is not None and not block.parallel_residual:
        issues.append(
            (
                ("block", "shared_norm"),
                Related(
                    "shared_norm only applies with parallel_residual: true",
                    ("block", "parallel_residual"),
                ),
            )
        )
    issues += _layernorm_rules(("norm",), spec.norm)
    scaling = spec.position.scaling if spec.position.kind == "rope" else None
    here: Path = ("position", "scaling")
    if (
        scaling is not None
        and scaling.kind == "llama3"
        and scaling.low_freq_factor >= scaling.high_freq_factor
    ):
        issues.append(
            (
                here + ("high_freq_factor",),
                Related(
                    f"high_freq_factor ({scaling.high_freq_factor:g}) must be larger than "
                    f"low_freq_factor ({scaling.low_freq_factor:g})",
                    here + ("low_freq_factor",),
                ),
            )
        )
    if scaling is not None and scaling.kind == "yarn" and scaling.beta_fast <= scaling.beta_slow:
        issues.append(
            (
                here + ("beta_fast",),
                Related(
                    f"beta_fast ({scaling.beta_fast:g}) must be larger than "
                    f"beta_slow ({scaling.beta_slow:g})",
                    here + ("beta_slow",),
                ),
            )
        )
    return issues


def _layernorm_rules(path: Path, norm: NormSpec) -> list[tuple[Path, str]]:
    if norm.kind == "layernorm" and norm.bias and not norm.affine:
        return [(path + ("bias",), "a LayerNorm bias needs affine: true")]
    return []


def _rule_shape(spec: ModelSpec) -> list[tuple[Path, str]]:
    issues: list[tuple[Path, str]] = []
    for k, rule in enumerate(spec.layer_overrides):
        path: Path = ("layer_overrides", k)
        if rule.layers is None and rule.every is None:
            issues.append((path, "a layer rule needs `layers` or `every`"))
        if rule.every is not None and rule.offset >= rule.every:
            issues.append(
                (
                    path + ("offset",),
                    Related(
                        f"offset ({rule.offset}) must be smaller than every ({rule.every})",
                        path + ("every",),
                    ),
                )
            )
        for index in rule.layers or []:
            if index >= spec.n_layers:
                issues.append(
                    (
                        path + ("layers",),
                        Related(
                            f"layer {index} does not exist (n_layers is {spec.n_layers})",
                            ("n_layers",),
                        ),
                    )
                )
        if not rule.attention and not rule.ffn and not rule.position and rule.mixer is None:
            issues.append(
                (path, "a layer rule must override `attention`, `ffn`, `position` or `mixer`")
            )
        issues += _position_rule_shape(spec, rule.position, path + ("position",))
    return issues


_LAYER_POSITION_FIELDS = ("kind", "theta", "scaling")


def _position_rule_shape(
    spec: ModelSpec, override: dict[str, Any], path: Path
) -> list[tuple[Path, str]]:
    """Layers may switch RoPE off (NoPE) or change its frequencies, nothing else: the rotary
    dimensions and pairing, learned tables and ALiBi are the model's."""
    if not override:
        return []
    if spec.position.kind not in ("rope", "none"):
        return [
            (
                path,
                f"per-layer positions need the model's position to be `rope` or `none`, "
                f"not `{spec.position.kind}`",
            )
        ]
    issues: list[tuple[Path, str]] = []
    for key in override:
        if key not in _LAYER_POSITION_FIELDS:
            issues.append(
                (
                    path + (key,),
                    f"a layer rule may set position {', '.join(_LAYER_POSITION_FIELDS)}, not `{key}`",
                )
            )
    if override.get("kind", "rope") not in ("rope", "none"):
        issues.append((path + ("kind",), "a layer's position kind must be `rope` or `none`"))
    return issues


def _override_errors(spec: ModelSpec) -> list[tuple[Path, str]]:
    """Pydantic errors of the overrides, each located in the rule that wrote the field.

    Each layer's rules are merged onto the base in order, as :func:`resolve.layer_specs` does, so a
    rule may rely on an earlier one; a rule that selects no layer is checked on its own.
    """
    issues: list[tuple[Path, str]] = []
    checked: set[tuple[str, tuple[int, ...]]] = set()
    unused = set(range(len(spec.layer_overrides)))
    for index in range(spec.n_layers):
        applied = [k for k, r in enumerate(spec.layer_overrides) if resolve.rule_applies(r, index)]
        unused.difference_update(applied)
        for part in ("attention", "ffn", "position"):
            rules = tuple(k for k in applied if getattr(spec.layer_overrides[k], part))
            if rules and (part, rules) not in checked:
                checked.add((part, rules))
                issues += _invalid_part(spec, part, rules)
    for k in sorted(unused):
        for part in ("attention", "ffn", "position"):
            if getattr(spec.layer_overrides[k], part):
                issues += _invalid_part(spec, part, (k,))
    return list(dict.fromkeys(issues))


def _invalid_part(spec: ModelSpec, part: str, rules: tuple[int, ...]) -> list[tuple[Path, str]]:
    """Errors of ``part`` ("attention" or "ffn") with the overrides of ``rules`` merged in.

    Each error is blamed on the last of ``rules`` that writes the top field it is about.
    """
    base = getattr(spec, part)
    if part == "position":
        merged = resolve.position_data(base)
        for k in rules:
            merged = resolve.merge_position(merged, spec.layer_overrides[k].position, base)
        validate = resolve.POSITION.validate_python
    else:
        merged = base.model_dump(exclude_unset=True)
        for k in rules:
            merged = resolve.deep_merge(merged, getattr(spec.layer_overrides[k], part))
        validate = type(base).model_validate
    try:
        validate(merged)
    except ValidationError as err:
        issues: list[tuple[Path, str]] = []
        for e in err.errors(include_url=False):
            loc = tuple(e["loc"])
            writers = [k for k in rules if loc and loc[0] in getattr(spec.layer_overrides[k], part)]
            owner = writers[-1] if writers else rules[-1]
            issues.append((("layer_overrides", owner, part) + loc, OverrideError(e, merged)))
        return issues
    return []


def _attention_rules(
    spec: ModelSpec, att: AttentionSpec, position: PositionSpec
) -> list[tuple[Path, str]]:
    issues: list[tuple[Path, str]] = []
    here: Path = ("attention",)
    if att.head_dim is None and spec.d_model % att.n_heads:
        issues.append(
            (
                here + ("n_heads",),
                Related(
                    f"d_model ({spec.d_model}) is not divisible by attention.n_heads "
                    f"({att.n_heads}); set attention.head_dim",
                    ("d_model",),
                    here + ("head_dim",),
                ),
            )
        )
    kv = resolve.n_kv_heads(att)
    if kv > att.n_heads:
        issues.append(
            (
                here + ("n_kv_heads",),
                Related(
                    f"n_kv_heads ({kv}) is larger than n_heads ({att.n_heads})",
                    here + ("n_heads",),
                ),
            )
        )
    elif att.n_heads % kv:
        issues.append(
            (
                here + ("n_kv_heads",),
                Related(
                    f"n_heads ({att.n_heads}) is not divisible by n_kv_heads ({kv})",
                    here + ("n_heads",),
                ),
            )
        )
    if att.qk_norm is not None:
        issues += _layernorm_rules(here + ("qk_norm", "norm"), att.qk_norm.norm)
    size = _head_size(att, spec.d_model)
    if position.kind == "rope" and size is not None:
        rot = resolve.rotary_dim(position, size)
        scaling = position.scaling
        if rot < 2 or rot % 2:
            issues.append(_odd_rotary(spec, position, att, size, rot))
        elif scaling is not None and scaling.kind == "longrope":
            for name in ("short_factor", "long_factor"):
                n = len(getattr(scaling, name))
                if n != rot // 2:
                    issues.append(
                        (
                            ("position", "scaling", name),
                            f"LongRoPE needs one factor per rotary pair: {name} has {n}, the "
                            f"rotary dimension {rot} has {rot // 2} pairs",
                        )
                    )
        elif scaling is not None and scaling.kind == "ntk" and rot < 4:
            issues.append(
                (
                    ("position", "scaling", "kind"),
                    "NTK-aware scaling raises the base to rotary_dim / (rotary_dim - 2): rotary "
                    f"dimension {rot} needs to be at least 4",
                )
            )
    return issues


def _odd_rotary(
    spec: ModelSpec, position: PositionSpec, att: AttentionSpec, size: int, rot: int
) -> tuple[Path, str]:
    """The odd-rotary-dimension issue, blamed on what the user wrote: the fraction when it is
    not 1, else `head_dim` when set, else `n_heads` (and `d_model`) that the head size comes from."""
    if position.fraction != 1:
        return (
            ("position", "fraction"),
            Related(
                f"the rotary dimension int(head size {size} * position.fraction "
                f"{position.fraction:g}) = {rot} must be even and at least 2",
                ("attention", "head_dim"),
                ("attention", "n_heads"),
            ),
        )
    if att.head_dim is not None:
        return (
            ("attention", "head_dim"),
            Related(
                f"with rotary positions the head size (attention.head_dim = {size}) must be even "
                "and at least 2"
            ),
        )
    return (
        ("attention", "n_heads"),
        Related(
            "with rotary positions the head size must be even and at least 2, and d_model / "
            f"n_heads = {spec.d_model} / {att.n_heads} = {size}: choose n_heads so that it is "
            "even, or set attention.head_dim",
            ("d_model",),
            ("attention", "head_dim"),
        ),
    )


def _head_size(att: AttentionSpec, d_model: int) -> int | None:
    """The head size, or None where it is undefined (d_model not divisible by n_heads, which
    its own rule reports)."""
    if att.head_dim is None and d_model % att.n_heads:
        return None
    return resolve.head_dim(att, d_model)


def _sub_norm_rule(spec: ModelSpec, layers: list[resolve.LayerSpec]) -> list[tuple[Path, str]]:
    """A sub-norm normalises a dense FFN's hidden activations; experts have none."""
    for layer in layers:
        if layer.ffn.sub_norm and layer.ffn.moe is not None:
            path = _blame(spec, layer.index, ("ffn", "sub_norm"))
            return [(path, "ffn.sub_norm applies to a dense FFN, not a mixture of experts")]
    return []


def _ffn_rules(ffn: FfnSpec) -> list[tuple[Path, str]]:
    if ffn.moe is not None and ffn.moe.experts_per_token > ffn.moe.n_experts:
        return [
            (
                ("ffn", "moe", "experts_per_token"),
                Related(
                    f"experts_per_token ({ffn.moe.experts_per_token}) is larger than n_experts "
                    f"({ffn.moe.n_experts})",
                    ("ffn", "moe", "n_experts"),
                ),
            )
        ]
    return []
