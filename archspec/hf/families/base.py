"""What every family module builds on: the :class:`Family` record and shared readers and writers.

A reader turns a config into spec data, ticking off every key it maps or checks; a writer turns a
spec into config keys, mapping what it can and leaving any difference for the round-trip check in
:mod:`archspec.hf.config` to report. Defaults are those of the transformers configuration classes
(`models/<family>/configuration_<family>.py`; transformers 4 and 5 agree on them) and the semantics
those of the modeling files, which each reader names where it matters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archspec.hf.keys import NULL_IS_ERROR, ConfigKeys, HFConfigError, Layout, is_number
from archspec.hf.tables import NameTable
from archspec.spec import resolve
from archspec.spec.model import ModelSpec


@dataclass(frozen=True)
class Family:
    """One transformers `model_type`: how to read its config and how to write one."""

    model_type: str
    architecture: str
    """The causal-LM class written to `architectures`."""
    read: Callable[[ConfigKeys], dict[str, Any]]
    """Config -> spec data (without name, description, source, dtype)."""
    write: Callable[[ModelSpec, Layout], dict[str, Any]]
    """Spec -> the family's architecture keys (without model_type, architectures, dtype)."""
    names: NameTable
    """Where the family's checkpoints keep each tensor."""
    ignorable: Mapping[str, str] = field(default_factory=dict)
    """Family keys that do not change the architecture, each with the reason."""
    other_classes: tuple[str, ...] = ()
    """Other class names a config of this family may list in `architectures`."""
    hints: Callable[[ModelSpec], list[str]] | None = None
    """Why a spec cannot be this family, when the read-back difference alone would not say it."""
    encoder_decoder: bool = False
    """The family's configs say `is_encoder_decoder: true` (T5)."""

    @property
    def causal_lm_classes(self) -> tuple[str, ...]:
        return (self.architecture, *self.other_classes)


# --- activations ----------------------------------------------------------------------------------

GATED_FROM_HF = {
    "silu": "swiglu",
    "swish": "swiglu",
    "gelu": "geglu",
    "gelu_pytorch_tanh": "geglu_tanh",
    "gelu_new": "geglu_tanh",
    "relu": "reglu",
}
"""`hidden_act` of gated MLPs, `down(act(gate(x)) * up(x))` (Llama, Mistral, Qwen2, Gemma, OLMo)."""
GATED_TO_HF = {
    "swiglu": "silu",
    "geglu": "gelu",
    "geglu_tanh": "gelu_pytorch_tanh",
    "reglu": "relu",
}

PLAIN_FROM_HF = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}
"""Activation of the two-matrix MLPs (`fc2(act(fc1(x)))`: phi, GPT-2, Falcon)."""
PLAIN_TO_HF = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu", "silu": "silu"}


def activation(k: ConfigKeys, key: str, default: str, table: Mapping[str, str]) -> str:
    name = k.get_str(key, default)
    if name not in table:
        raise HFConfigError(
            f"'{key}' is {name!r}; archspec maps {', '.join(table)} for this family", keys=(key,)
        )
    return table[name]


# --- rotary embeddings ----------------------------------------------------------------------------

LAYER_TYPES = ("full_attention", "sliding_attention")
_ROPE_COMMON = frozenset({"rope_type", "type", "rope_theta", "partial_rotary_factor"})
_ROPE_FIELDS: dict[str, frozenset[str]] = {
    "default": frozenset(),
    "linear": frozenset({"factor"}),
    "llama3": frozenset(
        {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}
    ),
    "yarn": frozenset(
        {
            "factor",
            "original_max_position_embeddings",
            "beta_fast",
            "beta_slow",
            "attention_factor",
            "mscale",
            "mscale_all_dim",
            "truncate",
        }
    ),
    "longrope": frozenset(
        {
            "short_factor",
            "long_factor",
            "factor",
            "attention_factor",
            "original_max_position_embeddings",
        }
    ),
}
"""Keys transformers' `modeling_rope_utils` reads for each `rope_type` archspec can express."""


def _number(value: Any, where: str, key: str) -> float:
    if not is_number(value) or abs(value) > 1e300:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise HFConfigError(f"{where}: '{key}' must be a finite number, got {shown}", keys=(where,))
    return float(value)


