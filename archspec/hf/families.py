"""The Hugging Face families archspec maps: a reader, a writer and the tables behind them.

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

from archspec.hf.config import NULL_IS_ERROR, ConfigKeys, HFConfigError, Layout
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
    ignorable: Mapping[str, str] = field(default_factory=dict)
    """Family keys that do not change the architecture, each with the reason."""
    other_classes: tuple[str, ...] = ()
    """Other class names a config of this family may list in `architectures`."""
    hints: Callable[[ModelSpec], list[str]] | None = None
    """Why a spec cannot be this family, when the read-back difference alone would not say it."""

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


def _activation(k: ConfigKeys, key: str, default: str, table: Mapping[str, str]) -> str:
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
}
"""Keys transformers' `modeling_rope_utils` reads for each `rope_type` archspec can express."""


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HFConfigError(f"{where}: '{key}' must be a number, got {value!r}", keys=(where,))
    return float(value)


def read_rope(
    k: ConfigKeys,
    family: str,
    *,
    max_seq_len: int,
    default_theta: float = 10000.0,
    fraction: float | None = None,
) -> dict[str, Any]:
    """The spec `position` of a RoPE family, from either spelling.

    transformers 5 keeps everything in `rope_parameters` (nested per layer type for models with
    `layer_types`); transformers 4 has top-level `rope_theta`/`partial_rotary_factor` and the
    scaling in `rope_scaling` (`type` or `rope_type`). A value in the dict wins over a top-level
    one in transformers 5 and is ignored by transformers 4, so the two must agree.

    Args:
        fraction: The family's default `partial_rotary_factor` when its modeling reads it (phi:
            0.5); None when it rotates whole heads whatever the config says.
    """
    params = k.take("rope_parameters", None, record=False)
    scaling = k.take("rope_scaling", None, record=False)
    if params is not None and scaling is not None:
        raise HFConfigError(
            "both 'rope_parameters' and 'rope_scaling' are set; transformers 5 reads one, "
            "4 the other",
            keys=("rope_parameters", "rope_scaling"),
        )
    where = "rope_scaling" if scaling is not None else "rope_parameters"
    rope = scaling if scaling is not None else params if params is not None else {}
    if not isinstance(rope, Mapping):
        raise HFConfigError(f"'{where}' must be an object, got {rope!r}", keys=(where,))
    if any(name in LAYER_TYPES for name in rope):
        rope = _one_rope(rope, where)

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
    if kind not in _ROPE_FIELDS:
        why = {
            "dynamic": "dynamic NTK rescales with the running sequence length; archspec's `ntk` "
            "is static",
        }.get(kind, "archspec's position.scaling has linear, ntk (static), yarn and llama3")
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
        position["scaling"] = _read_scaling(kind, rope, where, max_seq_len)
    return position


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
    kind: str, rope: Mapping[str, Any], where: str, max_seq_len: int
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
    if original is None:
        original = max_seq_len  # transformers' standardize_rope_params default
    elif isinstance(original, bool) or not isinstance(original, int):
        raise HFConfigError(
            f"{where}: original_max_position_embeddings must be an integer", keys=(where,)
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
    # static NTK has no transformers rope_type: written as unscaled, the read-back reports it
    if layout == "v5":
        return {"rope_parameters": {**scaling, **params}}
    return {**params, "rope_scaling": None if scaling["rope_type"] == "default" else scaling}


# --- shared pieces of spec data -------------------------------------------------------------------


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
    if not isinstance(types, list):
        raise HFConfigError(f"'layer_types' must be a list, got {types!r}", keys=("layer_types",))
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


def _rms(eps: float, **extra: Any) -> dict[str, Any]:
    return {"kind": "rmsnorm", "eps": eps, **extra}


# --- the families ---------------------------------------------------------------------------------
# Each table holds the configuration class defaults used when a key is absent.

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
MISTRAL = {
    **LLAMA,
    "intermediate_size": 14336,
    "num_key_value_heads": 8,
    "max_position_embeddings": 131072,
}
QWEN2 = {
    **LLAMA,
    "vocab_size": 151936,
    "intermediate_size": 22016,
    "num_key_value_heads": 32,
    "max_position_embeddings": 32768,
}
GEMMA = {
    "vocab_size": 256000,
    "hidden_size": 3072,
    "intermediate_size": 24576,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "head_dim": 256,
    "max_position_embeddings": 8192,
    "tie_word_embeddings": True,
}
GEMMA2 = {
    **GEMMA,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
}
OLMO = {**LLAMA, "vocab_size": 50304}
PHI = {
    **LLAMA,
    "vocab_size": 51200,
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 24,
}

_BIDIRECTIONAL = "bidirectional attention is not a causal decoder"


def _gated_ffn(
    k: ConfigKeys, defaults: Mapping[str, Any], act_default: str = "silu"
) -> dict[str, Any]:
    return {
        "activation": _activation(k, "hidden_act", act_default, GATED_FROM_HF),
        "hidden_dim": k.get_int("intermediate_size", defaults["intermediate_size"]),
    }


def _read_llama(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "llama", LLAMA, head_dim_null=True, divisible=True)
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        norm=_rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "llama", max_seq_len=s.max_seq_len),
        ffn=_gated_ffn(k, LLAMA),
        bias=(qkvo, qkvo, qkvo, qkvo, k.get_bool("mlp_bias", False)),
    )


