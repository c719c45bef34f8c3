"""Hugging Face `config.json` <-> spec, exactly or not at all (torch-free).

Export (:func:`spec_to_hf_config`) picks the first family, in :data:`SUPPORTED_MODEL_TYPES`
order, that represents the spec exactly. "Exactly" is checked, not assumed: each family's writer
maps what it can, the config is read back with that family's reader, and the two specs must be
equal in meaning (:func:`spec_meaning`). Every difference left is a feature that blocks the family;
when every family is blocked, :class:`HFConfigError` lists them per family. The family is chosen
from the spec's features alone, never from its name.

Import (:func:`hf_config_to_spec`) reads both spellings found in the wild: transformers 4
(top-level `rope_theta`, `partial_rotary_factor`, `rope_scaling` with `type` or `rope_type`,
`torch_dtype`) and transformers 5 (`rope_parameters`, possibly nested per layer type; `dtype`),
plus each family's legacy names. Every key ends up either mapped or knowingly ignored with a reason
(:class:`ImportReport`); any other key could change the architecture, so it is an error rather
than a silently different model. Absent keys take the defaults of the transformers configuration
classes, and the report lists them.

The per-family tables live in :mod:`archspec.hf.families` (one module per family); the key reader,
the error and the report in :mod:`archspec.hf.keys`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archspec.errors import UsageError
from archspec.hf.families import FAMILIES, SUPPORTED_MODEL_TYPES
from archspec.hf.families.base import Family
from archspec.hf.keys import (
    GENERATION_KEYS,
    GENERIC_IGNORED,
    NULL_IS_ERROR,
    ConfigKeys,
    HFConfigError,
    IgnoredKey,
    ImportReport,
    Layout,
    is_int,
)
from archspec.spec import resolve
from archspec.spec.model import ModelSpec

__all__ = [
    "GENERATION_KEYS",
    "GENERIC_IGNORED",
    "METADATA_FIELDS",
    "NULL_IS_ERROR",
    "SUPPORTED_MODEL_TYPES",
    "ConfigKeys",
    "HFConfigError",
    "IgnoredKey",
    "ImportReport",
    "Layout",
    "exactness_problems",
    "hf_config_to_spec",
    "load_hf_config",
    "spec_meaning",
    "spec_to_hf_config",
]

METADATA_FIELDS = ("name", "description", "source", "extends", "tokens")
"""Spec fields that say where a model comes from, not what it computes."""

_DTYPES = ("float32", "bfloat16", "float16")

MAX_CONFIG_BYTES = 16 * 2**20
"""Largest config.json read (real ones are a few KiB; LongRoPE factor lists keep them small)."""


# --- meaning --------------------------------------------------------------------------------------


def spec_meaning(spec: ModelSpec) -> dict[str, Any]:
    """What a spec computes, spelled one way: two specs are equal in meaning iff these are equal.

    Metadata is dropped; defaults are written out (head size, KV heads, biases, attention scale,
    shared norm, LayerNorm shift, YaRN attention factor, vocabulary rows); `layer_overrides` become one resolved
    attention, FFN and position per layer, so a pattern written as rules and the same pattern written per
    layer compare equal. (A candidate for `archspec.spec.resolve`.)
    """
    data = spec.model_dump(mode="json")
    for field in (
        *METADATA_FIELDS,
        "attention",
        "ffn",
        "bias",
        "layer_overrides",
        "padded_vocab_size",
        "mixer",  # per layer below
    ):
        data.pop(field, None)
    data["vocab_rows"] = resolve.vocab_rows(spec)
    data["norm"] = _norm_meaning(data["norm"])
    data["block"]["shared_norm"] = resolve.shared_norm(spec)
    scaling = data["position"].get("scaling")
    if scaling and scaling["kind"] == "yarn" and scaling["attention_factor"] is None:
        scaling["attention_factor"] = 0.1 * math.log(scaling["factor"]) + 1.0
    layers = []
    for layer in resolve.layer_specs(spec):
        att = layer.attention
        size = resolve.head_dim(att, spec.d_model)
        attention = att.model_dump(mode="json")
        attention.update(
            head_dim=size,
            n_kv_heads=resolve.n_kv_heads(att),
            scale=att.scale if att.scale is not None else size**-0.5,
            **{f"{name}_bias": flag for name, flag in resolve.attention_bias(spec, att).items()},
        )
        if attention["qk_norm"] is not None:
            attention["qk_norm"]["norm"] = _norm_meaning(attention["qk_norm"]["norm"])
        ffn = layer.ffn.model_dump(mode="json")
        ffn["bias"] = resolve.ffn_bias(spec, layer.ffn)
        layers.append(
            {
                "attention": attention,
                "ffn": ffn,
                "position": layer.position.model_dump(mode="json"),
                "mixer": layer.mixer,
            }
        )
    data["layers"] = layers
    return data


def _norm_meaning(norm: dict[str, Any]) -> dict[str, Any]:
    """A dumped norm with a LayerNorm's default shift written out (`resolve.layernorm_bias`)."""
    if norm["kind"] == "layernorm" and norm["bias"] is None:
        return {**norm, "bias": norm["affine"]}
    return norm