def read_rope(
    k: ConfigKeys,
    family: str,
    *,
    max_seq_len: int,
    default_theta: float = 10000.0,
    fraction: float | None = None,
    original_max_seq_len: int | None = None,
    renamed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The spec `position` of a RoPE family, from either spelling.

    transformers 5 keeps everything in `rope_parameters` (nested per layer type for models with
    `layer_types`); transformers 4 has top-level `rope_theta`/`partial_rotary_factor` and the
    scaling in `rope_scaling` (`type` or `rope_type`). A value in the dict wins over a top-level
    one in transformers 5 and is ignored by transformers 4, so the two must agree.

    Args:
        fraction: The family's default `partial_rotary_factor` when its modeling reads it (phi:
            0.5); None when it rotates whole heads whatever the config says.
        original_max_seq_len: The family's top-level `original_max_position_embeddings` (Phi-3),
            which transformers' `standardize_rope_params` puts over the rope dict's; LongRoPE is
            read only for a family that has it, since transformers 4 reads it nowhere else.
        renamed: rope types the family's config class renames (Phi-3: `su`, `yarn` ->
            `longrope`).
    """
    params = k.take("rope_parameters", None, record=False)
    scaling = k.take("rope_scaling", None, record=False)
    for where, value in (("rope_parameters", params), ("rope_scaling", scaling)):
        if value is not None and not isinstance(value, Mapping):
            raise HFConfigError(f"'{where}' must be an object, got {value!r}", keys=(where,))
    if params is not None and any(name in LAYER_TYPES for name in params):
        params = _one_rope(params, "rope_parameters")
    if params is not None and scaling is not None:
        # Both spellings side by side (archspec's export writes both): transformers 4 reads
        # rope_scaling and ignores rope_parameters; 5 takes rope_scaling over rope_parameters.
        # Only a config whose two spellings say the same is read.
        drop = ("original_max_position_embeddings",) if original_max_seq_len is not None else ()
        if _rope_core(params, renamed, drop) != _rope_core(scaling, renamed, drop):
            raise HFConfigError(
                "'rope_parameters' and 'rope_scaling' disagree; transformers 5 reads one, "
                "4 the other",
                keys=("rope_parameters", "rope_scaling"),
            )
        rope: Mapping[str, Any] = {**params, **scaling}
        where = "rope_scaling"
    else:
        where = "rope_scaling" if scaling is not None else "rope_parameters"
        rope = scaling if scaling is not None else params if params is not None else {}

    theta = _agreeing(k, rope, "rope_theta", where)
    if theta is None:
        k.defaults["rope_theta"] = theta = default_theta
    position: dict[str, Any] = {"kind": "rope", "theta": theta}
    partial = _agreeing(k, rope, "partial_rotary_factor", where)
    if fraction is None:
        if partial not in (None, 1.0):
            raise HFConfigError(
                f"partial_rotary_factor is {partial}, but transformers' {family} rotates whole "
                "heads and ignores it; the checkpoint likely expects a partial rotation",
                keys=("partial_rotary_factor",),
            )
    elif partial is None:
        k.defaults["partial_rotary_factor"] = fraction
        position["fraction"] = fraction
    else:
        position["fraction"] = partial

    kind = rope.get("rope_type") or rope.get("type") or "default"
    if not isinstance(kind, str):
        raise HFConfigError(
            f"{where}: rope_type must be a string, got {type(kind).__name__}", keys=(where,)
        )
    kind = (renamed or {}).get(kind, kind)
    if kind not in _ROPE_FIELDS or (kind == "longrope" and original_max_seq_len is None):
        why = {
            "dynamic": "dynamic NTK rescales with the running sequence length; archspec's `ntk` "
            "is static",
            "longrope": f"archspec reads LongRoPE for phi3 only; transformers 4's {family} takes "
            "its original context from max_position_embeddings, 5 from the rope dict",
        }.get(kind, "archspec's position.scaling has linear, ntk, yarn, llama3 and longrope")
        raise HFConfigError(
            f"{where}: rope_type '{kind}' cannot be expressed: {why}", keys=(where,)
        )
    extra = sorted(
        n for n, v in rope.items() if n not in _ROPE_COMMON | _ROPE_FIELDS[kind] and v is not None
    )
    if extra:
        raise HFConfigError(
            f"{where}: key(s) {', '.join(extra)} are not read for rope_type '{kind}'; "
            "refusing to guess",
            keys=(where,),
        )
    if kind != "default":
        position["scaling"] = _read_scaling(kind, rope, where, max_seq_len, original_max_seq_len)
    return position


def _rope_core(
    rope: Mapping[str, Any], renamed: Mapping[str, str] | None = None, drop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A RoPE dict without its theta and fraction (which `_agreeing` compares), type spelled once
    and renamed as the family's config renames it, without the keys in ``drop``."""
    core = {
        ("rope_type" if key == "type" else key): value
        for key, value in rope.items()
        if key not in ("rope_theta", "partial_rotary_factor", *drop) and value is not None
    }
    kind = core.get("rope_type", "default")
    core["rope_type"] = (renamed or {}).get(kind, kind)
    return core