def _write_llama(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "mlp_bias": v.ffn_bias,
        **write_rope(spec, layout),
    }


def _uniform_window(k: ConfigKeys, family: str, n_layers: int, default: int | None) -> int | None:
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


def _read_mistral(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "mistral", MISTRAL, head_dim_null=True)
    return assemble(
        s,
        norm=_rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "mistral", max_seq_len=s.max_seq_len),
        ffn=_gated_ffn(k, MISTRAL),
        bias=(False,) * 5,
        attention={"sliding_window": _uniform_window(k, "mistral", s.n_layers, 4096)},
    )


def _write_mistral(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "sliding_window": v.att.sliding_window,
        **write_rope(spec, layout),
    }


def _read_mixtral(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "mixtral", MISTRAL, head_dim_null=True)
    moe = {
        "n_experts": k.get_int("num_local_experts", 8, aliases=("num_experts",)),
        "experts_per_token": k.get_int("num_experts_per_tok", 2),
    }
    return assemble(
        s,
        norm=_rms(k.get_float("rms_norm_eps", 1e-5)),
        position=read_rope(k, "mixtral", max_seq_len=s.max_seq_len, default_theta=1e6),
        # MixtralTopKRouter: softmax, top-k, renormalised; no router bias
        ffn={**_gated_ffn(k, MISTRAL), "moe": moe},
        bias=(False,) * 5,
        attention={"sliding_window": _uniform_window(k, "mixtral", s.n_layers, None)},
    )