def _differences(want: Any, got: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, wanted, got) for every leaf where two meanings differ."""
    if isinstance(want, dict) and isinstance(got, dict) and want.get("kind") == got.get("kind"):
        out: list[tuple[str, Any, Any]] = []
        for key in list(want) + [k for k in got if k not in want]:
            out += _differences(want.get(key), got.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if want == got else [(path, want, got)]


def _blockers(want: dict[str, Any], got: dict[str, Any], family: str) -> list[str]:
    """Plain-language differences between a spec's meaning and what ``family`` gives back."""
    found: list[str] = []
    for path, a, b in _differences(
        {k: v for k, v in want.items() if k != "layers"},
        {k: v for k, v in got.items() if k != "layers"},
    ):
        found.append(f"{path} is {_show(a)}; {family} gives {_show(b)}")
    if len(want["layers"]) != len(got["layers"]):
        return found
    per_path: dict[tuple[str, str, str], list[int]] = {}
    for index, (a_layer, b_layer) in enumerate(zip(want["layers"], got["layers"], strict=True)):
        for path, a, b in _differences(a_layer, b_layer):
            per_path.setdefault((path, _show(a), _show(b)), []).append(index)
    n = len(want["layers"])
    for (path, a, b), indices in per_path.items():
        where = "on every layer" if len(indices) == n else f"on layers {_ranges(indices)}"
        found.append(f"{path} is {a} {where}; {family} gives {b}")
    return found


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _ranges(indices: list[int]) -> str:
    if len(indices) <= 6:
        return ", ".join(map(str, indices))
    return f"{', '.join(map(str, indices[:4]))}, ... ({len(indices)} layers)"


# --- export ---------------------------------------------------------------------------------------


