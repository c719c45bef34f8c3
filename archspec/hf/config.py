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

The per-family tables live in :mod:`archspec.hf.families`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from archspec.errors import ArchspecError, UsageError
from archspec.spec import resolve
from archspec.spec.model import ModelSpec

if TYPE_CHECKING:
    from archspec.hf.families import Family

Layout = Literal["v4", "v5"]
"""Spelling of an exported config: `v5` (`rope_parameters`, `dtype`), as transformers 5 writes
it, or `v4` (`rope_theta`, `rope_scaling`, `torch_dtype`), which transformers 4 and 5 both read."""

SUPPORTED_MODEL_TYPES: tuple[str, ...] = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "gemma",
    "gemma2",
    "olmo",
    "olmo2",
    "phi",
    "gpt2",
    "falcon",
)
"""The families archspec maps, in the order export tries them (the first exact one wins)."""

METADATA_FIELDS = ("name", "description", "source", "extends")
"""Spec fields that say where a model comes from, not what it computes."""


class HFConfigError(ArchspecError):
    """A config.json archspec cannot read exactly, or a spec no supported family represents exactly.

    Attributes:
        message: What is wrong, in plain words.
        keys: The config keys at fault (import), when there are some.
        blockers: Family (`model_type`) -> the spec features that family cannot represent (export).
    """

    def __init__(
        self,
        message: str,
        *,
        keys: Iterable[str] = (),
        blockers: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.keys = tuple(keys)
        self.blockers = {family: tuple(items) for family, items in (blockers or {}).items()}


@dataclass(frozen=True)
class IgnoredKey:
    """A config key read and knowingly left out of the spec."""

    key: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """How each key of an imported config was accounted for."""

    model_type: str
    """The family the config was read as."""
    mapped: tuple[str, ...]
    """Keys whose values went into the spec, or were checked against it (`is_encoder_decoder`)."""
    ignored: tuple[IgnoredKey, ...]
    """Keys that do not change the architecture (token ids, dropout, provenance), with reasons."""
    defaults: tuple[tuple[str, Any], ...]
    """Architecture keys absent from the config, with the transformers default that was used."""
    notes: tuple[str, ...] = ()
    """Remarks on readings that deserve a second look (legacy spellings, rewritten values)."""

    @property
    def accounted(self) -> frozenset[str]:
        """Every key that was mapped or ignored."""
        return frozenset(self.mapped) | {item.key for item in self.ignored}

    def reason(self, key: str) -> str | None:
        """Why ``key`` was ignored, or None when it was not."""
        return next((item.reason for item in self.ignored if item.key == key), None)


# --- reading a config, one key at a time ---------------------------------------------------------

_MISSING: Any = object()
NULL_IS_ERROR: Any = _MISSING
"""Sentinel for the getters' ``null``: an explicit JSON null is an error (the default behaviour)."""


class ConfigKeys:
    """A config dict whose keys are ticked off as a family reader maps, checks or ignores them.

    Typed getters raise :class:`HFConfigError` naming the key when a value has the wrong type, so a
    bad config never reaches the spec validator as an anonymous value.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.mapped: dict[str, None] = {}
        self.ignored: dict[str, str] = {}
        self.defaults: dict[str, Any] = {}
        self.notes: list[str] = []

    def __contains__(self, key: str) -> bool:
        return key in self.config

    def present(self, key: str) -> bool:
        """Whether ``key`` is in the config with a non-null value."""
        return self.config.get(key) is not None

    def take(
        self, key: str, default: Any = _MISSING, *, aliases: Iterable[str] = (), record: bool = True
    ) -> Any:
        """The raw value of ``key`` (or one of its legacy ``aliases``), marking them mapped.

        Absent keys give ``default``, listed in the report's defaults unless ``record`` is false
        (for keys whose absence is a spelling, not a setting); aliases that disagree are an error.
        """
        names = [name for name in (key, *aliases) if name in self.config]
        for name in names:
            self.mapped[name] = None
        if not names:
            if default is _MISSING:
                raise HFConfigError(f"the config has no '{key}'", keys=(key,))
            if record:
                self.defaults[key] = default
            return default
        values = [self.config[name] for name in names]
        if any(value != values[0] for value in values[1:]):
            spelled = ", ".join(f"{name}={self.config[name]!r}" for name in names)
            raise HFConfigError(
                f"the config spells one setting twice, differently: {spelled}", keys=names
            )
        return values[0]

    def get_int(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """An integer; ``null`` is what an explicit JSON null means (an error when not given)."""
        return self._typed(key, default, null, aliases, _is_int, "an integer", int)

    def get_float(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """A number, returned as a float."""
        return self._typed(key, default, null, aliases, _is_number, "a number", float)

    def get_bool(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """A boolean."""
        return self._typed(key, default, null, aliases, _is_bool, "true or false", bool)

    def get_str(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """A string."""
        return self._typed(key, default, null, aliases, _is_str, "a string", str)

    def _typed(
        self,
        key: str,
        default: Any,
        null: Any,
        aliases: Iterable[str],
        check: Callable[[Any], bool],
        what: str,
        cast: Callable[[Any], Any],
    ) -> Any:
        aliases = tuple(aliases)
        written = any(name in self.config for name in (key, *aliases))
        value = self.take(key, default, aliases=aliases)
        if not written:
            return value  # the transformers default, as given by the family table
        if value is None:
            if null is _MISSING:
                raise HFConfigError(f"'{key}' is null; transformers needs {what} here", keys=(key,))
            return null
        if not check(value):
            raise HFConfigError(f"'{key}' must be {what}, got {value!r}", keys=(key,))
        return cast(value)

    def expect(self, key: str, allowed: Iterable[Any], why: str) -> None:
        """Check that ``key``, when present, holds one of ``allowed`` (its neutral values)."""
        if key not in self.config:
            return
        self.mapped[key] = None
        allowed = tuple(allowed)
        if self.config[key] not in allowed:
            raise HFConfigError(f"'{key}' is {self.config[key]!r}: {why}", keys=(key,))

    def ignore(self, key: str, reason: str) -> None:
        """Account for ``key`` (when present and not already mapped) as knowingly ignored."""
        if key in self.config and key not in self.mapped:
            self.ignored.setdefault(key, reason)

    def note(self, text: str) -> None:
        """Record a remark for the report."""
        self.notes.append(text)

    def unaccounted(self) -> list[str]:
        """Keys neither mapped nor ignored, in config order."""
        return [key for key in self.config if key not in self.mapped and key not in self.ignored]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


# --- keys every family may carry ------------------------------------------------------------------

_TOKEN = "special token id: a tokenizer detail, not architecture"
_PROVENANCE = "provenance metadata"
_RUNTIME = "runtime or output option, not architecture"
_TRAINING = "training-only setting (initialisation or dropout)"
_TASK = "task-head or fine-tuning metadata; a causal LM does not use it"
_GENERATION = "generation default (generation_config), not architecture"

GENERATION_KEYS = (
    "assistant_confidence_threshold",
    "assistant_lookbehind",
    "bad_words_ids",
    "begin_suppress_tokens",
    "diversity_penalty",
    "do_sample",
    "early_stopping",
    "encoder_no_repeat_ngram_size",
    "encoder_repetition_penalty",
    "epsilon_cutoff",
    "eta_cutoff",
    "exponential_decay_length_penalty",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "length_penalty",
    "max_length",
    "min_length",
    "no_repeat_ngram_size",
    "num_assistant_tokens",
    "num_assistant_tokens_schedule",
    "num_beam_groups",
    "num_beams",
    "num_return_sequences",
    "output_scores",
    "remove_invalid_values",
    "repetition_penalty",
    "return_dict_in_generate",
    "suppress_tokens",
    "target_lookbehind",
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
)
"""Generation parameters that transformers' PreTrainedConfig drops on load (GenerationConfig)."""

GENERIC_IGNORED: Mapping[str, str] = {
    "bos_token_id": _TOKEN,
    "eos_token_id": _TOKEN,
    "pad_token_id": _TOKEN + " (the padding row is still a parameter)",
    "sep_token_id": _TOKEN,
    "decoder_start_token_id": _TOKEN,
    "transformers_version": _PROVENANCE,
    "_name_or_path": _PROVENANCE,
    "name_or_path": _PROVENANCE,
    "_commit_hash": _PROVENANCE,
    "auto_map": "remote-code class pointers; archspec follows transformers' class for model_type",
    "use_cache": _RUNTIME,
    "output_attentions": _RUNTIME,
    "output_hidden_states": _RUNTIME,
    "return_dict": _RUNTIME,
    "use_return_dict": _RUNTIME,
    "torchscript": _RUNTIME,
    "attn_implementation": "attention kernel choice; same math",
    "_attn_implementation": "attention kernel choice; same math",
    "_attn_implementation_autoset": "attention kernel choice; same math",
    "_attn_implementation_internal": "attention kernel choice; same math",
    "experts_implementation": "expert kernel choice; same math",
    "cache_implementation": "KV-cache implementation used by generate(); not architecture",
    "chunk_size_feed_forward": "computes the FFN in chunks to save memory; same weights and result",
    "use_bfloat16": "legacy TensorFlow dtype flag; the dtype is read from torch_dtype/dtype",
    "tf_legacy_loss": "TensorFlow loss option",
    "initializer_range": _TRAINING,
    "attention_dropout": _TRAINING,
    "hidden_dropout": _TRAINING,
    "resid_pdrop": _TRAINING,
    "embd_pdrop": _TRAINING,
    "attn_pdrop": _TRAINING,
    "id2label": _TASK,
    "label2id": _TASK,
    "num_labels": _TASK,
    "problem_type": _TASK,
    "finetuning_task": _TASK,
    "task_specific_params": _TASK,
    "prefix": _TASK,
    "tokenizer_class": _TASK,
    "is_decoder": "encoder/decoder role flag; every supported family is a decoder",
    "tie_encoder_decoder": "encoder-decoder option; not used by decoder-only models",
    "cross_attention_hidden_size": "encoder-decoder option; not used by decoder-only models",
    "quantization_config": "how the weights are stored (quantised), not the architecture",
    "pretraining_tp": "tensor-parallel slicing used in pretraining; same weights and result",
    **dict.fromkeys(GENERATION_KEYS, _GENERATION),
}
"""Keys any family may carry that do not change the architecture, each with the reason."""

_DTYPES = ("float32", "bfloat16", "float16")


# --- meaning --------------------------------------------------------------------------------------


def spec_meaning(spec: ModelSpec) -> dict[str, Any]:
    """What a spec computes, spelled one way: two specs are equal in meaning iff these are equal.

    Metadata is dropped; defaults are written out (head size, KV heads, biases, attention scale,
    shared norm, LayerNorm shift, YaRN attention factor, vocabulary rows); `layer_overrides` become one resolved
    attention and FFN per layer, so a pattern written as rules and the same pattern written per
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
        layers.append({"attention": attention, "ffn": ffn})
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
    spec: ModelSpec, *, model_type: str | None = None, layout: Layout = "v5"
) -> dict[str, Any]:
    """The Hugging Face `config.json` of ``spec``, in the first family that represents it exactly.

    Args:
        spec: A validated spec.
        model_type: Use this family instead of the first exact one (still only when exact).
        layout: `v5` writes `rope_parameters` and `dtype` as transformers 5 does; `v4` writes
            `rope_theta`/`rope_scaling`/`torch_dtype`, which transformers 4 and 5 both read.

    Returns:
        The config, keys sorted: `model_type`, `architectures`, the dtype and every key transformers
        needs to build the same architecture. The padded vocabulary (rows) goes into `vocab_size`,
        since that is what transformers builds; the tokenizer's size has no config key.

    Raises:
        HFConfigError: when no family (or not ``model_type``) represents the spec exactly; its
            ``blockers`` lists, per family, the features in the way.
    """
    families = _families()
    spec = spec.model_copy(
        update={"adapters": None}
    )  # the base model's config (adapters: hf.adapters)
    if model_type is not None and model_type not in families:
        raise HFConfigError(
            f"unsupported model_type '{model_type}'; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    blockers: dict[str, list[str]] = {}
    for name in [model_type] if model_type else SUPPORTED_MODEL_TYPES:
        family = families[name]
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


def _write(spec: ModelSpec, family: Family, layout: Layout) -> dict[str, Any]:
    config = {
        "model_type": family.model_type,
        "architectures": [family.architecture],
        "dtype" if layout == "v5" else "torch_dtype": spec.dtype,
        **family.write(spec, layout),
    }
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
    families = _families()
    if model_type not in families:
        what = (
            "has no model_type"
            if model_type is None
            else f"has unsupported model_type {model_type!r}"
        )
        raise HFConfigError(
            f"the config {what}; supported: {', '.join(SUPPORTED_MODEL_TYPES)}",
            keys=("model_type",),
        )
    family = families[model_type]
    keys = ConfigKeys(config)
    keys.take("model_type")
    data = family.read(keys)
    _read_common(keys, family, data)
    for key in ignore:
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
        if not _is_int(vocab_size) or not 0 < vocab_size <= rows:
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


def _read_common(keys: ConfigKeys, family: Family, data: dict[str, Any]) -> None:
    """Keys shared by every family: dtype, architectures, encoder-decoder flags."""
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
    keys.expect("is_encoder_decoder", (False, None), "archspec describes decoder-only models")
    keys.expect("add_cross_attention", (False, None), "cross-attention layers are not decoder-only")
    keys.expect(
        "pruned_heads", ({}, None), "pruned heads make layers differ; archspec cannot express it"
    )


def load_hf_config(path: str | Path) -> dict[str, Any]:
    """Read a `config.json`, or the `config.json` inside a model folder.

    Raises:
        UsageError: when there is no such file.
        HFConfigError: when the file is not a JSON object.
    """
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f"no config.json in folder {path}" if path.is_dir() else f"no such file: {file}"
        raise UsageError(where) from None
    except UnicodeDecodeError as err:  # bad input, like a spec that is not UTF-8: exit 1
        raise HFConfigError(f"{file}: not UTF-8 (byte {err.start}: {err.reason})") from None
    except OSError as err:
        raise UsageError(f"cannot read {file}: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise HFConfigError(f"{file}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise HFConfigError(f"{file}: a config must be a JSON object, got {type(data).__name__}")
    return data


def _families() -> dict[str, Family]:
    # Imported here: families.py builds on the reader and the error defined above.
    from archspec.hf.families import FAMILIES

    return FAMILIES
