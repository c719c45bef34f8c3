"""peft adapter folders (`adapter_config.json` + `adapter_model.safetensors`) <-> archspec adapters.

The config side is torch-free: :func:`adapter_config_to_spec` reads a peft LoRA config as an
`adapters:` section and :func:`spec_to_adapter_config` writes one back. Tensor names come from the
family's weight-name table (:mod:`archspec.hf.weights`): archspec's `layers.{i}.attn.q_proj.lora_A.weight`
is peft's `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`, and DoRA's
`lora_magnitude_vector` keeps its name. Torch is imported inside the functions that need it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.errors import CheckpointError, UsageError
from archspec.hf.weights import NameTable
from archspec.spec import adapters
from archspec.spec.model import AdapterSpec, ModelSpec

if TYPE_CHECKING:
    from torch import nn

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PREFIX = "base_model.model."
"""What peft puts before the transformers model's own names in a saved adapter."""
TENSORS = ("lora_A.weight", "lora_B.weight", "lora_magnitude_vector")

_OURS = {name: f"attn.{name}" for name in adapters.ATTENTION} | {
    name: f"ffn.{name}" for name in adapters.FFN
}
"""Target name -> archspec module inside a block."""

_UNSUPPORTED = {
    "target_parameters": None,
    "modules_to_save": None,
    "layer_replication": None,
    "trainable_token_indices": None,
    "bias": "none",
    "lora_bias": False,
    "fan_in_fan_out": False,
    "layers_pattern": None,
}
"""peft options archspec does not model, with the value they must have."""


def _leaf(table: NameTable, target: str) -> str:
    """The module name peft matches for an archspec target in this family (its last part)."""
    if target == "lm_head":
        return table.top["lm_head"].rpartition(".")[2]
    module = table.modules.get(_OURS[target])
    if module is None or table.fused_qkv is not None or module in table.conv1d:
        raise CheckpointError(
            f"{target}: the {table.name} checkpoint format stores it fused or as Conv1D; "
            "adapter files are supported for families with one nn.Linear per projection"
        )
    return module.rpartition(".")[2]


def hf_module(table: NameTable, layer: int | None, target: str) -> str:
    """The transformers module of an archspec target: block ``layer``'s, or the output head."""
    if target == "lm_head":
        return table.top["lm_head"]
    _leaf(table, target)
    return table.layer.format(i=layer) + table.modules[_OURS[target]]


def our_module(layer: int | None, target: str) -> str:
    """The archspec module of a target: `layers.{i}.attn.q_proj`, or `lm_head`."""
    return "lm_head" if target == "lm_head" else f"layers.{layer}.{_OURS[target]}"


def adapter_config_to_spec(config: Mapping[str, Any], table: NameTable) -> AdapterSpec:
    """A peft LoRA `adapter_config.json` as an `adapters:` section for a model of ``table``'s family.

    Raises:
        CheckpointError: A peft option archspec does not model (named with its value).
    """
    if config.get("peft_type", "LORA") != "LORA":
        raise CheckpointError(f"peft_type {config.get('peft_type')!r}: only LORA adapters load")
    for key, default in _UNSUPPORTED.items():
        value = config.get(key, default)
        if value not in (default, None, [], {}) or (default is False and value):
            raise CheckpointError(f"{CONFIG}: {key}={value!r} is not supported")
    by_leaf = {_leaf(table, t): t for t in (*adapters.ALL_LINEAR, "lm_head") if _has_leaf(table, t)}
    raw = config.get("target_modules")
    layers = config.get("layers_to_transform")
    if isinstance(layers, int):
        layers = [layers]
    if raw == "all-linear":
        targets = ["all-linear"]
    elif isinstance(raw, list | tuple) and raw:
        targets, layers = _targets(raw, by_leaf, table, layers)
    else:
        raise CheckpointError(f"{CONFIG}: target_modules {raw!r}: a list of names or 'all-linear'")
    overrides: dict[str, dict[str, Any]] = {}
    for key, field in (("rank_pattern", "r"), ("alpha_pattern", "alpha")):
        for pattern, value in (config.get(key) or {}).items():
            if pattern not in by_leaf:
                raise CheckpointError(f"{CONFIG}: {key} {pattern!r} is not a projection name")
            if by_leaf[pattern] not in targets:
                continue  # peft applies patterns to targeted modules only
            overrides.setdefault(by_leaf[pattern], {})[field] = (
                float(value) if field == "alpha" else int(value)
            )
    return AdapterSpec.model_validate(
        {
            "kind": "dora" if config.get("use_dora") else "lora",
            "r": int(config.get("r", 8)),
            "alpha": float(config.get("lora_alpha", 8)),
            "dropout": float(config.get("lora_dropout", 0.0)),
            "rslora": bool(config.get("use_rslora", False)),
            "targets": sorted(set(targets), key=targets.index),
            "layers": sorted(layers) if layers is not None else None,
            "overrides": overrides,
        }
    )


