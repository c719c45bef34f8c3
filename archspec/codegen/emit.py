"""emit(plan) -> one readable, self-contained PyTorch file ("one model, one file").

The plan has made every choice; this module only decides what to render: one class per distinct
component plan (named by the plan, numbered when two differ under one name), in dependency order.
Templates stay dumb: they loop, include, and test precomputed booleans.
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from archspec.analysis.params import count_params
from archspec.codegen import filters
from archspec.parallel.layout import parallel_layout
from archspec.plan.lower import lower
from archspec.plan.types import (
    AdapterPlan,
    AttentionPlan,
    FfnPlan,
    LayerPlan,
    LinearPlan,
    ModelPlan,
    NormPlan,
    RecurrentPlan,
    RopePlan,
)
from archspec.spec.model import ModelSpec

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class _Names:
    """Assigns each distinct component plan a class name, numbering repeats of a base name."""

    names: dict[Any, str] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)

    def __call__(self, key: Any, base: str) -> str:
        if key not in self.names:
            n = self.used.get(base, 0) + 1
            self.used[base] = n
            self.names[key] = base if n == 1 else f"{base}{n}"
        return self.names[key]


def _norm_key(plan: NormPlan) -> tuple[Any, ...]:
    """Norms differ as classes by behaviour and eps, not by width (a constructor argument)."""
    return (plan.kind, plan.eps, plan.weight, plan.bias, plan.unit_offset, plan.upcast)


@dataclass(frozen=True)
class BlockView:
    """What the block template needs: the wiring and the class of each part."""

    name: str
    wiring: str
    attn_norm: str | None
    attn_post_norm: str | None
    ffn_norm: str | None
    ffn_post_norm: str | None
    attention: str
    ffn: str
    residual_scale: float | None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(
        py=filters.py,
        comment=filters.comment,
        doc=filters.doc,
        tuple_literal=filters.tuple_literal,
        tuple_code=filters.tuple_code,
        wrap=filters.wrap,
    )
    return env


def emit_code(spec: ModelSpec, *, source_path: str | None = None) -> str:
    """Render the generated PyTorch source of ``spec``: byte-identical for equal specs.

    Args:
        spec: A validated spec.
        source_path: How the header names the spec file (default `specs/<name>.yaml`).
    """
    plan = lower(spec)
    # The stack topology picks the top template: decoder-only, or encoder-decoder (T5).
    template = "model.py.j2" if plan.encoder is None else "encoder_decoder.py.j2"
    return _environment().get_template(template).render(**context(spec, plan, source_path))


def module_filename(spec: ModelSpec) -> str:
    """File name of a spec's generated module: its name made a Python identifier, e.g. `gemma_7b.py`.

    A name that would shadow a module (`torch.py` beside the file would be what `import torch`
    finds; `math.py` breaks torch's own imports) or that is a keyword gets a `_model` suffix.
    """
    stem = re.sub(r"[^0-9A-Za-z_]", "_", spec.name)
    if stem[0].isdigit():
        stem = f"m_{stem}"
    if stem in _SHADOWED or keyword.iskeyword(stem):
        stem = f"{stem}_model"
    return f"{stem}.py"


_SHADOWED = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "torch",
    "archspec",
    "numpy",
    "sympy",
    "jinja2",
    "typing_extensions",
    "filelock",
    "fsspec",
    "networkx",
}
"""Module names a generated file must not take: the standard library's, and torch's and its
dependencies' (imported when the generated file imports torch)."""


def context(spec: ModelSpec, plan: ModelPlan, source_path: str | None) -> dict[str, Any]:
    """Everything the templates render, computed here so that templates need no logic."""
    names = _Names()
    norms: dict[str, NormPlan] = {}
    mixers: dict[type, dict[str, Any]] = {AttentionPlan: {}, RecurrentPlan: {}}
    ffns: dict[str, FfnPlan] = {}
    blocks: dict[str, BlockView] = {}

    def norm(p: NormPlan | None) -> str | None:
        if p is None:
            return None
        name = names(("norm",) + _norm_key(p), p.class_name)
        norms.setdefault(name, p)
        return name

    layer_blocks = []
    # An encoder-decoder's Block classes are its encoder's; its decoder blocks are DecoderBlock.
    for layer in plan.layers if plan.encoder is None else plan.encoder.layers:
        attn_name = _mixer(layer.mixer, names, norm, mixers)
        norm(layer.ffn.sub_norm)
        ffn_name = names(("ffn", layer.ffn), layer.ffn.class_name)
        ffns.setdefault(ffn_name, layer.ffn)
        view = _block_view(layer, attn_name, ffn_name, norm)
        block_name = names(("block", view), "Block")
        blocks.setdefault(block_name, BlockView(block_name, *list(view)))
        layer_blocks.append(block_name)
    final_norm = norm(plan.final_norm)
    adapters = _adapter_classes(plan, names)
    embed_norm = norm(plan.embed_norm)
    ropes = {names(("rope", r), "RotaryEmbedding"): r for r in plan.ropes}
    rope_names = list(ropes)
    # Each layer's entry in the tuple of tables the forward pass builds (None: no rotation).
    rope_calls = [f"self.{_rope_attribute(k)}(positions)" for k in range(len(ropes))]
    if any(layer.rope is None for layer in plan.layers) and ropes:
        rope_calls.append("None")
    layer_ropes = [len(ropes) if layer.rope is None else layer.rope for layer in plan.layers]
    counts = count_params(spec)
    attentions, recurrents = mixers[AttentionPlan], mixers[RecurrentPlan]
    stacks = {} if plan.encoder is None else _encoder_decoder(plan, names, norm, attentions, ffns)
    return {
        **stacks,
        "entry_point": stacks.get("entry_point", _ENTRY_POINT),
        "spec": spec,
        "plan": plan,
        "source_path": source_path or f"specs/{spec.name}.yaml",
        "counts": counts,
        "features": features(spec, plan),
        "norms": norms,
        "attentions": attentions,
        "recurrents": recurrents,
        "recurrent": bool(recurrents),
        "cache_class": "StateCache" if recurrents else "KVCache",
        "layer_kept": [_kept(plan, layer) for layer in plan.layers],
        "ffns": ffns,
        "blocks": blocks,
        "layer_blocks": layer_blocks,
        "uniform_blocks": len(set(layer_blocks)) == 1,
        "final_norm": final_norm,
        "embed_norm": embed_norm,
        "ropes": ropes,
        "rope_attributes": {name: _rope_attribute(k) for k, name in enumerate(rope_names)},
        "rope_doc": {name: _rope_doc(r) for name, r in ropes.items()},
        "rope_calls": rope_calls,
        "layer_ropes": layer_ropes,
        "single_rope": len(rope_calls) <= 1,
        "needs_math": any(r.scaling == "llama3" for r in plan.ropes),
        "sliding": any(w is not None for w in plan.windows),
        "alibi_scaled": plan.alibi_scale is not None,
        "alibi_bfloat16": plan.alibi_bfloat16,
        "any_softcap": any(a.softcap is not None for a in attentions.values()),
        "any_sdpa": any(a.softcap is None for a in attentions.values()),
        "any_gated": any(f.gated for f in ffns.values()),
        "moe": any(f.moe for f in ffns.values()),
        "activations": sorted({f.activation for f in ffns.values()}),
        "single_mask": len(plan.windows) == 1,
        "names_of_norm": lambda p: names.names[("norm",) + _norm_key(p)],
        "parallel": parallel_layout(plan) if plan.encoder is None else None,
        "ffn_doc": {name: _FFN_DOC[f.class_name.removeprefix("MoE")] for name, f in ffns.items()},
        "adapters": adapters,
        "linear_class": lambda p: _linear_class(p, names),
        "bitlinear": any(
            kind == "bitlinear_b158"
            for layer in plan.layers
            for _, kind in layer.mixer.linear_kinds + layer.ffn.linear_kinds
        ),
    }


def _mixer(plan: Any, names: _Names, norm: Any, mixers: dict[type, dict[str, Any]]) -> str:
    """The class of a layer's mixer, recorded in the dict of its plan type (one template each)."""
    name = names(("attn", plan), plan.class_name)
    mixers[type(plan)].setdefault(name, plan)
    if isinstance(plan, AttentionPlan) and plan.qk_norm is not None:
        norm(plan.qk_norm.q)
        norm(plan.qk_norm.k)
    norm(plan.sub_norm)
    return name


def _kept(plan: ModelPlan, layer: LayerPlan) -> str:
    """Positions a layer's StateCache entry keeps, as code: window - 1, every one, or none."""
    if isinstance(layer.mixer, RecurrentPlan):
        return "0"
    window = plan.windows[layer.mask]
    return 'float("inf")' if window is None else str(window - 1)


_ENTRY_POINT = "build_model(device=None, dtype=None) -> Transformer; model(input_ids) -> logits."


def _encoder_decoder(
    plan: ModelPlan,
    names: _Names,
    norm: Any,
    attentions: dict[str, AttentionPlan],
    ffns: dict[str, FfnPlan],
) -> dict[str, Any]:
    """What the encoder-decoder templates render beyond a decoder stack's parts: the decoder
    block's classes (its layers are uniform: the spec rules refuse layer overrides), the
    cross-attention and the two stacks' relative-bias classes."""
    layer = plan.layers[0]
    attention = names(("attn", layer.mixer), layer.mixer.class_name)
    attentions.setdefault(attention, layer.mixer)
    if layer.mixer.qk_norm is not None:
        norm(layer.mixer.qk_norm.q)
        norm(layer.mixer.qk_norm.k)
    ffn = names(("ffn", layer.ffn), layer.ffn.class_name)
    ffns.setdefault(ffn, layer.ffn)
    decoder = {
        "attn_norm": norm(layer.attn_norm),
        "cross_attn_norm": norm(layer.cross_attn_norm),
        "ffn_norm": norm(layer.ffn_norm),
        "attention": attention,
        "ffn": ffn,
    }
    biases = [
        {
            "name": "EncoderRelativeBias" if plan.encoder.relative_bias else "NoEncoderBias",
            "plan": plan.encoder.relative_bias,
        },
        {
            "name": "DecoderRelativeBias" if plan.relative_bias else "NoDecoderBias",
            "plan": plan.relative_bias,
        },
    ]
    return {
        "entry_point": "build_model(device=None, dtype=None) -> EncoderDecoder; "
        "model(input_ids, decoder_input_ids) -> logits.",
        "decoder": decoder,
        "cross": layer.cross_attention,
        "relative_biases": biases,
        "encoder_bias": biases[0]["name"],
        "decoder_bias": biases[1]["name"],
        "encoder_final_norm": norm(plan.encoder.final_norm),
    }


def _adapter_classes(plan: ModelPlan, names: _Names) -> dict[str, AdapterPlan]:
    """One generated class per distinct adapter (kind, rank, scaling, dropout)."""
    found: list[AdapterPlan | None] = [plan.head_adapter]
    for layer in plan.layers:
        found += [a for _, a in layer.mixer.adapters] + [a for _, a in layer.ffn.adapters]
    return {names(("adapter", a), a.class_name): a for a in found if a is not None}


def _linear_class(plan: LinearPlan, names: _Names) -> str:
    """`nn.Linear` for a dense projection, the generated class of its adapter, or of its kind."""
    if plan.adapter is not None:
        return names.names[("adapter", plan.adapter)]
    return _LINEAR_CLASSES[plan.class_name]


_LINEAR_CLASSES = {"Linear": "nn.Linear", "BitLinear": "BitLinear"}
"""Generated class of each unadapted linear kind (by the plan's class name)."""


_FFN_DOC = {
    "SwiGLU": "SwiGLU feed-forward (SiLU gate)",
    "GeGLU": "GeGLU feed-forward (exact GELU gate)",
    "GeGLUTanh": "GeGLU feed-forward (tanh-approximated GELU gate, as Gemma)",
    "ReGLU": "ReGLU feed-forward (ReLU gate)",
    "Relu2GLU": "Gated feed-forward with a squared-ReLU gate (BitNet b1.58 2B-4T's relu2)",
    "Relu2MLP": "MLP feed-forward with squared ReLU (So et al. 2021, Primer)",
    "GeluMLP": "MLP feed-forward with exact GELU",
    "GeluTanhMLP": "MLP feed-forward with tanh-approximated GELU (GPT-2's gelu_new)",
    "ReluMLP": "MLP feed-forward with ReLU",
    "SiluMLP": "MLP feed-forward with SiLU",
}


def _block_view(layer: LayerPlan, attn: str, ffn: str, norm: Any) -> tuple[Any, ...]:
    return (
        layer.wiring,
        norm(layer.attn_norm),
        norm(layer.attn_post_norm),
        norm(layer.ffn_norm),
        norm(layer.ffn_post_norm),
        attn,
        ffn,
        layer.residual_scale,
    )


def _rope_attribute(k: int) -> str:
    """Attribute of the k-th rotary module: `rotary`, `rotary2`, ..."""
    return "rotary" if k == 0 else f"rotary{k + 1}"


def _rope_doc(rope: RopePlan) -> str:
    """A rotary configuration in a few words, to tell several apart."""
    how = "" if rope.scaling == "none" else f", {rope.scaling} scaling"
    return f"theta {rope.theta:g}{how}"


def features(spec: ModelSpec, plan: ModelPlan) -> list[str]:
    """Notable features for the header, in plain words."""
    from archspec.analysis.diff import KNOBS

    wanted = {
        "norm",
        "norm placement",
        "activation",
        "attention",
        "head size",
        "position",
        "sliding window",
        "attn logit softcap",
        "final logit softcap",
        "qkv clip",
        "qk norm",
        "mixture of experts",
        "bias",
        "tied embeddings",
        "embedding x sqrt(d)",
        "adapters",
        "per-layer position",
        "embedding multiplier",
        "embedding norm",
        "residual multiplier",
        "logit scale",
        "head input x d_model^-0.5",
        "encoder layers",
    }
    out = []
    for knob in KNOBS:
        if knob.feature in wanted:
            value = knob.show(spec)
            if value not in ("—", "no"):
                out.append(f"{knob.feature}: {value}")
    return out
