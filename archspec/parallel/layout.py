"""The tensor-parallel layout of a model, derived from its plan as data (torch-free).

Megatron-style tensor parallelism (Shoeybi et al. 2019) with sequence parallelism (Korthikanti
et al. 2022), laid out as torchtitan does for Llama: between blocks the residual stream is split
along the sequence; a branch (attention, FFN) gathers its input, runs column-parallel projections
into local heads or hidden units and a row-parallel projection whose reduce-scatter splits the
sequence again. The embedding and the output head are split along the vocabulary.

The layout is a tuple of ``(module path, style)`` pairs; the runtime module (`archspec.parallel`)
and every generated file map the same style names onto `torch.distributed.tensor.parallel`
styles, so the layout is decided once, here.

Mixture-of-experts layers and recurrent blocks (Griffin) are *replicated* under tensor parallelism (each rank runs the router
and every expert on the gathered sequence, then keeps its own part of the output); FSDP still
shards their parameters across data-parallel ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.load.yaml import Path
from archspec.plan.types import (
    AttentionPlan,
    FfnPlan,
    LayerPlan,
    ModelPlan,
    RecurrentPlan,
    refuse_encoder_decoder,
)
from archspec.spec.parallel_checks import SplitSizes, split_rules

STYLES: dict[str, str] = {
    "vocab_embed": "embedding rows split across ranks; output split along the sequence",
    "norm": "sequence parallel: normalises this rank's part of the sequence",
    "head_norm": "per-head norm on this rank's heads (its weight is replicated)",
    "gather": "branch input: the sequence parts gathered into the whole sequence",
    "colwise": "output features split across ranks (heads, hidden units)",
    "rowwise": "input features split; the sum reduce-scattered along the sequence",
    "replicated": "the whole module on every rank, on the gathered sequence; output split again",
    "vocab_head": "output head rows (vocabulary) split; logits gathered, or kept split for a "
    "vocabulary-parallel loss",
}
"""Every style name a layout uses, with what it does."""


Styles = tuple[tuple[str, str], ...]
"""(module path, style) pairs; styles are keys of STYLES."""


@dataclass(frozen=True)
class ParallelLayout:
    """How one model is split across a (dp x tp) device mesh.

    Tensor parallelism applies `top` and, to each block ``layers.{i}``, the paths of
    ``blocks[layer_blocks[i]]`` (relative to the block); FSDP2 shards each block, then the root.
    """

    top: Styles
    """Styles of the modules outside the blocks (embedding, final norm, output head)."""
    blocks: tuple[Styles, ...]
    """The distinct block layouts, paths relative to the block."""
    layer_blocks: tuple[int, ...]
    """Which of `blocks` each layer uses."""
    tied: bool
    """The output head shares the embedding's weight: re-tie it after splitting both."""

    @property
    def styles(self) -> Styles:
        """Every (module path, style) pair, with full paths."""
        inner = tuple(
            (f"layers.{i}.{path}", style)
            for i, b in enumerate(self.layer_blocks)
            for path, style in self.blocks[b]
        )
        return self.top + inner


def parallel_layout(plan: ModelPlan) -> ParallelLayout:
    """The tensor-parallel styles of ``plan``'s modules.

    Paths are the module attributes shared by the runtime module and the generated file; norms
    that a layer lacks are not listed.
    """
    refuse_encoder_decoder(plan, "tensor parallelism")
    top: list[tuple[str, str]] = [("embed", "vocab_embed")]
    if plan.final_norm is not None:
        top.append(("final_norm", "norm"))
    top.append(("lm_head", "vocab_head"))
    per_layer = [tuple(_layer(layer)) for layer in plan.layers]
    blocks = tuple(dict.fromkeys(per_layer))
    return ParallelLayout(
        top=tuple(top),
        blocks=blocks,
        layer_blocks=tuple(blocks.index(b) for b in per_layer),
        tied=plan.tie_embeddings,
    )


def _layer(layer: LayerPlan) -> list[tuple[str, str]]:
    norms = [
        (name, norm)
        for name, norm in (
            ("attn_norm", layer.attn_norm),
            ("attn_post_norm", layer.attn_post_norm),
            ("ffn_norm", layer.ffn_norm),
            ("ffn_post_norm", layer.ffn_post_norm),
        )
        if norm is not None
    ]
    out = [(name, "norm") for name, _ in norms]
    out += _mixer(layer.mixer, "attn")
    out += _ffn(layer.ffn, "ffn")
    return out


def _mixer(mixer: AttentionPlan | RecurrentPlan, prefix: str) -> list[tuple[str, str]]:
    """Attention splits by heads; a recurrent block is replicated, like a mixture of experts
    (each rank runs the whole recurrence on the gathered sequence)."""
    if isinstance(mixer, RecurrentPlan):
        return [(prefix, "replicated")]
    return _attention(mixer, prefix)


def _attention(att: AttentionPlan, prefix: str) -> list[tuple[str, str]]:
    out = [(prefix, "gather")]
    out += [(f"{prefix}.{p}", "colwise") for p in ("q_proj", "k_proj", "v_proj")]
    out.append((f"{prefix}.o_proj", "rowwise"))
    if att.qk_norm is not None:
        # A per-head norm sees whole heads on each rank; a norm over the whole projection would
        # need every head (`tp_issues` rejects it).
        out += [(f"{prefix}.q_norm", "head_norm"), (f"{prefix}.k_norm", "head_norm")]
    return out


def _ffn(ffn: FfnPlan, prefix: str) -> list[tuple[str, str]]:
    if ffn.moe:
        return [(prefix, "replicated")]
    names = ("gate_proj", "up_proj") if ffn.gated else ("up_proj",)
    out = [(prefix, "gather")]
    out += [(f"{prefix}.{p}", "colwise") for p in names]
    out.append((f"{prefix}.down_proj", "rowwise"))
    return out


def tp_problems(plan: ModelPlan, tp: int) -> list[tuple[Path, str]]:
    """Every way ``plan`` cannot be split across ``tp`` tensor-parallel ranks (deduplicated)."""
    if plan.encoder is not None:
        return [((), "tensor parallelism does not support encoder-decoder models yet")]
    out: list[tuple[Path, str]] = []
    for layer in plan.layers:
        att, ffn = layer.mixer, layer.ffn
        recurrent = isinstance(att, RecurrentPlan)  # replicated: nothing to split
        sizes = SplitSizes(
            n_heads=0 if recurrent else att.n_heads,
            n_kv_heads=0 if recurrent else att.n_kv_heads,
            hidden_dim=0 if ffn.moe else ffn.hidden_dim,
            whole_projection_qk_norm=not recurrent
            and att.qk_norm is not None
            and not att.qk_norm.per_head,
            vocab_rows=plan.vocab_rows,
            position=plan.position,
            ternary=bool(att.linear_kinds or ffn.linear_kinds),
            sub_norm=att.sub_norm is not None or ffn.sub_norm is not None,
        )
        out += [problem for problem in split_rules(tp, sizes) if problem not in out]
    return out