def _targets(
    raw: list[str], by_leaf: dict[str, str], table: NameTable, layers: list[int] | None
) -> tuple[list[str], list[int] | None]:
    """Targets (and layers) of a `target_modules` list: leaf names (`q_proj`), or the qualified
    names peft writes when it resolved `all-linear` (`model.layers.0.self_attn.q_proj`)."""
    unknown = [m for m in raw if m.rpartition(".")[2] not in by_leaf]
    if unknown:
        raise CheckpointError(
            f"{CONFIG}: target_modules {unknown} are not projections of a {table.name} model; "
            f"known: {', '.join(by_leaf)}"
        )
    pattern = re.compile(re.escape(table.layer).replace(re.escape("{i}"), r"(\d+)"))
    found: set[tuple[int | None, str]] = set()
    for module in raw:
        target = by_leaf[module.rpartition(".")[2]]
        match = pattern.match(module) if "." in module else None
        found.add((int(match.group(1)) if match else None, target))
    targets = [t for t in (*adapters.ALL_LINEAR, "lm_head") if any(t == f for _, f in found)]
    qualified = sorted({i for i, t in found if i is not None and t != "lm_head"})
    if not qualified:
        return targets, layers
    block = [t for t in targets if t != "lm_head"]
    if {(i, t) for i, t in found if t != "lm_head"} != {(i, t) for i in qualified for t in block}:
        raise CheckpointError(
            f"{CONFIG}: target_modules adapt different projections in different layers, "
            "which an `adapters:` section cannot say"
        )
    return targets, qualified if layers is None else sorted(set(qualified) & set(layers))


def _has_leaf(table: NameTable, target: str) -> bool:
    try:
        _leaf(table, target)
    except CheckpointError:
        return False
    return target == "lm_head" or _OURS[target] in table.modules


def spec_to_adapter_config(spec: ModelSpec, table: NameTable) -> dict[str, Any]:
    """The peft `adapter_config.json` of ``spec``'s adapters."""
    a = spec.adapters
    if a is None:
        raise UsageError(f"{spec.name} has no adapters to save")
    names = adapters.targets(a)
    target_modules: str | list[str] = (
        "all-linear" if a.targets == ["all-linear"] else [_leaf(table, t) for t in names]
    )
    leaves = {_leaf(table, t) for t in names}
    others = [t for t in adapters.ALL_LINEAR if t not in names and _has_leaf(table, t)]
    clash = [t for t in others if _leaf(table, t) in leaves]
    if clash:
        raise CheckpointError(f"peft would also adapt {clash}: they share a module name")
    return {
        "peft_type": "LORA",
        "base_model_name_or_path": None,
        "r": a.r,
        "lora_alpha": a.alpha,
        "lora_dropout": a.dropout,
        "use_rslora": a.rslora,
        "use_dora": a.kind == "dora",
        "target_modules": target_modules,
        "layers_to_transform": list(a.layers) if a.layers is not None else None,
        "rank_pattern": {_leaf(table, t): o.r for t, o in a.overrides.items() if o.r},
        "alpha_pattern": {_leaf(table, t): o.alpha for t, o in a.overrides.items() if o.alpha},
        "bias": "none",
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "inference_mode": True,
        "modules_to_save": None,
        "task_type": "CAUSAL_LM",
    }


def adapter_names(spec: ModelSpec, table: NameTable) -> dict[str, str]:
    """archspec state-dict key -> key in `adapter_model.safetensors`, for every adapter tensor."""
    a = spec.adapters
    if a is None:
        return {}
    out = {}
    tensors = TENSORS if a.kind == "dora" else TENSORS[:2]
    places: list[tuple[int | None, str]] = []
    if adapters.adapter(spec, None, "lm_head") is not None:
        places.append((None, "lm_head"))
    for i in range(spec.n_layers):
        places += [(i, t) for t in adapters.targets(a) if t != "lm_head"]
    for layer, target in places:
        if target != "lm_head" and adapters.adapter(spec, layer, target) is None:
            continue
        ours, theirs = our_module(layer, target), PREFIX + hf_module(table, layer, target)
        out.update({f"{ours}.{t}": f"{theirs}.{t}" for t in tensors})
    return out


