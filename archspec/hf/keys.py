"""Reading a Hugging Face `config.json` one key at a time, and the errors and report of an import.

This is the bottom of :mod:`archspec.hf`: the family tables (:mod:`archspec.hf.families`) and the
import/export driver (:mod:`archspec.hf.config`) both build on it, and it imports neither.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from archspec.errors import ArchspecError

Layout = Literal["v4", "v5"]
"""Spelling of an exported config: `v5` (`rope_parameters`, `dtype`), as transformers 5 writes
it, or `v4` (`rope_theta`, `rope_scaling`, `torch_dtype`), which transformers 4 and 5 both read."""


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
        return self._typed(key, default, null, aliases, is_int, "an integer", int)

    def get_float(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """A number, returned as a float."""
        return self._typed(key, default, null, aliases, is_number, "a number", float)

    def get_bool(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """A boolean."""
        return self._typed(key, default, null, aliases, is_bool, "true or false", bool)

    def get_str(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        null: Any = _MISSING,
        aliases: Iterable[str] = (),
    ) -> Any:
        """A string."""
        return self._typed(key, default, null, aliases, is_str, "a string", str)

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


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_str(value: Any) -> bool:
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