def _one_rope(nested: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """transformers 5 nests RoPE per layer type (Gemma 2); archspec has one position encoding."""
    odd = [name for name in nested if name not in LAYER_TYPES]
    if odd:
        raise HFConfigError(f"'{where}' mixes layer types and the key(s) {odd}", keys=(where,))
    ropes = list(nested.values())
    if any(not isinstance(rope, Mapping) for rope in ropes):
        raise HFConfigError(
            f"'{where}' per layer type must hold objects (null would mean a layer type without "
            "RoPE, which archspec cannot express)",
            keys=(where,),
        )
    if any(dict(rope) != dict(ropes[0]) for rope in ropes[1:]):
        raise HFConfigError(
            f"'{where}' differs between layer types; archspec has one position encoding per model",
            keys=(where,),
        )
    return ropes[0] if ropes else {}


def _agreeing(k: ConfigKeys, rope: Mapping[str, Any], key: str, where: str) -> float | None:
    inner = rope.get(key)
    inner = None if inner is None else _number(inner, where, key)
    top = k.get_float(key, None, null=None) if key in k else None
    if inner is not None and top is not None and inner != top:
        raise HFConfigError(
            f"{key} is {top} at the top level but {inner} in '{where}'; transformers 4 reads "
            "the first, 5 the second",
            keys=(key, where),
        )
    return inner if inner is not None else top


def _read_scaling(
    kind: str,
    rope: Mapping[str, Any],
    where: str,
    max_seq_len: int,
    original_max_seq_len: int | None = None,
) -> dict[str, Any]:
    def num(key: str, default: Any = None) -> Any:
        value = rope.get(key)
        return default if value is None else _number(value, where, key)

    def required(key: str) -> float:
        value = num(key)
        if value is None:
            raise HFConfigError(f"{where}: rope_type '{kind}' needs '{key}'", keys=(where,))
        return value

    original = rope.get("original_max_position_embeddings")
    if original_max_seq_len is not None:
        original = original_max_seq_len  # standardize_rope_params: the top-level key wins
    elif original is None:
        original = max_seq_len  # transformers' standardize_rope_params default
    elif isinstance(original, bool) or not isinstance(original, int) or original < 1:
        raise HFConfigError(
            f"{where}: original_max_position_embeddings must be a positive integer", keys=(where,)
        )
    if kind == "linear":
        return {"kind": "linear", "factor": required("factor")}
    if kind == "llama3":
        return {
            "kind": "llama3",
            "factor": required("factor"),
            "low_freq_factor": required("low_freq_factor"),
            "high_freq_factor": required("high_freq_factor"),
            "original_max_seq_len": original,
        }
    if kind == "longrope":
        return _read_longrope(rope, where, max_seq_len, original)
    # yarn, as modeling_rope_utils._compute_yarn_parameters computes it
    if rope.get("truncate") not in (None, True):
        raise HFConfigError(f"{where}: yarn with truncate=false cannot be expressed", keys=(where,))
    if "factor" not in rope:
        raise HFConfigError(f"{where}: rope_type 'yarn' needs 'factor'", keys=(where,))
    factor = num("factor", max_seq_len / original)  # null: the ratio, as transformers 5 does
    attention = num("attention_factor")
    mscale, mscale_all = num("mscale"), num("mscale_all_dim")
    if attention is None and mscale and mscale_all:
        attention = _yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all)
    elif attention is None and factor <= 1:
        attention = 1.0
    scaling: dict[str, Any] = {
        "kind": "yarn",
        "factor": factor,
        "original_max_seq_len": original,
        "beta_fast": num("beta_fast") or 32.0,
        "beta_slow": num("beta_slow") or 1.0,
    }
    if attention is not None:
        scaling["attention_factor"] = attention
    return scaling


