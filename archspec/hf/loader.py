"""Loading Hugging Face safetensors checkpoints into archspec modules, and exporting them back.

Tensors are read with the `safetensors` library only (memory-mapped, never unpickled); names and
layouts are translated by the tables of :mod:`archspec.hf.weights`, and every tensor is checked
against the model before any is loaded, so a checkpoint that does not fit fails with one
:class:`~archspec.errors.CheckpointError` listing every missing, unexpected and mis-shaped tensor.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from archspec.errors import CheckpointError, UsageError
from archspec.hf.header import checkpoint_files, index_shards
from archspec.hf.weights import (
    Comparison,
    NameTable,
    Rule,
    archspec_shapes,
    compare,
    folder_config,
    name_table,
    read_regular_headers,
    rules,
    stored_table,
)
from archspec.plan.types import ModelPlan
from archspec.spec.model import ModelSpec


def load_pretrained(
    path: str | Path,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    adapter: str | Path | None = None,
    ignore: Iterable[str] = (),
    vocab_size: int | None = None,
    revision: str | None = None,
) -> nn.Module:
    """Build the archspec model a Hugging Face model folder describes and load its weights.

    Args:
        path: A folder with `config.json` and `model.safetensors` (or a sharded
            `model.safetensors.index.json` with its shards), or a hub id `ORG/NAME` (with the
            `hub` extra; honours `HF_HUB_OFFLINE` and the hub cache).
        device: Where the parameters go (default CPU).
        dtype: Parameter dtype (default float32, as :func:`~archspec.nn.model.build_model`).
        adapter: A peft LoRA/DoRA adapter folder to load on top (:mod:`archspec.hf.adapters`).
        ignore: Config keys you vouch do not change the architecture (see
            :func:`~archspec.hf.config.hf_config_to_spec`).
        vocab_size: The tokenizer's vocabulary when the config's `vocab_size` is padded.
        revision: Branch, tag or commit of a hub id.

    Returns:
        The runtime module, with ``model.spec`` the imported spec.

    Raises:
        UsageError: No such folder, or no config.json / safetensors file in it.
        HFConfigError: The config cannot be imported exactly.
        CheckpointError: A tensor is missing, unexpected or mis-shaped (all are listed), or a
            file cannot be read.
    """
    from archspec.hf.config import hf_config_to_spec, load_hf_config
    from archspec.hf.hub import is_hub_id, resolve

    hub = is_hub_id(str(path))
    folder = _folder(resolve(path, revision=revision, weights=True))
    config = load_hf_config(folder)
    name = str(path).rsplit("/", 1)[-1] if hub else folder.resolve().name
    spec, _ = hf_config_to_spec(
        config,
        name=name or "model",
        source=f"https://huggingface.co/{path}" if hub else str(folder),
        ignore=ignore,
        vocab_size=vocab_size,
    )
    model = load_checkpoint(
        folder, spec, model_type=config["model_type"], device=device, dtype=dtype
    )
    if adapter is None:
        return model
    from archspec.hf.adapters import load_adapter

    return load_adapter(model, adapter, model_type=config["model_type"])


def load_checkpoint(
    path: str | Path,
    spec: ModelSpec,
    *,
    model_type: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Build ``spec``'s model and load a Hugging Face checkpoint into it.

    Args:
        path: A model folder, a `.safetensors` file or a `model.safetensors.index.json`.
        spec: The model the checkpoint holds.
        model_type: The checkpoint's family; default: the folder's config.json, else the family
            the spec exports as.
        device: Where the parameters go (default CPU).
        dtype: Parameter dtype (default float32).

    Raises:
        CheckpointError: A tensor is missing, unexpected or mis-shaped (all are listed).
    """
    from archspec.nn.model import add_adapters, build_model
    from archspec.plan.lower import lower

    if spec.adapters is not None:  # the base model's weights, fresh adapters on top
        base = spec.model_copy(update={"adapters": None})
        model = load_checkpoint(path, base, model_type=model_type, device=device, dtype=dtype)
        return add_adapters(model, spec)
    plan = lower(spec)
    table = stored_table(model_type or _model_type(path, spec), folder_config(path))
    comparison = _check(plan, table, Path(path))
    with _parameters_on_meta():
        model = build_model(plan, device=device)
    dtype = dtype or torch.float32
    target = torch.device(device) if device is not None else torch.device("cpu")
    state = _archspec_tensors(Path(path), comparison, plan, device=target, dtype=dtype)
    if plan.tie_embeddings:
        state["lm_head.weight"] = state["embed.weight"]
    shared_encoder_embed = plan.encoder is not None and not plan.encoder.own_embedding
    if shared_encoder_embed:
        state["encoder.embed.weight"] = state["embed.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    if plan.tie_embeddings:
        model.lm_head.weight = model.embed.weight
    if shared_encoder_embed:
        model.encoder.embed.weight = model.embed.weight
    # A module that made a tensor outside register_parameter would be left on meta: refuse it.
    left_on_meta = [name for name, t in model.state_dict(keep_vars=True).items() if t.is_meta]
    if left_on_meta:  # pragma: no cover
        raise CheckpointError("not loaded: " + ", ".join(left_on_meta))
    model.spec = spec
    return model


def load_state_dict_into(
    model: nn.Module,
    path: str | Path,
    *,
    ignore: Iterable[str] = (),
    vocab_size: int | None = None,
    revision: str | None = None,
) -> nn.Module:
    """Fill an archspec-built module (runtime, or a generated file's) from a Hugging Face folder.

    The family and shapes come from the folder's config.json; the module must have the same
    state-dict keys and shapes, which is checked for every tensor before anything is copied.
    ``path``, ``ignore``, ``vocab_size`` and ``revision`` are as for :func:`load_pretrained`.

    Returns:
        ``model``, loaded in place (values cast to each parameter's dtype and device).

    Raises:
        CheckpointError: The checkpoint does not fit the module (every problem listed).
    """
    from archspec.hf.config import hf_config_to_spec, load_hf_config
    from archspec.hf.hub import resolve
    from archspec.hf.weights import CheckpointMismatch
    from archspec.plan.lower import lower

    folder = _folder(resolve(path, revision=revision, weights=True))
    config = load_hf_config(folder)
    spec, _ = hf_config_to_spec(
        config, name=folder.resolve().name or "model", ignore=ignore, vocab_size=vocab_size
    )
    plan = lower(spec)
    comparison = _check(plan, stored_table(config["model_type"], config), folder)
    state = _archspec_tensors(folder, comparison, plan)
    own = model.state_dict()
    if "lm_head.weight" in own and "lm_head.weight" not in state and plan.tie_embeddings:
        state["lm_head.weight"] = state["embed.weight"]
    shared = plan.encoder is not None and not plan.encoder.own_embedding
    if shared and "encoder.embed.weight" in own:  # both stacks read one embedding
        state["encoder.embed.weight"] = state["embed.weight"]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mis_shaped = [
        (k, tuple(own[k].shape), tuple(v.shape))
        for k, v in state.items()
        if k in own and tuple(own[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mis_shaped:
        raise CheckpointMismatch(f"{folder} (archspec keys)", missing, unexpected, mis_shaped)
    with torch.no_grad():
        model.load_state_dict(state, strict=True)
    return model


def to_hf_state_dict(
    model_or_state_dict: nn.Module | Mapping[str, torch.Tensor],
    spec: ModelSpec,
    *,
    model_type: str | None = None,
    moe_layout: str | None = None,
) -> dict[str, torch.Tensor]:
    """The Hugging Face state dict of an archspec model: names and layouts of the spec's family.

    Args:
        model_or_state_dict: An archspec module or its state dict.
        spec: The model's spec; its family is the one :func:`~archspec.hf.config.spec_to_hf_config`
            exports it as (or ``model_type``).
        model_type: Force a family (it must represent the spec exactly).
        moe_layout: Mixtral experts `per_expert` (default, what `save_pretrained` writes) or `fused`.

    Returns:
        Contiguous tensors ready for `safetensors.torch.save_file`; a tied head is left out, as
        transformers saves it.
    """
    from archspec.hf.config import spec_to_hf_config
    from archspec.plan.lower import lower

    config = spec_to_hf_config(spec, model_type=model_type)
    plan = lower(spec)
    table = name_table(config["model_type"])
    names = None
    if moe_layout == "fused":
        names = [table.layer.format(i=i) + "mlp.experts.gate_up_proj" for i in range(plan.n_layers)]
    state = (
        model_or_state_dict.state_dict()
        if isinstance(model_or_state_dict, nn.Module)
        else dict(model_or_state_dict)
    )
    shapes = archspec_shapes(plan)
    missing = [k for k in shapes if k not in state]
    if missing:
        raise CheckpointError("the state dict lacks " + ", ".join(missing))
    out: dict[str, torch.Tensor] = {}
    for rule in rules(plan, table, checkpoint_names=names):
        tensors = to_hf(rule, [state[k].detach() for k in rule.ours])
        out.update({name: t.contiguous() for name, t in zip(rule.hf, tensors, strict=True)})
    return out


def save_pretrained(
    model: nn.Module,
    path: str | Path,
    spec: ModelSpec | None = None,
    *,
    model_type: str | None = None,
    moe_layout: str | None = None,
) -> Path:
    """Write an archspec model as a Hugging Face folder: `config.json` and `model.safetensors`.

    The spec's family is the one :func:`~archspec.hf.config.spec_to_hf_config` exports (or
    ``model_type``); transformers' `from_pretrained` loads the folder. Each file is written to a
    temporary name and moved into place, so a failed save leaves no half-written file.

    Args:
        model: The module (``model.spec`` is used when ``spec`` is None).
        path: The folder (created when absent).
        spec: The model's spec.
        model_type: Force a family (it must represent the spec exactly).
        moe_layout: Mixtral experts `per_expert` (default) or `fused`.

    Returns:
        The folder.
    """
    import json
    import os
    import tempfile

    from safetensors.torch import save_file

    from archspec.fileio import write_atomic
    from archspec.hf.config import spec_to_hf_config

    spec = spec if spec is not None else getattr(model, "spec", None)
    if spec is None:
        raise UsageError("save_pretrained needs the model's spec (model.spec is not set)")
    config = spec_to_hf_config(spec, model_type=model_type)
    state = to_hf_state_dict(model, spec, model_type=config["model_type"], moe_layout=moe_layout)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"format": "pt"})
        os.replace(tmp, folder / "model.safetensors")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_atomic(folder / "config.json", json.dumps(config, indent=2) + "\n")
    return folder


# --- the transforms, torch side of weights.Rule -----------------------------------------------


def from_hf(
    rule: Rule, tensors: list[torch.Tensor], shapes: Mapping[str, tuple[int, ...]]
) -> list[torch.Tensor]:
    """The archspec tensors of ``rule`` from its HF tensors (inverse of :func:`to_hf`)."""
    if rule.transpose:
        tensors = [t.transpose(-1, -2) for t in tensors]
    if rule.op in ("ternary_packed", "ternary"):
        return [_latent_from_hf(rule, tensors, shapes[rule.ours[0]][0])]
    if rule.op == "copy":
        return [tensors[0]]
    if rule.op == "stack":
        return [torch.stack(tensors)]
    fused = tensors[0]
    if rule.op == "concat":
        return list(fused.split([shapes[k][rule.dim] for k in rule.ours], dim=rule.dim))
    # grouped_qkv: rows are [q heads of group g, k_g, v_g] for each key/value group g.
    G, rest = rule.groups, fused.shape[1:]
    sizes = [shapes[k][0] // G for k in rule.ours]
    parts = fused.reshape(G, sum(sizes), *rest).split(sizes, dim=1)  # (G, rows per group, ...)
    return [part.reshape(-1, *rest) for part in parts]


def _latent_from_hf(rule: Rule, tensors: list[torch.Tensor], rows: int) -> torch.Tensor:
    """A BitLinear's latent weight from its stored ternary values and `weight_scale`:
    transformers' BitLinear divides by the scale (it stores 1 / absmean, values packed),
    AutoBitLinear multiplies by it (absmean, values unpacked)."""
    from archspec.hf.ternary import latent_weight, unpack

    stored, scale = tensors
    if rule.op == "ternary_packed":
        return latent_weight(unpack(stored, rows), 1.0 / scale.float())
    return latent_weight(stored, scale.float())


def _latent_to_hf(rule: Rule, weight: torch.Tensor) -> list[torch.Tensor]:
    """A BitLinear's ternary values and `weight_scale`, in the dtype of its latent weight."""
    from archspec.hf.ternary import pack, ternarize

    ternary, absmean = ternarize(weight)
    if rule.op == "ternary_packed":
        return [pack(ternary), (1.0 / absmean).reshape(1).to(weight.dtype)]
    return [ternary.to(weight.dtype), absmean.reshape(1).to(weight.dtype)]


def to_hf(rule: Rule, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """The HF tensors of ``rule`` from its archspec tensors."""
    if rule.op in ("ternary_packed", "ternary"):
        return _latent_to_hf(rule, tensors[0])
    if rule.op == "copy":
        out = [tensors[0]]
    elif rule.op == "stack":
        out = [t.clone() for t in tensors[0].unbind(0)]  # separate storages, as files need
    elif rule.op == "concat":
        out = [torch.cat(tensors, dim=rule.dim)]
    else:
        G, rest = rule.groups, tensors[0].shape[1:]
        grouped = [t.reshape(G, -1, *rest) for t in tensors]  # (G, rows per group, ...)
        out = [torch.cat(grouped, dim=1).reshape(-1, *rest)]
    if rule.transpose:
        out = [t.transpose(-1, -2) for t in out]
    return out


# --- helpers ----------------------------------------------------------------------------------


def _model_type(path: str | Path, spec: ModelSpec) -> str:
    """The family of a checkpoint: its folder's config.json, else the spec's export family."""
    from archspec.hf.config import load_hf_config, spec_to_hf_config

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if (folder / "config.json").is_file():
        model_type = load_hf_config(folder).get("model_type")
        if isinstance(model_type, str):
            return model_type
    return spec_to_hf_config(spec)["model_type"]


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(
            f"{folder} {what}: expected a model folder with config.json and safetensors"
        )
    return folder


def _check(plan: ModelPlan, table: NameTable, path: Path) -> Comparison:
    """Every checkpoint tensor against the plan, from the headers alone; raises on any mismatch."""
    header = read_regular_headers(path)
    comparison = compare(plan, table, {name: info.shape for name, info in header.items()})
    if not comparison.ok:
        raise comparison.error(str(path))
    return comparison


def _archspec_tensors(
    path: Path,
    comparison: Comparison,
    plan: ModelPlan,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """Every archspec tensor, read from the shards, transformed by the rules and converted one
    rule at a time (so at most one rule's tensors exist in both dtypes at once). On a terminal,
    a sharded checkpoint shows a progress bar."""
    shapes = archspec_shapes(plan)
    out: dict[str, torch.Tensor] = {}
    with _open_shards(path) as (get, n_files), _progress(len(comparison.rules), n_files) as step:
        for rule in comparison.rules:
            tensors = [get(comparison.renamed[name]) for name in rule.hf]
            for key, tensor in zip(rule.ours, from_hf(rule, tensors, shapes), strict=True):
                out[key] = tensor.to(device=device, dtype=dtype).contiguous()
            step()
    return out


@contextmanager
def _progress(total: int, n_files: int) -> Iterator[Callable[[], None]]:
    """A step function that advances a rich progress bar on a terminal (stderr), else nothing."""
    if n_files < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn(f"loading {n_files} shards"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("load", total=total)
        yield lambda: progress.advance(task)


@contextmanager
def _open_shards(path: Path) -> Iterator[tuple[Callable[[str], torch.Tensor], int]]:
    """A getter name -> tensor over every shard of the checkpoint, kept open (memory-mapped),
    and the number of files. A file safetensors cannot read is a CheckpointError naming it."""
    files = checkpoint_files(path)
    if files[0].name.endswith(".json"):
        where = index_shards(files[0])
    else:
        where = {}
        for file in files:
            with _reading(file), safe_open(file, framework="pt") as handle:
                where.update(dict.fromkeys(handle.keys(), file))
    with ExitStack() as stack:
        handles = {}
        for file in sorted(set(where.values())):
            with _reading(file):
                handles[file] = stack.enter_context(safe_open(file, framework="pt"))

        def get(name: str) -> torch.Tensor:
            file = where.get(name)
            if file is None:
                raise CheckpointError(f"{path}: tensor {name} is in no shard")
            with _reading(file):
                return handles[file].get_tensor(name)

        yield get, len(handles)


@contextmanager
def _reading(file: Path) -> Iterator[None]:
    """Turn what safetensors or the OS raise on a bad file into a CheckpointError naming it."""
    try:
        yield
    except CheckpointError:
        raise
    except (SafetensorError, OSError, ValueError, TypeError, RuntimeError, RecursionError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(f"{file}: cannot be read as safetensors ({first[:200]})") from None


@contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Modules built inside get their parameters on the meta device and their buffers for real.

    The parameters are replaced by the checkpoint's tensors, so they need no memory or
    initialisation; buffers that are not saved (rotary frequencies, ALiBi slopes) keep the values
    their module computed. (The same trick as accelerate's `init_empty_weights(include_buffers=False)`.)
    """
    register = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register