def spec_to_hf_config(
    spec: ModelSpec, *, model_type: str | None = None, layout: Layout = "both"
) -> dict[str, Any]:
    """The Hugging Face `config.json` of ``spec``, in the first family that represents it exactly.

    Args:
        spec: A validated spec.
        model_type: Use this family instead of the first exact one (still only when exact).
        layout: `both` (default) writes the transformers 5 keys (`rope_parameters`, `dtype`) and
            beside them the transformers 4 ones (`rope_theta`, `rope_scaling`, `torch_dtype`, a
            family's 4.x names), saying the same, so that 4.4x-4.57 and 5 read one model; `v5`
            and `v4` write one spelling only.

    Returns:
        The config, keys sorted: `model_type`, `architectures`, the dtype and every key transformers
        needs to build the same architecture. The padded vocabulary (rows) goes into `vocab_size`,
        since that is what transformers builds; the tokenizer's size has no config key.

    Raises:
        HFConfigError: when no family (or not ``model_type``) represents the spec exactly; its
            ``blockers`` lists, per family, the features in the way.
    """
    spec = spec.model_copy(
        update={"adapters": None}
    )  # the base model's config (adapters: hf.adapters)
    if model_type is not None and model_type not in FAMILIES:
        raise HFConfigError(
            f"unsupported model_type '{model_type}'; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    blockers: dict[str, list[str]] = {}
    for name in [model_type] if model_type else SUPPORTED_MODEL_TYPES:
        family = FAMILIES[name]
        config = _write(spec, family, layout)
        problems = exactness_problems(spec, config)
        if not problems:
            return config
        blockers[name] = (family.hints(spec) if family.hints else []) + problems
    lines = [f"no Hugging Face family represents spec '{spec.name}' exactly; blocking features:"]
    for name, problems in sorted(blockers.items(), key=lambda item: len(item[1])):  # closest first
        lines.append(f"  {name}:")
        lines += [f"    - {problem}" for problem in problems]
    raise HFConfigError("\n".join(lines), blockers=blockers)


_TOKEN_KEYS = (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("pad", "pad_token_id"))
"""Spec `tokens` field -> config key."""


def _write(spec: ModelSpec, family: Family, layout: Layout) -> dict[str, Any]:
    dtypes = {"v5": ("dtype",), "v4": ("torch_dtype",), "both": ("dtype", "torch_dtype")}[layout]
    config = {
        "model_type": family.model_type,
        "architectures": [family.architecture],
        **dict.fromkeys(dtypes, spec.dtype),
        **family.write(spec, layout),
    }
    # Token ids are written even when unknown (null): a config class default (Phi-3's pad id
    # 32000) could otherwise point past a small vocabulary.
    tokens = spec.tokens
    for field, key in _TOKEN_KEYS:
        config[key] = getattr(tokens, field) if tokens is not None else None
    return dict(sorted(config.items()))


def exactness_problems(spec: ModelSpec, config: Mapping[str, Any]) -> list[str]:
    """Why ``config`` does not describe ``spec`` exactly (empty when it does).

    The config is read back and compared in meaning; a config the reader refuses is one problem.
    """
    rows = resolve.vocab_rows(spec)
    try:
        back, _ = hf_config_to_spec(
            config, name=spec.name, vocab_size=spec.vocab_size if rows != spec.vocab_size else None
        )
    except HFConfigError as err:
        return [err.message]
    return _blockers(spec_meaning(spec), spec_meaning(back), str(config.get("model_type")))


# --- import ---------------------------------------------------------------------------------------


def hf_config_to_spec(
    config: Mapping[str, Any],
    *,
    name: str,
    source: str | None = None,
    vocab_size: int | None = None,
    ignore: Iterable[str] = (),
) -> tuple[ModelSpec, ImportReport]:
    """Read a Hugging Face `config.json` dict into a spec, accounting for every key.

    Args:
        config: The parsed config (see :func:`load_hf_config`).
        name: Name of the new spec.
        source: Where the config came from (URL or path), recorded as `source.config`.
        vocab_size: The tokenizer's vocabulary when the config's `vocab_size` is padded (OLMo:
            50280 of 50304 rows); the config's value then becomes `padded_vocab_size`. A config
            carries only the rows transformers builds, so this cannot be read from it.
        ignore: Extra keys the caller vouches do not change the architecture.

    Returns:
        The spec and a report of mapped, ignored and defaulted keys.

    Raises:
        HFConfigError: unsupported `model_type`; a key that could change the architecture and that
            archspec does not map; a value the spec cannot express; settings that disagree.
    """
    if not isinstance(config, Mapping):
        raise HFConfigError(f"a config must be a JSON object, got {type(config).__name__}")
    model_type = config.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise HFConfigError(
            f"'model_type' must be a string, got {type(model_type).__name__}",
            keys=("model_type",),
        )
    if model_type not in FAMILIES:
        what = (
            "has no model_type"
            if model_type is None
            else f"has unsupported model_type {model_type!r}"
        )
        raise HFConfigError(
            f"the config {what}; supported: {', '.join(SUPPORTED_MODEL_TYPES)}",
            keys=("model_type",),
        )
    family = FAMILIES[model_type]
    # Keys the caller vouches for are read as absent, so that no reader refuses them.
    vouched = [key for key in dict.fromkeys(ignore) if key in config and key != "model_type"]
    keys = ConfigKeys({k: v for k, v in config.items() if k not in vouched})
    keys.take("model_type")
    data = family.read(keys)
    _read_common(keys, family, data)
    keys.config = dict(config)
    for key in vouched:
        keys.ignore(key, "ignored at the caller's request")
    for key, reason in {**family.ignorable, **GENERIC_IGNORED}.items():
        keys.ignore(key, reason)
    unknown = keys.unaccounted()
    if unknown:
        raise HFConfigError(
            f"{model_type} config has key(s) archspec does not map and cannot prove harmless: "
            f"{', '.join(unknown)}. They could change the architecture; pass ignore=[...] if they "
            "do not.",
            keys=unknown,
        )
    if vocab_size is not None:
        rows = data["vocab_size"]
        if not is_int(vocab_size) or not 0 < vocab_size <= rows:
            raise HFConfigError(
                f"vocab_size={vocab_size!r} must be a positive integer <= the config's {rows} rows"
            )
        data["vocab_size"] = vocab_size
        if vocab_size != rows:
            data["padded_vocab_size"] = rows
    meta: dict[str, Any] = {
        "name": name,
        "description": f"Imported from a Hugging Face {model_type} config.",
    }
    if source is not None:
        meta["source"] = {"config": source}
    try:
        spec = ModelSpec.model_validate({**meta, **data})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<spec>'}: {e['msg']}"
            for e in err.errors(include_url=False)
        )
        raise HFConfigError(
            f"the {model_type} config does not give a valid spec: {problems}"
        ) from None
    report = ImportReport(
        model_type=model_type,
        mapped=tuple(keys.mapped),
        ignored=tuple(IgnoredKey(k, r) for k, r in keys.ignored.items()),
        defaults=tuple(keys.defaults.items()),
        notes=tuple(keys.notes),
    )
    return spec, report