def read_adapter_config(path: str | Path) -> dict[str, Any]:
    """The `adapter_config.json` of an adapter folder."""
    file = Path(path) / CONFIG
    if not file.is_file():
        raise UsageError(f"{path}: no {CONFIG} (not a peft adapter folder)")
    return json.loads(file.read_text())


def with_adapters(spec: ModelSpec, section: AdapterSpec, where: str = "<adapter>") -> ModelSpec:
    """``spec`` with an `adapters:` section, validated (a target the model lacks is a SpecError)."""
    from archspec.spec.load import validate

    data = spec.model_dump(mode="json")
    data["adapters"] = section.model_dump(mode="json")
    return validate(data, {}, where)


def load_adapter(model: nn.Module, path: str | Path, *, model_type: str) -> nn.Module:
    """A new runtime module: ``model``'s (plain) weights plus the peft adapter folder at ``path``.

    Raises:
        CheckpointError: The adapter's tensors do not fit (every missing, unexpected and
            mis-shaped one listed), or it uses a peft option archspec does not model.
    """
    import torch
    from safetensors.torch import load_file

    from archspec.hf.weights import CheckpointMismatch, name_table
    from archspec.nn.model import add_adapters

    table = name_table(model_type)
    section = adapter_config_to_spec(read_adapter_config(path), table)
    spec = with_adapters(model.spec, section, str(Path(path) / CONFIG))
    names = adapter_names(spec, table)
    weights_file = Path(path) / WEIGHTS
    if not weights_file.is_file():
        raise UsageError(f"{path}: no {WEIGHTS}")
    found = load_file(str(weights_file))
    adapted = add_adapters(model, spec)
    shapes = {k: tuple(v.shape) for k, v in adapted.state_dict().items()}
    theirs = set(names.values())
    missing = [names[k] for k in names if names[k] not in found]
    unexpected = sorted(k for k in found if k not in theirs)
    mis_shaped = [
        (names[k], shapes[k], tuple(found[names[k]].shape))
        for k in names
        if names[k] in found and tuple(found[names[k]].shape) != shapes[k]
    ]
    if missing or unexpected or mis_shaped:
        raise CheckpointMismatch(str(weights_file), missing, unexpected, mis_shaped)
    with torch.no_grad():
        own = adapted.state_dict()
        for ours, theirs in names.items():
            own[ours].copy_(found[theirs])
    return adapted


def save_adapter(model: nn.Module, path: str | Path, *, model_type: str | None = None) -> Path:
    """Write ``model``'s adapters as a peft adapter folder that `PeftModel.from_pretrained` loads.

    Args:
        model: A runtime module built from a spec with adapters (``model.spec`` set).
        path: The folder to write (created if needed).
        model_type: The base model's family; default: the family the spec exports as.
    """
    from safetensors.torch import save_file

    from archspec.hf.config import spec_to_hf_config
    from archspec.hf.weights import name_table

    spec = getattr(model, "spec", None)
    if spec is None or spec.adapters is None:
        raise UsageError("save_adapter needs a model built from a spec with adapters")
    table = name_table(model_type or spec_to_hf_config(spec)["model_type"])
    config = spec_to_adapter_config(spec, table)
    state = model.state_dict()
    tensors = {v: state[k].detach().contiguous() for k, v in adapter_names(spec, table).items()}
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": "pt"})
    (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def fine_tune_yaml(path: str | Path, base: str, *, name: str | None = None) -> str:
    """A fine-tune spec for the peft adapter folder at ``path``: `extends: base` plus its
    `adapters:` section, checked against the base model (torch-free).

    Args:
        path: The adapter folder (its `adapter_config.json` is read).
        base: The spec it fine-tunes, as `extends` names it (a shipped name or a path).
        name: The new spec's name (default: the folder's name).
    """
    import yaml

    from archspec.hf.config import spec_to_hf_config
    from archspec.hf.weights import name_table
    from archspec.spec.load import load_spec

    base_spec = load_spec(base)
    table = name_table(spec_to_hf_config(base_spec)["model_type"])
    section = adapter_config_to_spec(read_adapter_config(path), table)
    with_adapters(base_spec, section, str(Path(path) / CONFIG))
    data = {
        "name": name or Path(path).resolve().name,
        "description": f"{base_spec.name} with the adapters of {Path(path).name}",
        "source": {"adapter": f"peft adapter_config.json of {Path(path).name}"},
        "extends": base,
        "adapters": section.model_dump(mode="json", exclude_defaults=True),
    }
    return yaml.safe_dump(data, sort_keys=False, width=100)