def _read_longrope(
    rope: Mapping[str, Any], where: str, max_seq_len: int, original: int
) -> dict[str, Any]:
    """LongRoPE as `modeling_rope_utils._compute_longrope_parameters` (transformers 5) reads it."""
    scaling: dict[str, Any] = {"kind": "longrope", "original_max_seq_len": original}
    for key in ("short_factor", "long_factor"):
        factors = rope.get(key)
        if not isinstance(factors, list) or not factors:
            raise HFConfigError(
                f"{where}: rope_type 'longrope' needs '{key}', a list of numbers", keys=(where,)
            )
        scaling[key] = [_number(value, where, key) for value in factors]
    attention = rope.get("attention_factor")
    factor = rope.get("factor")
    if attention is not None:
        scaling["attention_factor"] = _number(attention, where, "attention_factor")
    elif factor is not None:
        # transformers 5 derives the scale of cos/sin from `factor` when the config gives one,
        # else from max_position_embeddings / original (the spec's default)
        factor = _number(factor, where, "factor")
        derived = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))
        if factor != max_seq_len / original:
            scaling["attention_factor"] = derived
    return scaling


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def write_rope(spec: ModelSpec, layout: Layout, *, fraction: bool = False) -> dict[str, Any]:
    """RoPE keys in either spelling; `fraction` for families that read `partial_rotary_factor`."""
    position = spec.position
    if position.kind != "rope":
        return {}
    params: dict[str, Any] = {"rope_theta": position.theta}
    if fraction:
        params["partial_rotary_factor"] = position.fraction
    scaling: dict[str, Any] = {"rope_type": "default"}
    s = position.scaling
    if s is not None and s.kind == "linear":
        scaling = {"rope_type": "linear", "factor": s.factor}
    elif s is not None and s.kind == "llama3":
        scaling = {
            "rope_type": "llama3",
            "factor": s.factor,
            "low_freq_factor": s.low_freq_factor,
            "high_freq_factor": s.high_freq_factor,
            "original_max_position_embeddings": s.original_max_seq_len,
        }
    elif s is not None and s.kind == "yarn":
        scaling = {
            "rope_type": "yarn",
            "factor": s.factor,
            "original_max_position_embeddings": s.original_max_seq_len,
            "beta_fast": s.beta_fast,
            "beta_slow": s.beta_slow,
        }
        if s.attention_factor is not None:
            scaling["attention_factor"] = s.attention_factor
    elif s is not None and s.kind == "longrope":
        scaling = {
            "rope_type": "longrope",
            "short_factor": list(s.short_factor),
            "long_factor": list(s.long_factor),
            "original_max_position_embeddings": s.original_max_seq_len,
        }
        if s.attention_factor is not None:
            scaling["attention_factor"] = s.attention_factor
    # static NTK has no transformers rope_type: written as unscaled, the read-back reports it
    v5 = {"rope_parameters": {**scaling, **params}}
    v4 = {**params, "rope_scaling": None if scaling["rope_type"] == "default" else scaling}
    if s is not None and s.kind == "longrope":
        # transformers 4's Phi3Config takes `rope_scaling` of exactly these three keys (the
        # original context is the top-level key, the attention factor derived): an explicit
        # attention_factor stays in rope_parameters, and a `both` file then fails the read-back.
        v4["rope_scaling"] = {
            "type": "longrope",
            "short_factor": scaling["short_factor"],
            "long_factor": scaling["long_factor"],
        }
    return {"v5": v5, "v4": v4, "both": {**v5, **v4}}[layout]


