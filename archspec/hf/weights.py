"""State-dict name tables between Hugging Face checkpoints and archspec modules, without torch.

Each supported HF family (its config's `model_type`) has a :class:`~archspec.hf.tables.NameTable`
in its module of :mod:`archspec.hf.families`: where the embedding, blocks, final norm and head
live, what each archspec module is called inside a block, and which HF tensors are fused or
transposed. :func:`rules` turns a table and a model plan into
:class:`Rule` s, one per group of tensors that move together; each rule says how HF tensors are made
from archspec tensors (`to_hf`) and back. Shapes follow from the plan in pure integer math
(:func:`archspec_shapes`, :func:`hf_shapes`), so `archspec check` compares a spec with a
checkpoint header without importing torch; the torch side of each transform is in
:mod:`archspec.hf.loader`.

The archspec keys are fixed by the runtime module (`archspec.nn`): `embed.weight`,
`pos_embed.weight`, `embed_norm.*`, `layers.{i}.{attn_norm,attn_post_norm,ffn_norm,ffn_post_norm}.*`,
`layers.{i}.attn.{q,k,v,o}_proj.*`, `layers.{i}.attn.{q,k}_norm.*`,
`layers.{i}.ffn.{gate,up,down}_proj.*`, MoE `layers.{i}.ffn.router.*` and stacked
`layers.{i}.ffn.experts.{gate,up,down}_proj` (E, out, in) with `*_bias`, `final_norm.*`, `lm_head.*`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

from archspec.errors import CheckpointError, UsageError
from archspec.hf.families import FAMILIES
from archspec.hf.tables import NameTable
from archspec.plan.types import (
    AttentionPlan,
    FfnPlan,
    LayerPlan,
    ModelPlan,
    NormPlan,
    RecurrentPlan,
)

Shape = tuple[int, ...]
Op = Literal["copy", "concat", "grouped_qkv", "stack", "ternary_packed", "ternary"]


class Rule(NamedTuple):
    """HF tensors `hf` hold archspec tensors `ours`, related by `op`.

    * `copy`: one tensor each, equal.
    * `concat`: one HF tensor is the archspec tensors concatenated along `dim` (GPT-2 `c_attn`,
      Mixtral's `experts.gate_up_proj`).
    * `grouped_qkv`: one HF tensor holds q, k and v interleaved per key/value group: for each of
      `groups` groups its query heads, then its key head, then its value head (Falcon
      `query_key_value`; with one group it is plain concatenation, with one head per group the
      per-head [q, k, v] layout of Falcon without multi-query).
    * `stack`: one archspec tensor (E, ...) is the HF tensors stacked (Mixtral's per-expert `w1`).
    * `ternary_packed` / `ternary`: a BitLinear's latent weight is stored as its ternary values
      (packed four to a uint8, or unpacked) and a `weight_scale` (1 / absmean, or absmean), as
      transformers' BitLinear and AutoBitLinear keep them (:mod:`archspec.hf.ternary`).

    With `transpose`, the HF tensor is stored with its last two dimensions swapped after the
    op is applied (GPT-2's Conv1D keeps weights as (in, out)).
    """

    hf: tuple[str, ...]
    ours: tuple[str, ...]
    op: Op = "copy"
    dim: int = 0
    groups: int = 1
    transpose: bool = False


NAME_TABLES: tuple[NameTable, ...] = tuple(family.names for family in FAMILIES.values())
"""Every family's name table (each family module holds its own, beside its config reader)."""


def name_table(model_type: str) -> NameTable:
    """The name table of a config's `model_type`."""
    for table in NAME_TABLES:
        if model_type in table.model_types:
            return table
    known = sorted(t for table in NAME_TABLES for t in table.model_types)
    raise CheckpointError(
        f"no weight-name table for model_type {model_type!r}; available: {', '.join(known)}"
    )


# --- archspec shapes from the plan -----------------------------------------------------------


def stored_table(model_type: str, config: Mapping[str, Any] | None) -> NameTable:
    """The name table of ``model_type``, with how this checkpoint stores BitLinear weights as
    its config's `quantization_config` says (transformers' `BitNetQuantConfig`: `linear_class`
    `bitlinear` (default) or `autobitlinear`, `quantization_mode` `offline` (default) or
    `online`, whose weights are plain)."""
    table = name_table(model_type)
    if table.ternary is None or config is None:
        return table
    quant = config.get("quantization_config")
    form: Literal["bitlinear", "autobitlinear"] | None = None
    if isinstance(quant, Mapping) and quant.get("quant_method") == "bitnet":
        offline = quant.get("quantization_mode", "offline") == "offline"
        auto = quant.get("linear_class", "bitlinear") == "autobitlinear"
        form = ("autobitlinear" if offline else None) if auto else "bitlinear"
    return replace(table, ternary=form)


def folder_config(path: str | Path) -> dict[str, Any] | None:
    """The config.json beside a checkpoint, or None."""
    from archspec.hf.config import load_hf_config

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    return load_hf_config(folder) if (folder / "config.json").is_file() else None


def archspec_shapes(plan: ModelPlan, *, include_tied: bool = False) -> dict[str, Shape]:
    """Every parameter of the runtime module built from ``plan``, by state-dict key, with its shape.

    A tied head shares `embed.weight`; its `lm_head.weight` is listed only with ``include_tied``.
    """
    out = _top_shapes(plan, include_tied=include_tied)
    head = {k: out.pop(k) for k in ("final_norm.weight", "final_norm.bias") if k in out}
    head.update({k: out.pop(k) for k in ("lm_head.weight", "lm_head.bias") if k in out})
    for layer in plan.layers:
        prefix = f"layers.{layer.index}."
        out.update({prefix + k: s for k, s in _local_shapes(layer).items()})
    out.update(head)
    if plan.encoder is not None:
        out.update(_encoder_shapes(plan, include_tied))
    return out


def _encoder_shapes(plan: ModelPlan, include_tied: bool) -> dict[str, Shape]:
    """The encoder stack's parameters (`encoder.`) and the stacks' relative-bias tables."""
    stack, out = plan.encoder, {}
    if stack.own_embedding or include_tied:
        out["encoder.embed.weight"] = (plan.vocab_rows, plan.d_model)
    for prefix, bias in (("encoder.", stack.relative_bias), ("", plan.relative_bias)):
        if bias is not None:
            out[prefix + "relative_bias.weight"] = (bias.n_buckets, bias.n_heads)
    for layer in stack.layers:
        out.update(_layer_shapes(layer, f"encoder.layers.{layer.index}."))
    out.update(_norm_shapes(stack.final_norm, "encoder.final_norm."))
    return out


def _top_shapes(plan: ModelPlan, *, include_tied: bool = False) -> dict[str, Shape]:
    """The parameters outside the blocks: embedding, positions, final norm, head."""
    d, rows = plan.d_model, plan.vocab_rows
    out: dict[str, Shape] = {"embed.weight": (rows, d)}
    if plan.position == "learned":
        out["pos_embed.weight"] = (plan.max_seq_len, d)
    out.update(_norm_shapes(plan.embed_norm, "embed_norm."))
    out.update(_norm_shapes(plan.final_norm, "final_norm."))
    if include_tied or not plan.tie_embeddings:
        out["lm_head.weight"] = (rows, d)
    if plan.head_bias:
        out["lm_head.bias"] = (rows,)
    return out


def _signature(layer: LayerPlan) -> LayerPlan:
    """The layer with its position numbers zeroed: layers equal under it have the same tensors."""
    return replace(layer, index=0, mask=0)


_LOCAL_CACHE: dict[LayerPlan, dict[str, Shape]] = {}


def _local_shapes(layer: LayerPlan) -> dict[str, Shape]:
    """A block's parameters relative to `layers.{i}.` (computed once per kind of block, so that
    a deep model costs one dict copy per layer)."""
    key = _signature(layer)
    found = _LOCAL_CACHE.get(key)
    if found is None:
        if len(_LOCAL_CACHE) > 1024:
            _LOCAL_CACHE.clear()
        found = _LOCAL_CACHE[key] = _layer_shapes(layer, "")
    return found


def _norm_shapes(norm: NormPlan | None, prefix: str) -> dict[str, Shape]:
    if norm is None:
        return {}
    out = {}
    if norm.weight:
        out[prefix + "weight"] = (norm.width,)
    if norm.bias:
        out[prefix + "bias"] = (norm.width,)
    return out


def _linear(prefix: str, out_features: int, in_features: int, bias: bool) -> dict[str, Shape]:
    shapes = {prefix + "weight": (out_features, in_features)}
    if bias:
        shapes[prefix + "bias"] = (out_features,)
    return shapes


def _attention_shapes(att: AttentionPlan, prefix: str) -> dict[str, Shape]:
    d, q_width, kv_width = att.d_model, att.n_heads * att.head_dim, att.n_kv_heads * att.head_dim
    out = {
        **_linear(prefix + "q_proj.", q_width, d, att.q_bias),
        **_linear(prefix + "k_proj.", kv_width, d, att.k_bias),
        **_linear(prefix + "v_proj.", kv_width, d, att.v_bias),
        **_linear(prefix + "o_proj.", d, q_width, att.o_bias),
    }
    if att.qk_norm is not None:
        out.update(_norm_shapes(att.qk_norm.q, prefix + "q_norm."))
        out.update(_norm_shapes(att.qk_norm.k, prefix + "k_norm."))
    return out


def _ffn_shapes(ffn: FfnPlan, prefix: str) -> dict[str, Shape]:
    d, h = ffn.d_model, ffn.hidden_dim
    if not ffn.moe:
        out = {}
        if ffn.gated:
            out.update(_linear(prefix + "gate_proj.", h, d, ffn.bias))
        out.update(_linear(prefix + "up_proj.", h, d, ffn.bias))
        out.update(_linear(prefix + "down_proj.", d, h, ffn.bias))
        return out
    E = ffn.n_experts
    out = _linear(prefix + "router.", E, d, ffn.router_bias)
    experts = prefix + "experts."
    if ffn.gated:
        out[experts + "gate_proj"] = (E, h, d)
    out[experts + "up_proj"] = (E, h, d)
    out[experts + "down_proj"] = (E, d, h)
    if ffn.bias:
        if ffn.gated:
            out[experts + "gate_bias"] = (E, h)
        out[experts + "up_bias"] = (E, h)
        out[experts + "down_bias"] = (E, d)
    return out


def _recurrent_shapes(rec: RecurrentPlan, prefix: str) -> dict[str, Shape]:
    d, w, h, bw = rec.d_model, rec.width, rec.n_heads, rec.block_width
    out = {
        **_linear(prefix + "x_proj.", w, d, rec.bias),
        **_linear(prefix + "y_proj.", w, d, rec.bias),
        prefix + "conv.weight": (w, 1, rec.conv_width),
        **({prefix + "conv.bias": (w,)} if rec.bias else {}),
    }
    for gate in ("input_gate", "recurrent_gate"):
        out[f"{prefix}lru.{gate}_weight"] = (h, bw, bw)
        out[f"{prefix}lru.{gate}_bias"] = (h, bw)
    out[prefix + "lru.a_param"] = (w,)
    out.update(_linear(prefix + "out_proj.", d, w, rec.bias))
    return out


def _layer_shapes(layer: LayerPlan, prefix: str) -> dict[str, Shape]:
    out: dict[str, Shape] = {}
    for name in ("attn_norm", "attn_post_norm", "ffn_norm", "ffn_post_norm"):
        out.update(_norm_shapes(getattr(layer, name), f"{prefix}{name}."))
    mixer = layer.mixer
    if isinstance(mixer, RecurrentPlan):
        out.update(_recurrent_shapes(mixer, prefix + "attn."))
    else:
        out.update(_attention_shapes(mixer, prefix + "attn."))
        out.update(_norm_shapes(mixer.sub_norm, prefix + "attn.sub_norm."))
    if layer.cross_attention is not None:
        out.update(_norm_shapes(layer.cross_attn_norm, prefix + "cross_attn_norm."))
        out.update(_attention_shapes(layer.cross_attention, prefix + "cross_attn."))
    out.update(_ffn_shapes(layer.ffn, prefix + "ffn."))
    out.update(_norm_shapes(layer.ffn.sub_norm, prefix + "ffn.sub_norm."))
    return out


# --- rules ------------------------------------------------------------------------------------


def rules(
    plan: ModelPlan, table: NameTable, *, checkpoint_names: Iterable[str] | None = None
) -> list[Rule]:
    """How every archspec tensor of ``plan`` is stored in a checkpoint of ``table``'s family.

    Args:
        plan: The model's plan.
        table: The family's name table.
        checkpoint_names: The checkpoint's tensor names (already under :func:`canonical_names`),
            used to pick between layouts a family has been saved in (Mixtral's experts); without
            them the first layout is used (what `save_pretrained` writes).

    Raises:
        CheckpointError: A tensor of the plan has no place in this family (e.g. a bias a fused
            projection cannot hold, or a norm the family does not have).
    """
    if table.explicit is not None and plan.encoder is not None:
        names = table.explicit(plan.encoder.n_layers, plan.n_layers, plan.layers[0].ffn.gated)
        every = archspec_shapes(plan)
        unplaced = [ours for ours in every if ours not in names]
        if unplaced:
            raise CheckpointError(
                f"the {table.name} checkpoint format has no place for: " + ", ".join(unplaced[:8])
            )
        return [Rule((names[ours],), (ours,)) for ours in every]
    if plan.encoder is not None or table.explicit is not None:
        raise CheckpointError(
            f"the {table.name} checkpoint format does not hold "
            + ("encoder-decoder" if plan.encoder is not None else "decoder-only")
            + " models"
        )
    shapes = _top_shapes(plan)
    out: list[Rule] = []
    unplaced: list[str] = []
    for key in ("embed", "pos_embed", "embed_norm", "final_norm", "lm_head"):
        for param in ("weight", "bias"):
            ours = f"{key}.{param}"
            if ours in shapes:
                if key in table.top:
                    out.append(Rule((f"{table.top[key]}.{param}",), (ours,)))
                else:
                    unplaced.append(ours)
    names = set(checkpoint_names) if checkpoint_names is not None else None
    # Rules are made once per kind of block and moved into the others: linear in layers.
    templates: dict[tuple[LayerPlan, bool], tuple[list[Rule], list[str]]] = {}
    for layer in plan.layers:
        hf_prefix = table.layer.format(i=layer.index)
        fused = names is not None and hf_prefix + "mlp.experts.gate_up_proj" in names
        key = (_signature(layer), fused)
        template = templates.get(key)
        if template is None:
            missing: list[str] = []
            made = _layer_rules(table, layer, dict(_local_shapes(layer)), fused, missing)
            out += made
            unplaced += missing
            ours_cut, hf_cut = len(f"layers.{layer.index}."), len(hf_prefix)
            templates[key] = (
                [
                    r._replace(
                        hf=tuple(n[hf_cut:] for n in r.hf),
                        ours=tuple(n[ours_cut:] for n in r.ours),
                    )
                    for r in made
                ],
                [n[ours_cut:] for n in missing],
            )
            continue
        relative, missing = template
        ours_prefix = f"layers.{layer.index}."
        out += [_prefixed(r, hf_prefix, ours_prefix) for r in relative]
        unplaced += [ours_prefix + n for n in missing]
    if unplaced:
        raise CheckpointError(
            f"the {table.name} checkpoint format has no place for {len(unplaced)} tensor(s) of this "
            "model: " + ", ".join(unplaced[:8]) + (" ..." if len(unplaced) > 8 else "")
        )
    return out


def _prefixed(rule: Rule, hf_prefix: str, ours_prefix: str) -> Rule:
    """A template rule (names relative to a block) moved into one block."""
    hf, ours = rule.hf, rule.ours
    return Rule(
        (hf_prefix + hf[0],) if len(hf) == 1 else tuple(hf_prefix + n for n in hf),
        (ours_prefix + ours[0],) if len(ours) == 1 else tuple(ours_prefix + n for n in ours),
        rule.op,
        rule.dim,
        rule.groups,
        rule.transpose,
    )


def _layer_rules(
    table: NameTable,
    layer: LayerPlan,
    keys: dict[str, Shape],
    fused: bool,
    unplaced: list[str],
) -> list[Rule]:
    ours_prefix = f"layers.{layer.index}."
    hf_prefix = table.layer.format(i=layer.index)
    modules = dict(table.modules)
    if layer.wiring == "parallel" and layer.ffn_norm is not None:
        modules.update(table.parallel_norms)
    out: list[Rule] = []
    left = dict(keys)

    def ours(*local: str) -> tuple[str, ...]:
        return tuple(ours_prefix + k for k in local)

    if table.fused_qkv is not None:
        module = hf_prefix + table.fused_qkv
        transpose = table.fused_qkv in table.conv1d
        groups = layer.mixer.n_kv_heads if table.qkv_layout == "grouped" else 1
        op: Op = "grouped_qkv" if table.qkv_layout == "grouped" else "concat"
        for param in ("weight", "bias"):
            local = tuple(f"attn.{p}_proj.{param}" for p in "qkv")
            present = [k in left for k in local]
            if all(present):
                weight_t = transpose and param == "weight"
                out.append(
                    Rule(
                        (f"{module}.{param}",), ours(*local), op, groups=groups, transpose=weight_t
                    )
                )
                for k in local:
                    del left[k]
            elif any(present):
                unplaced.extend(ours(*(k for k in local if k in left)))
                for k in local:
                    left.pop(k, None)
    if table.ternary is not None:
        out += _ternary_rules(table.ternary, layer, hf_prefix, ours_prefix, modules, left)
    if table.fused_gate_up is not None and not layer.ffn.moe:
        out += _fused_rules(table.fused_gate_up, hf_prefix, ours_prefix, ("gate", "up"), left)
    if layer.ffn.moe:
        out += _moe_rules(table, layer, left, ours_prefix, hf_prefix, fused, unplaced)
    for local in sorted(left):
        if local in modules:  # a tensor the family names whole (RecurrentGemma's a_param)
            out.append(Rule((f"{hf_prefix}{modules[local]}",), ours(local)))
            continue
        module, _, param = local.rpartition(".")
        if module not in modules:
            unplaced.append(ours_prefix + local)
            continue
        hf_module = modules[module]
        transpose = hf_module in table.conv1d and param == "weight"
        out.append(Rule((f"{hf_prefix}{hf_module}.{param}",), ours(local), transpose=transpose))
    return out


def _ternary_rules(
    form: str,
    layer: LayerPlan,
    hf_prefix: str,
    ours_prefix: str,
    modules: Mapping[str, str],
    left: dict[str, Shape],
) -> list[Rule]:
    """The BitLinear projections' weights, stored as ternary values and a `weight_scale`."""
    op: Op = "ternary_packed" if form == "bitlinear" else "ternary"
    out = []
    for part, plan in (("attn", layer.mixer), ("ffn", layer.ffn)):
        for name, _ in plan.linear_kinds:
            local = f"{part}.{name}.weight"
            if local in left and f"{part}.{name}" in modules:
                hf = f"{hf_prefix}{modules[f'{part}.{name}']}"
                out.append(Rule((f"{hf}.weight", f"{hf}.weight_scale"), (ours_prefix + local,), op))
                del left[local]
    return out


def _fused_rules(
    module: str, hf_prefix: str, ours_prefix: str, parts: tuple[str, ...], left: dict[str, Shape]
) -> list[Rule]:
    """`ffn.{gate,up}_proj` stored as one module, concatenated by rows (Phi-3's `gate_up_proj`).

    Parts the layer lacks (an ungated FFN) stay in ``left`` for the family's split names, which
    then report them as unplaced.
    """
    out = []
    for param in ("weight", "bias"):
        local = tuple(f"ffn.{p}_proj.{param}" for p in parts)
        if all(k in left for k in local):
            out.append(
                Rule(
                    (f"{hf_prefix}{module}.{param}",),
                    tuple(ours_prefix + k for k in local),
                    "concat",
                )
            )
            for k in local:
                del left[k]
    return out


def _moe_rules(
    table: NameTable,
    layer: LayerPlan,
    left: dict[str, Shape],
    ours_prefix: str,
    hf_prefix: str,
    fused: bool,
    unplaced: list[str],
) -> list[Rule]:
    """The experts: one tensor per expert (`experts.{e}.gate_proj`, Mixtral's `w1/w3/w2`: what
    `save_pretrained` writes) or fused (`mlp.experts.gate_up_proj` (E, 2h, d), transformers 5's
    module layout)."""
    moe_keys = sorted(k for k in left if k.startswith("ffn."))
    for k in moe_keys:
        del left[k]
    experts = table.experts
    if experts is None:
        unplaced.extend(ours_prefix + k for k in moe_keys)
        return []
    ffn = layer.ffn
    if ffn.bias or not ffn.gated or ffn.router_bias:
        unplaced.extend(
            ours_prefix + k for k in moe_keys if "bias" in k or k == "ffn.experts.up_proj"
        )
        return []
    E = ffn.n_experts
    gate, up, down = (f"{ours_prefix}ffn.experts.{p}_proj" for p in ("gate", "up", "down"))
    router = ours_prefix + "ffn.router.weight"
    if fused:
        base = hf_prefix + "mlp."
        return [
            Rule((base + "gate.weight",), (router,)),
            Rule((base + "experts.gate_up_proj",), (gate, up), "concat", dim=1),
            Rule((base + "experts.down_proj",), (down,)),
        ]
    expert = hf_prefix + experts.expert
    per_expert = [
        Rule(tuple(f"{expert.format(e=e)}{w}.weight" for e in range(E)), (ours,), "stack")
        for w, ours in ((experts.gate, gate), (experts.up, up), (experts.down, down))
    ]
    return [Rule((f"{hf_prefix}{experts.router}.weight",), (router,)), *per_expert]


# --- shapes and names on the HF side ----------------------------------------------------------


def hf_shapes(rule: Rule, ours: Mapping[str, Shape]) -> dict[str, Shape]:
    """The shapes of a rule's HF tensors, given the archspec shapes."""
    shapes = [ours[k] for k in rule.ours]
    if rule.op in ("ternary_packed", "ternary"):
        rows, cols = shapes[0]
        # Four ternary rows to a byte row (hf/ternary.py; this module stays torch-free).
        stored = (-(-rows // 4), cols) if rule.op == "ternary_packed" else (rows, cols)
        result = [stored, (1,)]
    elif rule.op == "stack":
        result = [shapes[0][1:]] * len(rule.hf)
    elif rule.op == "copy":
        result = [shapes[0]]
    else:
        dim = rule.dim % len(shapes[0])
        total = sum(s[dim] for s in shapes)
        result = [shapes[0][:dim] + (total,) + shapes[0][dim + 1 :]]
    if rule.transpose:
        result = [s[:-2] + (s[-1], s[-2]) for s in result]
    return dict(zip(rule.hf, result, strict=True))


def expected_hf_shapes(plan: ModelPlan, rule_list: Iterable[Rule]) -> dict[str, Shape]:
    """Every HF tensor name of a checkpoint of ``plan`` with the shape it must have."""
    ours = archspec_shapes(plan)
    out: dict[str, Shape] = {}
    for rule in rule_list:
        out.update(hf_shapes(rule, ours))
    return out


def tied_head_name(table: NameTable) -> str:
    """The HF name of the output head's weight, which tied checkpoints may store or omit."""
    return table.top["lm_head"] + ".weight"


def is_ignored(table: NameTable, name: str) -> bool:
    """Whether a checkpoint tensor is knowingly not loaded (a buffer older versions saved)."""
    return any(re.search(pattern, name) for pattern in table.ignored)


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts `layers.2` before `layers.10`."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in name.split("."))


def canonical_names(table: NameTable, names: Iterable[str]) -> dict[str, str]:
    """Checkpoint name -> name in the family's table.

    Checkpoints saved from the base model (the original `gpt2` upload: `h.0.attn.c_attn.weight`,
    `wte.weight`) lack the base prefix; it is added back when no name carries it.
    """
    names = list(names)
    base = table.base
    if any(n.startswith(base) for n in names):
        return {n: n for n in names}
    head = table.top["lm_head"] + "."
    return {n: n if n.startswith(head) else base + n for n in names}


def read_regular_headers(path: str | Path) -> dict:
    """:func:`archspec.hf.header.read_headers`, after making sure every file it would open is a
    regular file: a FIFO or a device named `*.safetensors` would block the read forever."""
    from archspec.hf.header import checkpoint_files, read_headers

    for file in checkpoint_files(path):
        if not file.is_file():
            raise UsageError(f"{file}: not a regular file")
    return read_headers(path)


# --- comparing a plan with a checkpoint -------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A model plan against a checkpoint's tensor names and shapes (HF names, canonical)."""

    table: NameTable
    rules: tuple[Rule, ...]
    expected: dict[str, Shape]
    """HF name -> shape every tensor of the model needs."""
    found: dict[str, Shape]
    """HF name -> shape in the checkpoint."""
    renamed: dict[str, str]
    """Canonical HF name -> name as stored (they differ when the base prefix was left out)."""
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mis_shaped: tuple[tuple[str, Shape, Shape], ...]
    """(name, expected shape, checkpoint shape)."""
    ignored: tuple[str, ...]
    """Checkpoint tensors knowingly not loaded: old buffers, and a tied head stored anyway."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mis_shaped)

    def error(self, where: str) -> CheckpointMismatch:
        """The mismatch as an error that lists every problem."""
        return CheckpointMismatch(where, self.missing, self.unexpected, self.mis_shaped)


class CheckpointMismatch(CheckpointError):
    """A checkpoint's tensors do not fit the model: every missing, unexpected and mis-shaped one."""

    def __init__(
        self,
        where: str,
        missing: Iterable[str] = (),
        unexpected: Iterable[str] = (),
        mis_shaped: Iterable[tuple[str, Shape, Shape]] = (),
    ) -> None:
        self.where = where
        self.missing = tuple(missing)
        self.unexpected = tuple(unexpected)
        self.mis_shaped = tuple(mis_shaped)
        lines = [f"{where}: the checkpoint does not fit the model"]
        if self.missing:
            lines.append(f"  missing ({len(self.missing)}): " + ", ".join(self.missing))
        if self.unexpected:
            lines.append(f"  unexpected ({len(self.unexpected)}): " + ", ".join(self.unexpected))
        for name, want, got in self.mis_shaped:
            lines.append(f"  shape of {name}: model needs {list(want)}, checkpoint has {list(got)}")
        super().__init__("\n".join(lines))


def compare(plan: ModelPlan, table: NameTable, found: Mapping[str, Shape]) -> Comparison:
    """Check a checkpoint's names and shapes (as stored) against what ``plan`` needs."""
    renamed = canonical_names(table, found)
    canonical = {renamed[name]: tuple(shape) for name, shape in found.items()}
    stored_as = {new: old for old, new in renamed.items()}
    rule_list = tuple(rules(plan, table, checkpoint_names=canonical))
    expected = expected_hf_shapes(plan, rule_list)
    missing = tuple(sorted((name for name in expected if name not in canonical), key=natural_key))
    ignored, unexpected = [], []
    for name in sorted((n for n in canonical if n not in expected), key=natural_key):
        tied_extra = plan.tie_embeddings and name == tied_head_name(table)
        (ignored if tied_extra or is_ignored(table, name) else unexpected).append(name)
    mis_shaped = tuple(
        (name, shape, canonical[name])
        for name, shape in expected.items()
        if name in canonical and canonical[name] != shape
    )
    return Comparison(
        table=table,
        rules=rule_list,
        expected=expected,
        found=canonical,
        renamed=stored_as,
        missing=missing,
        unexpected=tuple(unexpected),
        mis_shaped=mis_shaped,
        ignored=tuple(ignored),
    )