def _write_mixtral(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    moe = v.ffn.moe
    return {
        **_write_mistral(spec, layout),
        "num_local_experts": moe.n_experts if moe else 1,
        "num_experts_per_tok": moe.experts_per_token if moe else 1,
    }


def _read_qwen2(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "qwen2", QWEN2)
    use = k.get_bool("use_sliding_window", False)
    window = k.get_int("sliding_window", 4096, null=None)
    first = k.get_int("max_window_layers", 28)
    # Qwen2Config: sliding_window is dropped unless use_sliding_window; then layers from
    # max_window_layers on slide (transformers 4 tests the same in Qwen2Attention)
    active = window if use else None
    derived = [
        "sliding_attention" if active is not None and i >= first else "full_attention"
        for i in range(s.n_layers)
    ]
    windows = layer_type_windows(k, s.n_layers, active, derived)
    if windows != [active if t == "sliding_attention" else None for t in derived]:
        raise HFConfigError(
            "layer_types disagree with use_sliding_window/max_window_layers; transformers 5 "
            "follows layer_types, transformers 4 the other two",
            keys=("layer_types", "max_window_layers"),
        )
    k.expect("use_mrope", (False, None), "multimodal RoPE is Qwen2-VL's, not Qwen2's")
    base, rules = window_rules(windows)
    return assemble(
        s,
        norm=_rms(k.get_float("rms_norm_eps", 1e-6)),
        position=read_rope(k, "qwen2", max_seq_len=s.max_seq_len),
        ffn=_gated_ffn(k, QWEN2),
        bias=(True, True, True, False, False),  # modeling_qwen2: q/k/v biased, o and MLP not
        attention={"sliding_window": base},
        layer_overrides=rules,
    )


def _write_qwen2(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    windows = v.windows
    sliding = [i for i, w in enumerate(windows) if w is not None]
    out = {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "use_sliding_window": bool(sliding),
        "sliding_window": windows[sliding[0]] if sliding else None,
        "max_window_layers": sliding[0] if sliding else spec.n_layers,
        **write_rope(spec, layout),
    }
    if layout == "v5":
        first = sliding[0] if sliding else spec.n_layers
        out["layer_types"] = [
            "sliding_attention" if i >= first else "full_attention" for i in range(spec.n_layers)
        ]
    return out


def _gemma_activation(k: ConfigKeys) -> str:
    """Gemma's MLP activation: transformers 5 reads `hidden_act` (rewriting 'gelu' to the tanh
    approximation); transformers 4 read `hidden_activation` (default tanh GELU) and ignored it."""
    act = k.get_str("hidden_act", "gelu_pytorch_tanh")
    if act == "gelu":
        k.note("Gemma's hidden_act 'gelu' is read as the tanh approximation, as transformers does")
        act = "gelu_pytorch_tanh"
    if "hidden_activation" in k:
        legacy = k.get_str("hidden_activation", None, null=None)
        if legacy is not None and legacy != act:
            raise HFConfigError(
                f"hidden_act ({act!r}) and hidden_activation ({legacy!r}) disagree; transformers 5 "
                "reads the first, transformers 4 the second",
                keys=("hidden_act", "hidden_activation"),
            )
    elif "hidden_act" in k and act != "gelu_pytorch_tanh":
        raise HFConfigError(
            f"hidden_act is {act!r} but transformers 4 ignores it for Gemma (tanh GELU unless "
            "hidden_activation says otherwise); add hidden_activation to disambiguate",
            keys=("hidden_act",),
        )
    if act not in GATED_FROM_HF:
        raise HFConfigError(
            f"'hidden_act' is {act!r}; archspec maps {', '.join(GATED_FROM_HF)}",
            keys=("hidden_act",),
        )
    return GATED_FROM_HF[act]


def _read_gemma(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "gemma", GEMMA)
    qkvo = k.get_bool("attention_bias", False)
    k.expect("use_bidirectional_attention", (None, False), _BIDIRECTIONAL)
    return assemble(
        s,
        norm=_rms(k.get_float("rms_norm_eps", 1e-6), unit_offset=True),  # GemmaRMSNorm: x * (1 + w)
        position=read_rope(k, "gemma", max_seq_len=s.max_seq_len),
        ffn={
            "activation": _gemma_activation(k),
            "hidden_dim": k.get_int("intermediate_size", 24576),
        },
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        embedding={"scale_by_sqrt_d_model": True},  # GemmaModel: embed_scale = hidden_size ** 0.5
    )


def _write_gemma(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    act = GATED_TO_HF.get(v.ffn.activation, "gelu_pytorch_tanh")
    return {
        **v.sizes(),
        "hidden_act": act,
        "hidden_activation": act,
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        **write_rope(spec, layout),
    }


def _read_gemma2(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "gemma2", GEMMA2, divisible=True)
    qkvo = k.get_bool("attention_bias", False)
    k.expect("use_bidirectional_attention", (None, False), _BIDIRECTIONAL)
    scalar = k.get_float("query_pre_attn_scalar", 256.0)
    if scalar <= 0:
        raise HFConfigError(
            "query_pre_attn_scalar must be positive", keys=("query_pre_attn_scalar",)
        )
    window = k.get_int("sliding_window", 4096, null=None, aliases=("sliding_window_size",))
    # Gemma2Config: layer i slides when (i + 1) % 2, so layer 0 slides and odd layers are global
    derived = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(s.n_layers)]
    base, rules = window_rules(layer_type_windows(k, s.n_layers, window, derived))
    return assemble(
        s,
        norm=_rms(k.get_float("rms_norm_eps", 1e-6), unit_offset=True),
        position=read_rope(k, "gemma2", max_seq_len=s.max_seq_len),
        ffn={
            "activation": _activation(k, "hidden_activation", "gelu_pytorch_tanh", GATED_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", GEMMA2["intermediate_size"]),
        },
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={
            # Gemma2Attention: scaling = query_pre_attn_scalar ** -0.5
            "scale": None if scalar == s.head_dim else scalar**-0.5,
            "sliding_window": base,
            "logit_softcap": k.get_float("attn_logit_softcapping", 50.0, null=None),
        },
        block={"placement": "sandwich"},
        embedding={"scale_by_sqrt_d_model": True},
        head={"logit_softcap": k.get_float("final_logit_softcapping", 30.0, null=None)},
        layer_overrides=rules,
    )


def _write_gemma2(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    act = GATED_TO_HF.get(v.ffn.activation, "gelu_pytorch_tanh")
    windows = v.windows
    window = next((w for w in windows if w is not None), None)
    scale = v.att.scale
    return {
        **v.sizes(),
        "hidden_activation": act,
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        "query_pre_attn_scalar": v.head_dim if scale is None else max(1, round(scale**-2)),
        "attn_logit_softcapping": v.att.logit_softcap,
        "final_logit_softcapping": spec.head.logit_softcap,
        "sliding_window": window,
        "layer_types": ["full_attention" if w is None else "sliding_attention" for w in windows],
        **write_rope(spec, layout),
    }


def _olmo_embedding_size(k: ConfigKeys, rows: int) -> None:
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


def _read_olmo(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "olmo", OLMO)
    _olmo_embedding_size(k, s.vocab)
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        # OlmoLayerNorm: F.layer_norm in float32, no weight or bias, eps fixed at 1e-5
        norm={"kind": "layernorm", "eps": 1e-5, "affine": False},
        position=read_rope(k, "olmo", max_seq_len=s.max_seq_len),
        ffn=_gated_ffn(k, OLMO),
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        attention={"qkv_clip": k.get_float("clip_qkv", None, null=None)},
    )


def _write_olmo(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "attention_bias": v.att_bias["q"],
        "clip_qkv": v.att.qkv_clip,
        **write_rope(spec, layout),
    }


def _read_olmo2(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "olmo2", OLMO)
    _olmo_embedding_size(k, s.vocab)
    eps = k.get_float("rms_norm_eps", 1e-5)
    qkvo = k.get_bool("attention_bias", False)
    return assemble(
        s,
        norm=_rms(eps),
        position=read_rope(k, "olmo2", max_seq_len=s.max_seq_len),
        ffn=_gated_ffn(k, OLMO),
        bias=(qkvo, qkvo, qkvo, qkvo, False),
        # Olmo2Attention: q_norm/k_norm are RMSNorms over the whole projection, same eps
        attention={"qk_norm": {"scope": "projection", "norm": _rms(eps)}},
        # Olmo2DecoderLayer: x + post_norm(f(x)), no pre-norm
        block={"placement": "branch_post"},
    )


def _write_olmo2(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": GATED_TO_HF.get(v.ffn.activation, "silu"),
        "rms_norm_eps": spec.norm.eps,
        "attention_bias": v.att_bias["q"],
        **write_rope(spec, layout),
    }


def _read_phi(k: ConfigKeys) -> dict[str, Any]:
    s = read_sizes(k, "phi", PHI)
    eps = k.get_float("layer_norm_eps", 1e-5)
    qk = k.get_bool("qk_layernorm", False)
    if qk and s.head_dim != s.d_model // s.n_heads:
        raise HFConfigError(
            "phi's q/k LayerNorms have hidden_size // num_attention_heads features; "
            "head_dim differs",
            keys=("head_dim", "qk_layernorm"),
        )
    layernorm = {"kind": "layernorm", "eps": eps}
    return assemble(
        s,
        norm=layernorm,
        # PhiConfig: partial_rotary_factor defaults to 0.5
        position=read_rope(k, "phi", max_seq_len=s.max_seq_len, fraction=0.5),
        ffn={
            "activation": _activation(k, "hidden_act", "gelu_new", PLAIN_FROM_HF),
            "hidden_dim": k.get_int("intermediate_size", PHI["intermediate_size"]),
        },
        bias=(True,) * 5,
        attention={"qk_norm": {"scope": "head", "norm": layernorm}} if qk else {},
        # PhiDecoderLayer: x + attn(ln(x)) + mlp(ln(x)), one LayerNorm
        block={"parallel_residual": True, "shared_norm": True},
        head={"bias": True},
    )


def _write_phi(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    return {
        **v.sizes(head_dim="when_needed"),
        "hidden_act": PLAIN_TO_HF.get(v.ffn.activation, "gelu_new"),
        "layer_norm_eps": spec.norm.eps,
        "qk_layernorm": v.att.qk_norm is not None,
        **write_rope(spec, layout, fraction=True),
    }


def _read_gpt2(k: ConfigKeys) -> dict[str, Any]:
    # GPT2Config.attribute_map lets the Llama-style names stand in for the GPT-2 ones
    d = k.get_int("n_embd", 768, aliases=("hidden_size",))
    h = k.get_int("n_head", 12, aliases=("num_attention_heads",))
    n = k.get_int("n_layer", 12, aliases=("num_hidden_layers",))
    if h <= 0 or d % h:
        raise HFConfigError(
            f"GPT2Attention needs n_embd ({d}) divisible by n_head ({h})", keys=("n_embd", "n_head")
        )
    inner = k.get_int("n_inner", None, null=None)
    s = Sizes(
        vocab=k.get_int("vocab_size", 50257),
        d_model=d,
        n_layers=n,
        n_heads=h,
        n_kv_heads=h,
        head_dim=d // h,
        max_seq_len=k.get_int("n_positions", 1024, aliases=("max_position_embeddings",)),
        tie=k.get_bool("tie_word_embeddings", True),
    )
    # GPT2Attention: scaling = head_dim ** -0.5 (or 1), divided by layer_idx + 1 when asked
    scaled = k.get_bool("scale_attn_weights", True)
    inverse = k.get_bool("scale_attn_by_inverse_layer_idx", False)
    base = (d // h) ** -0.5 if scaled else 1.0
    rules = (
        [{"layers": [i], "attention": {"scale": base / float(i + 1)}} for i in range(1, n)]
        if inverse
        else []
    )
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_epsilon", 1e-5)},
        position={"kind": "learned"},
        ffn={
            "activation": _activation(k, "activation_function", "gelu_new", PLAIN_FROM_HF),
            "hidden_dim": 4 * d if inner is None else inner,  # GPT2Block: n_inner or 4 * n_embd
        },
        bias=(True,) * 5,
        attention={} if scaled else {"scale": 1.0},
        layer_overrides=rules,
    )


def _write_gpt2(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    size = v.head_dim
    scales = [
        size**-0.5 if layer.attention.scale is None else layer.attention.scale for layer in v.layers
    ]
    first = scales[0]
    inverse = len(scales) > 1 and all(s == first / float(i + 1) for i, s in enumerate(scales))
    return {
        "vocab_size": resolve.vocab_rows(spec),
        "n_embd": spec.d_model,
        "n_layer": spec.n_layers,
        "n_head": v.att.n_heads,
        "n_positions": spec.max_seq_len,
        "n_inner": v.ffn.hidden_dim,
        "activation_function": PLAIN_TO_HF.get(v.ffn.activation, "gelu_new"),
        "layer_norm_epsilon": spec.norm.eps,
        "scale_attn_weights": first != 1.0 or size == 1,
        "scale_attn_by_inverse_layer_idx": inverse,
        "tie_word_embeddings": spec.head.tie_embeddings,
    }


_RW_NAMES = ("n_head", "n_layer", "n_head_kv")


def _read_falcon(k: ConfigKeys) -> dict[str, Any]:
    rw = [name for name in _RW_NAMES if name in k]
    if rw and "parallel_attn" not in k:
        raise HFConfigError(
            f"the config uses the RW remote-code names ({', '.join(rw)}) and omits "
            "parallel_attn, whose default differs (RW: false, transformers: true); set it",
            keys=("parallel_attn",),
        )
    if rw:
        k.note(
            f"RW names {', '.join(rw)} read as the transformers names (transformers 5 ignores them)"
        )
    d = k.get_int("hidden_size", 4544, aliases=("n_embed",))
    h = k.get_int("num_attention_heads", 71, aliases=("n_head",))
    kv_given = k.get_int("num_kv_heads", None, null=None, aliases=("n_head_kv",))
    # FalconConfig's flags are `bool | None`: null reads as false
    new = k.get_bool("new_decoder_architecture", False, null=False)
    parallel = k.get_bool("parallel_attn", True, null=False)
    multi_query = k.get_bool("multi_query", True, null=False)
    n_ln = k.get_int("num_ln_in_parallel_attn", None, null=None)
    bias = k.get_bool("bias", False, null=False)
    k.expect(
        "apply_residual_connection_post_layernorm",
        (False, None),
        "the RW code then adds the residual after the norm; transformers' Falcon ignores the key",
    )
    if k.get_bool("alibi", False, null=False):
        raise HFConfigError(
            "Falcon's ALiBi divides the bias by sqrt(head_dim) (modeling_falcon.py); archspec's "
            "alibi adds it unscaled (Press et al.), so this model cannot be expressed exactly",
            keys=("alibi",),
        )
    if h <= 0 or d % h:
        raise HFConfigError(
            f"FalconAttention needs hidden_size ({d}) divisible by heads ({h})",
            keys=("hidden_size",),
        )
    if new:
        # FalconDecoderLayer: the new architecture is always parallel; 2 norms unless told 1
        if not parallel:
            raise HFConfigError(
                "new_decoder_architecture with parallel_attn false fails in transformers' Falcon",
                keys=("parallel_attn",),
            )
        n_ln = 2 if n_ln is None else n_ln
        kv = h if kv_given is None else kv_given
        block = {"parallel_residual": True, "shared_norm": n_ln == 1}
    else:
        if parallel and n_ln not in (None, 1):
            raise HFConfigError(
                f"num_ln_in_parallel_attn={n_ln} needs new_decoder_architecture in "
                "transformers' Falcon",
                keys=("num_ln_in_parallel_attn",),
            )
        kv = 1 if multi_query else h  # FalconAttention: qkv is hidden + 2 * head_dim, or 3 * hidden
        if not multi_query and kv_given not in (None, h):
            raise HFConfigError(
                "num_kv_heads differs from the heads without multi_query or "
                "new_decoder_architecture; transformers' Falcon cannot build it",
                keys=("num_kv_heads",),
            )
        if multi_query and kv_given not in (None, 1, h):
            k.note(f"num_kv_heads={kv_given} is ignored: multi_query gives one KV head")
        block = {"parallel_residual": True, "shared_norm": True} if parallel else {}
    if n_ln not in (None, 1, 2):
        raise HFConfigError(
            f"num_ln_in_parallel_attn must be 1 or 2, got {n_ln}", keys=("num_ln_in_parallel_attn",)
        )
    inner = k.get_int("ffn_hidden_size", None, null=None)
    s = Sizes(
        vocab=k.get_int("vocab_size", 65024),
        d_model=d,
        n_layers=k.get_int("num_hidden_layers", 32, aliases=("n_layer",)),
        n_heads=h,
        n_kv_heads=kv,
        head_dim=d // h,
        max_seq_len=k.get_int("max_position_embeddings", 2048),
        tie=k.get_bool("tie_word_embeddings", True),
    )
    return assemble(
        s,
        norm={"kind": "layernorm", "eps": k.get_float("layer_norm_epsilon", 1e-5)},
        position=read_rope(k, "falcon", max_seq_len=s.max_seq_len),
        ffn={
            "activation": _activation(k, "activation", "gelu", PLAIN_FROM_HF),
            "hidden_dim": 4 * d if inner is None else inner,  # FalconConfig: ffn_hidden_size or 4x
        },
        bias=(bias,) * 5,
        block=block,
    )


def _write_falcon(spec: ModelSpec, layout: Layout) -> dict[str, Any]:
    v = view(spec)
    h, kv = v.att.n_heads, resolve.n_kv_heads(v.att)
    out: dict[str, Any] = {
        "vocab_size": resolve.vocab_rows(spec),
        "hidden_size": spec.d_model,
        "num_hidden_layers": spec.n_layers,
        "num_attention_heads": h,
        "layer_norm_epsilon": spec.norm.eps,
        "bias": v.att_bias["q"],
        "ffn_hidden_size": v.ffn.hidden_dim,
        "activation": PLAIN_TO_HF.get(v.ffn.activation, "gelu"),
        "max_position_embeddings": spec.max_seq_len,
        "tie_word_embeddings": spec.head.tie_embeddings,
        "alibi": False,
        **write_rope(spec, layout),
    }
    shared = resolve.shared_norm(spec)
    if not spec.block.parallel_residual or (shared and kv in (1, h)):
        out.update(new_decoder_architecture=False, parallel_attn=spec.block.parallel_residual)
        out["multi_query"] = kv == 1 and h > 1
    else:
        out.update(new_decoder_architecture=True, parallel_attn=True, num_kv_heads=kv)
        if shared:
            out["num_ln_in_parallel_attn"] = 1
    return out


def _falcon_hints(spec: ModelSpec) -> list[str]:
    if spec.position.kind == "alibi":
        return [
            "Falcon's ALiBi divides the bias by sqrt(head_dim); archspec's alibi adds it unscaled"
        ]
    return []


def _gemma_hints(spec: ModelSpec) -> list[str]:
    if view(spec).ffn.activation == "geglu":
        return ["transformers rewrites Gemma's hidden_act 'gelu' to the tanh approximation"]
    return []


_GPT2_IGNORABLE = {
    **dict.fromkeys(
        (
            "summary_type",
            "summary_use_proj",
            "summary_activation",
            "summary_proj_to_labels",
            "summary_first_dropout",
        ),
        "sequence-summary head of GPT2DoubleHeadsModel; the causal LM does not have it",
    ),
    "n_ctx": "legacy duplicate of n_positions; transformers does not read it",
    "reorder_and_upcast_attn": "computes attention scores in float32; same architecture",
}
_MIXTRAL_IGNORABLE = {
    "router_aux_loss_coef": "load-balancing loss weight (training only)",
    "output_router_logits": "returns router logits for the auxiliary loss (training only)",
    "router_jitter_noise": "multiplicative noise on router inputs while training; off at inference",
}

FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in (
        Family("llama", "LlamaForCausalLM", _read_llama, _write_llama),
        Family("mistral", "MistralForCausalLM", _read_mistral, _write_mistral),
        Family("mixtral", "MixtralForCausalLM", _read_mixtral, _write_mixtral, _MIXTRAL_IGNORABLE),
        Family("qwen2", "Qwen2ForCausalLM", _read_qwen2, _write_qwen2),
        Family("gemma", "GemmaForCausalLM", _read_gemma, _write_gemma, hints=_gemma_hints),
        Family(
            "gemma2",
            "Gemma2ForCausalLM",
            _read_gemma2,
            _write_gemma2,
            {"hidden_act": "transformers' Gemma 2 reads hidden_activation, not hidden_act"},
        ),
        Family("olmo", "OlmoForCausalLM", _read_olmo, _write_olmo),
        Family("olmo2", "Olmo2ForCausalLM", _read_olmo2, _write_olmo2),
        Family("phi", "PhiForCausalLM", _read_phi, _write_phi),
        Family("gpt2", "GPT2LMHeadModel", _read_gpt2, _write_gpt2, _GPT2_IGNORABLE),
        Family(
            "falcon",
            "FalconForCausalLM",
            _read_falcon,
            _write_falcon,
            other_classes=("RWForCausalLM",),
            hints=_falcon_hints,
        ),
    )
}
"""Every supported family by model_type."""