# --- shared pieces of spec data -------------------------------------------------------------------


MAX_LAYERS = 100_000
"""Most layers a config may have (real models have a few hundred at most)."""


@dataclass(frozen=True)
class Sizes:
    """The size keys every family has, read and defaulted."""

    vocab: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    max_seq_len: int
    tie: bool

    def __post_init__(self) -> None:
        # Readers build per-layer lists: bound the count before any work grows with it.
        if not 0 < self.n_layers <= MAX_LAYERS:
            raise HFConfigError(
                f"{self.n_layers} layers: archspec reads configs of 1 to {MAX_LAYERS:,} layers",
                keys=("num_hidden_layers",),
            )


def read_sizes(
    k: ConfigKeys,
    family: str,
    defaults: Mapping[str, Any],
    *,
    head_dim_null: bool = False,
    divisible: bool = False,
) -> Sizes:
    """Sizes of the Llama-style configs (`hidden_size`, `num_key_value_heads`, ...).

    Args:
        head_dim_null: whether an explicit null `head_dim` means `hidden_size //
            num_attention_heads` (Llama, Mistral, Mixtral); elsewhere the modeling fails on it.
        divisible: the config class rejects `hidden_size % num_attention_heads != 0` (Llama,
            Gemma 2).
    """
    d = k.get_int("hidden_size", defaults["hidden_size"])
    h = k.get_int("num_attention_heads", defaults["num_attention_heads"])
    if h <= 0 or d <= 0:
        raise HFConfigError("hidden_size and num_attention_heads must be positive")
    # transformers: a null (or a None default) number of KV heads means multi-head attention
    kv = k.get_int("num_key_value_heads", defaults["num_key_value_heads"], null=None)
    size = k.get_int(
        "head_dim", defaults.get("head_dim"), null=None if head_dim_null else NULL_IS_ERROR
    )
    if divisible and d % h:
        raise HFConfigError(
            f"transformers' {family} config rejects hidden_size ({d}) not divisible by "
            f"num_attention_heads ({h})",
            keys=("hidden_size", "num_attention_heads"),
        )
    return Sizes(
        vocab=k.get_int("vocab_size", defaults["vocab_size"]),
        d_model=d,
        n_layers=k.get_int("num_hidden_layers", defaults["num_hidden_layers"]),
        n_heads=h,
        n_kv_heads=h if kv is None else kv,
        head_dim=d // h if size is None else size,
        max_seq_len=k.get_int("max_position_embeddings", defaults["max_position_embeddings"]),
        tie=k.get_bool("tie_word_embeddings", defaults["tie_word_embeddings"]),
    )


def whole_heads(s: Sizes, family: str) -> None:
    """Refuse a `head_dim` that the family's modeling does not read everywhere it matters."""
    if s.head_dim != s.d_model // s.n_heads or s.d_model % s.n_heads:
        raise HFConfigError(
            f"head_dim {s.head_dim} differs from hidden_size // num_attention_heads "
            f"({s.d_model} // {s.n_heads}); transformers' {family} sizes some of its tensors "
            "by the second, so the checkpoint cannot be read exactly",
            keys=("head_dim",),
        )