def _read_tokens(keys: ConfigKeys, data: dict[str, Any]) -> None:
    """bos/eos/pad token ids into the spec's `tokens`; an odd value is noted and left out (a token
    id never changes the architecture, so it is no reason to refuse a config)."""
    tokens: dict[str, Any] = {}
    for field, key in _TOKEN_KEYS:
        if key not in keys:
            continue
        value = keys.take(key, record=False)
        ids = value if field == "eos" and isinstance(value, list) else [value]
        if value is None:
            continue
        if ids and all(is_int(i) and 0 <= i < 2**63 for i in ids):
            tokens[field] = value
        else:
            keys.note(f"{key} {value!r} is not a token id (or list of ids); left out of the spec")
    if tokens:
        data["tokens"] = tokens


def _read_common(keys: ConfigKeys, family: Family, data: dict[str, Any]) -> None:
    """Keys shared by every family: dtype, token ids, architectures, encoder-decoder flags."""
    _read_tokens(keys, data)
    dtype = None
    for key in ("dtype", "torch_dtype"):  # transformers 5 keeps `dtype` when both are given
        if keys.present(key):
            value = keys.get_str(key)
            if value not in _DTYPES:  # the weights' storage dtype: memory figures, not architecture
                keys.note(f"{key} {value!r} is not one archspec records ({', '.join(_DTYPES)})")
            else:
                dtype = dtype or value
        elif key in keys:
            keys.take(key)
    if dtype is None:
        keys.note("no torch_dtype/dtype in the config; the spec keeps archspec's default dtype")
    else:
        data["dtype"] = dtype
    if keys.present("architectures"):
        names = keys.take("architectures")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise HFConfigError(
                f"'architectures' must be a list of class names, got {names!r}",
                keys=("architectures",),
            )
        odd = [n for n in names if n not in family.causal_lm_classes]
        if odd:
            raise HFConfigError(
                f"architectures {odd} are not {family.model_type}'s causal-LM class "
                f"({', '.join(family.causal_lm_classes)}); the checkpoint's head may differ",
                keys=("architectures",),
            )
    elif "architectures" in keys:
        keys.take("architectures")
    if family.encoder_decoder:
        keys.expect("is_encoder_decoder", (True, None), f"{family.model_type} is encoder-decoder")
    else:
        keys.expect("is_encoder_decoder", (False, None), "this family is decoder-only")
        keys.expect("add_cross_attention", (False, None), "cross-attention needs an encoder")
    keys.expect(
        "pruned_heads", ({}, None), "pruned heads make layers differ; archspec cannot express it"
    )


def load_hf_config(path: str | Path) -> dict[str, Any]:
    """Read a `config.json`, or the `config.json` inside a model folder.

    Raises:
        UsageError: when there is no such file, or it is not a regular file.
        HFConfigError: when the file is too large, not UTF-8, not JSON or not a JSON object.
    """
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    if not file.exists():
        where = f"no config.json in folder {path}" if path.is_dir() else f"no such file: {file}"
        raise UsageError(where)
    if not file.is_file():  # a FIFO or a device would block or never end
        raise UsageError(f"{file}: not a regular file")
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise HFConfigError(
                f"{file}: {file.stat().st_size} bytes; a config.json is at most "
                f"{MAX_CONFIG_BYTES} bytes"
            )
        raw = file.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {file}: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HFConfigError(f"{file}: not UTF-8 text (byte {err.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise HFConfigError(f"{file}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None
    except (ValueError, RecursionError) as err:  # a 5,000-digit integer, nesting too deep
        raise HFConfigError(f"{file}: not a readable config: {err}") from None
    if not isinstance(data, dict):
        raise HFConfigError(f"{file}: a config must be a JSON object, got {type(data).__name__}")
    return data
