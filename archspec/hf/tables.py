"""The name table of a Hugging Face family: where its checkpoints keep each archspec tensor.

Only the table's type lives here (torch-free, importing nothing of archspec): each family module
(:mod:`archspec.hf.families`) fills one in, and :mod:`archspec.hf.weights` turns it into rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ExpertNames:
    """Where a mixture-of-experts family keeps its router and experts, one tensor per expert.

    transformers 5 also keeps every family's experts fused in memory (`mlp.gate`,
    `mlp.experts.gate_up_proj` (E, 2h, d), `mlp.experts.down_proj` (E, d, h)); a checkpoint saved
    from that state dict is read too.
    """

    router: str = "mlp.gate"
    """HF module of the router inside a block."""
    expert: str = "mlp.experts.{e}."
    """HF prefix of expert e inside a block, with `{e}`."""
    gate: str = "gate_proj"
    up: str = "up_proj"
    down: str = "down_proj"


@dataclass(frozen=True)
class NameTable:
    """Where a Hugging Face family keeps each archspec tensor."""

    model_types: tuple[str, ...]
    """`model_type` values of config.json this table serves."""
    base: str
    """Prefix of the base model (`model.`, `transformer.`); some checkpoints are saved without it."""
    top: Mapping[str, str]
    """archspec module -> HF module outside the blocks: embed, pos_embed, final_norm, lm_head."""
    layer: str
    """HF prefix of block i, with `{i}`."""
    modules: Mapping[str, str]
    """archspec module inside a block -> HF module inside the block."""
    parallel_norms: Mapping[str, str] = field(default_factory=dict)
    """Overrides of `modules` for parallel blocks with a norm per branch (Falcon 40B: ln_attn, ln_mlp)."""
    fused_qkv: str | None = None
    """HF module holding q, k and v in one projection, or None when they are split."""
    qkv_layout: Literal["concat", "grouped"] = "concat"
    """How `fused_qkv` interleaves them (see :class:`Rule`)."""
    conv1d: frozenset[str] = frozenset()
    """HF modules stored as GPT-2 Conv1D: weight (in, out)."""
    fused_gate_up: str | None = None
    """HF module holding the gate and up projections as one, gate rows first (Phi-3)."""
    experts: ExpertNames | None = None
    """Where the experts are kept, for mixture-of-experts families (None: the family has none)."""
    ternary: Literal["bitlinear", "autobitlinear"] | None = None
    """How the family stores BitLinear projections: `bitlinear`, ternary values packed four to
    a uint8 with a `weight_scale` that divides (transformers' BitLinear, what BitNet b1.58 2B-4T
    ships); `autobitlinear`, ternary values unpacked with a `weight_scale` that multiplies
    (AutoBitLinear, offline); None: as plain weights (dense, or AutoBitLinear online)."""
    ignored: tuple[str, ...] = (r"(^|\.)rotary_emb\.inv_freq$",)
    """Regexes of checkpoint tensors that are knowingly not loaded (buffers older versions saved)."""
    explicit: Callable[[int, int, bool], Mapping[str, str]] | None = None
    """Encoder-decoder families (T5): archspec key -> checkpoint key of every tensor, given the
    encoder's and the decoder's depths and whether the FFN is gated; `layer`/`modules` unused."""

    @property
    def name(self) -> str:
        return self.model_types[0]