def assemble(
    s: Sizes,
    *,
    norm: dict[str, Any],
    position: dict[str, Any],
    ffn: dict[str, Any],
    bias: tuple[bool, bool, bool, bool, bool],
    attention: Mapping[str, Any] | None = None,
    block: Mapping[str, Any] | None = None,
    embedding: Mapping[str, Any] | None = None,
    head: Mapping[str, Any] | None = None,
    layer_overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Spec data from the pieces a reader found; `bias` is (q, k, v, o, ffn).

    The global `bias` is true only when every projection has one; parts that differ say so.
    """
    everywhere = all(bias)
    att: dict[str, Any] = {"n_heads": s.n_heads, "n_kv_heads": s.n_kv_heads}
    if s.head_dim != s.d_model // s.n_heads or s.d_model % s.n_heads:
        att["head_dim"] = s.head_dim
    for name, flag in zip("qkvo", bias[:4], strict=True):
        if flag != everywhere:
            att[f"{name}_bias"] = flag
    att.update(attention or {})
    ffn = dict(ffn)
    if bias[4] != everywhere:
        ffn["bias"] = bias[4]
    data: dict[str, Any] = {
        "vocab_size": s.vocab,
        "d_model": s.d_model,
        "n_layers": s.n_layers,
        "max_seq_len": s.max_seq_len,
        "bias": everywhere,
        "norm": norm,
        "position": position,
        "attention": att,
        "ffn": ffn,
        "head": {"tie_embeddings": s.tie, **(head or {})},
    }
    for key, value in (
        ("block", block),
        ("embedding", embedding),
        ("layer_overrides", layer_overrides),
    ):
        if value:
            data[key] = value
    return data


def window_rules(windows: list[int | None]) -> tuple[int | None, list[dict[str, Any]]]:
    """Per-layer sliding windows as a base window plus `layer_overrides` rules.

    A repeating pattern becomes `every`/`offset` rules (Gemma 2: base 4096, every 2 from 1 global);
    any other becomes `layers` lists of the minority values (Qwen2's `max_window_layers`).
    """
    if len(set(windows)) <= 1:
        return (windows[0] if windows else None), []
    n = len(windows)
    for period in range(2, n // 2 + 1):
        if all(windows[i] == windows[i % period] for i in range(n)):
            cycle = windows[:period]
            base = _majority(cycle)
            return base, [
                {"every": period, "offset": offset, "attention": {"sliding_window": value}}
                for offset, value in enumerate(cycle)
                if value != base
            ]
    base = _majority(windows)
    groups: dict[int | None, list[int]] = {}
    for index, value in enumerate(windows):
        if value != base:
            groups.setdefault(value, []).append(index)
    return base, [
        {"layers": idx, "attention": {"sliding_window": value}} for value, idx in groups.items()
    ]


def _majority(values: list[int | None]) -> int | None:
    """The most common value; ties go to the earliest (layer 0's)."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def layer_type_windows(
    k: ConfigKeys, n_layers: int, window: int | None, derived: list[str]
) -> list[int | None]:
    """Per-layer windows from `layer_types` (or the family's derived pattern when absent)."""
    types = k.take("layer_types", None, record=False)
    if types is None:
        types = derived
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise HFConfigError("'layer_types' must be a list of strings", keys=("layer_types",))
    # transformers' remap_legacy_layer_types
    types = ["full_attention" if t == "attention" else t for t in types]
    if any(t not in LAYER_TYPES for t in types):
        raise HFConfigError(
            f"'layer_types' may hold {', '.join(LAYER_TYPES)}; "
            f"got {sorted(set(types) - set(LAYER_TYPES))}",
            keys=("layer_types",),
        )
    if len(types) != n_layers:
        raise HFConfigError(
            f"'layer_types' has {len(types)} entries for {n_layers} layers", keys=("layer_types",)
        )
    return [window if t == "sliding_attention" else None for t in types]


@dataclass(frozen=True)
class View:
    """A spec as the flat HF configs see it: layer 0's attention and FFN, plus every layer."""

    spec: ModelSpec
    layers: tuple[resolve.LayerSpec, ...]

    @property
    def att(self) -> Any:
        return self.layers[0].attention

    @property
    def ffn(self) -> Any:
        return self.layers[0].ffn

    @property
    def head_dim(self) -> int:
        return resolve.head_dim(self.att, self.spec.d_model)

    @property
    def att_bias(self) -> dict[str, bool]:
        return resolve.attention_bias(self.spec, self.att)

    @property
    def ffn_bias(self) -> bool:
        return resolve.ffn_bias(self.spec, self.ffn)

    @property
    def windows(self) -> list[int | None]:
        return [layer.attention.sliding_window for layer in self.layers]

    def sizes(self, *, head_dim: str = "always") -> dict[str, Any]:
        """Llama-style size keys; `head_dim` "always", or "when_needed" (configs without it)."""
        spec, att = self.spec, self.att
        out = {
            "vocab_size": resolve.vocab_rows(spec),
            "hidden_size": spec.d_model,
            "num_hidden_layers": spec.n_layers,
            "num_attention_heads": att.n_heads,
            "num_key_value_heads": resolve.n_kv_heads(att),
            "intermediate_size": self.ffn.hidden_dim,
            "max_position_embeddings": spec.max_seq_len,
            "tie_word_embeddings": spec.head.tie_embeddings,
        }
        if head_dim == "always" or self.head_dim != spec.d_model // att.n_heads:
            out["head_dim"] = self.head_dim
        return out


def view(spec: ModelSpec) -> View:
    return View(spec, resolve.layer_specs(spec))


def rms(eps: float, **extra: Any) -> dict[str, Any]:
    return {"kind": "rmsnorm", "eps": eps, **extra}


# --- the Llama layout, which most families share -------------------------------------------------
# Each defaults table holds the configuration class defaults used when a key is absent.

LLAMA = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": None,
    "head_dim": None,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
}

BIDIRECTIONAL = "bidirectional attention is not a causal decoder"


def gated_ffn(
    k: ConfigKeys, defaults: Mapping[str, Any], act_default: str = "silu"
) -> dict[str, Any]:
    return {
        "activation": activation(k, "hidden_act", act_default, GATED_FROM_HF),
        "hidden_dim": k.get_int("intermediate_size", defaults["intermediate_size"]),
    }


def uniform_window(k: ConfigKeys, family: str, n_layers: int, default: int | None) -> int | None:
    """Mistral and Mixtral apply `sliding_window` to every layer; they ignore `layer_types`."""
    window = k.get_int("sliding_window", default, null=None)
    if "layer_types" in k and not k.present("layer_types"):
        k.take("layer_types")
    elif "layer_types" in k:
        windows = layer_type_windows(k, n_layers, window, [])
        if windows != [window] * n_layers:
            raise HFConfigError(
                f"transformers' {family} applies sliding_window={window} to every layer and "
                "ignores layer_types, which say otherwise; the checkpoint likely expects per-layer "
                "windows",
                keys=("layer_types", "sliding_window"),
            )
    return window


def olmo_embedding_size(k: ConfigKeys, rows: int) -> None:
    value = k.config.get("embedding_size")
    if value is not None and value != rows:
        raise HFConfigError(
            f"embedding_size ({value!r}) differs from vocab_size ({rows}): transformers' OLMo "
            "builds vocab_size rows and ignores embedding_size. This looks like an OLMo-native "
            "config (whose vocab_size is the tokenizer's); use the -hf conversion, whose "
            "vocab_size holds the rows, and pass the tokenizer's size as vocab_size=",
            keys=("embedding_size", "vocab_size"),
        )
    k.ignore(
        "embedding_size", "not read by transformers' OLMo (rows come from vocab_size); equal here"
    )


LLAMA_MODULES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn.q_proj": "self_attn.q_proj",
    "attn.k_proj": "self_attn.k_proj",
    "attn.v_proj": "self_attn.v_proj",
    "attn.o_proj": "self_attn.o_proj",
    "attn.q_norm": "self_attn.q_norm",
    "attn.k_norm": "self_attn.k_norm",
    "ffn.gate_proj": "mlp.gate_proj",
    "ffn.up_proj": "mlp.up_proj",
    "ffn.down_proj": "mlp.down_proj",
}
LLAMA_TOP = {"embed": "model.embed_tokens", "final_norm": "model.norm", "lm_head": "lm_head"}
# Gemma 2 and OLMo 2 norm the branch outputs: `post_attention_layernorm` follows attention there,
# and the FFN's input norm (Gemma 2 only) is `pre_feedforward_layernorm`.
POST_NORM_MODULES = {
    **LLAMA_MODULES,
    "attn_post_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "ffn_post_norm": "post_feedforward_layernorm",
}


def llama_names(model_type: str, **overrides: Any) -> NameTable:
    """The Llama checkpoint layout (`model.layers.{i}.self_attn.q_proj`, ...) for ``model_type``."""
    table: dict[str, Any] = {
        "base": "model.",
        "top": LLAMA_TOP,
        "layer": "model.layers.{i}.",
        "modules": LLAMA_MODULES,
    }
    return NameTable((model_type,), **{**table, **overrides})
