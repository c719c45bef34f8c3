"""Can a spec be split across `tp` tensor-parallel ranks? Torch-free, located like other errors.

Tensor parallelism (see `archspec.parallel.layout`) gives each rank whole heads, an equal slice
of the FFN's hidden units and of the vocabulary rows, so those must divide by `tp`. Mixture-of-
experts layers are replicated under tensor parallelism, so the number of experts is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath

from archspec.errors import Issue
from archspec.load.yaml import Path
from archspec.spec import linear, resolve
from archspec.spec.model import ModelSpec


@dataclass(frozen=True)
class SplitSizes:
    """The sizes of one layer (and the model) that tensor parallelism splits."""

    n_heads: int
    n_kv_heads: int
    hidden_dim: int
    """The dense FFN's hidden units (0 for a mixture of experts: replicated, not split)."""
    whole_projection_qk_norm: bool
    vocab_rows: int
    position: str
    ternary: bool = False
    """Some projection is a BitLinear (its absmean spans the whole weight)."""
    sub_norm: bool = False
    """A sub-norm spans every head's output or every hidden unit (BitNet b1.58 2B-4T)."""


def split_rules(tp: int, sizes: SplitSizes) -> list[tuple[Path, str]]:
    """Every way ``sizes`` cannot be split ``tp`` ways, as (field path, what to change)."""
    out: list[tuple[Path, str]] = []
    divisors = _divisors(sizes.n_heads)
    if sizes.n_heads % tp:
        out.append(
            (
                ("attention", "n_heads"),
                f"n_heads ({sizes.n_heads}) does not divide by tp ({tp}): each rank needs whole "
                f"heads; use a tp among {_listed(divisors)}",
            )
        )
    elif sizes.n_kv_heads % tp:
        fits = [d for d in divisors if d % tp == 0]
        fits = [d for d in fits if d % sizes.n_kv_heads == 0] or fits  # copies of each head
        out.append(
            (
                ("attention", "n_kv_heads"),
                f"n_kv_heads ({sizes.n_kv_heads}) does not divide by tp ({tp}): replicate the "
                f"key/value heads to n_kv_heads: {fits[0]} (copies of each head, the same "
                f"model), or use a tp among {_listed(_divisors(sizes.n_kv_heads))}",
            )
        )
    if sizes.hidden_dim % tp:
        up = -(-sizes.hidden_dim // tp) * tp
        out.append(
            (
                ("ffn", "hidden_dim"),
                f"ffn.hidden_dim ({sizes.hidden_dim}) does not divide by tp ({tp}): each rank "
                f"holds hidden_dim / tp units; use a multiple of {tp} (e.g. {up})",
            )
        )
    if sizes.whole_projection_qk_norm:
        out.append(
            (
                ("attention", "qk_norm", "scope"),
                "a QK-norm over the whole projection needs every head on one rank: use scope: "
                "head, or no tensor parallelism",
            )
        )
    if sizes.vocab_rows % tp:
        up = -(-sizes.vocab_rows // (64 * tp)) * 64 * tp
        out.append(
            (
                ("padded_vocab_size",),
                f"the vocabulary rows ({sizes.vocab_rows}) do not divide by tp ({tp}): pad the "
                f"vocabulary, e.g. padded_vocab_size: {up} (a multiple of 64 * tp)",
            )
        )
    if sizes.ternary and tp > 1:
        out.append(
            (
                ("linear", "kind"),
                "bitlinear_b158 is not supported under tensor parallelism: each rank would "
                "scale its shard by the shard's own absmean, not the whole weight's (FSDP, "
                "which gathers whole weights, is fine); use no tensor parallelism",
            )
        )
    if sizes.sub_norm and tp > 1:
        out.append(
            (
                ("attention", "sub_norm"),
                "a sub-norm over every head's output (or every hidden unit) needs them on one "
                "rank: use no tensor parallelism",
            )
        )
    if sizes.position in ("alibi", "learned"):
        out.append(
            (
                ("position", "kind"),
                f"{sizes.position} positions are not supported under tensor parallelism "
                f"(ALiBi's per-head biases and learned positions need the whole sequence or "
                f"every head on each rank): use rope or none",
            )
        )
    return out


def tp_issues(ref: str | FilePath, tp: int) -> list[Issue]:
    """Every problem splitting the spec ``ref`` (a file or shipped name) across ``tp`` ranks,
    located at the line that set the size at fault (a layer override when one did)."""
    from archspec.spec.load import _read_resolved, load_spec
    from archspec.spec.locate import _located
    from archspec.spec.shipped import find_spec

    spec = load_spec(ref)
    path = find_spec(str(ref))
    # load_spec above applied the `extends` folder rule; this second read only finds lines.
    data, marks = _read_resolved(path, (), None)
    issues: list[Issue] = []
    seen: set[str] = set()
    for index, (field, message) in spec_tp_problems(spec, tp):
        if message in seen:
            continue
        seen.add(message)
        if index is not None:
            from archspec.spec.checks import _blame

            field = _blame(spec, index, field)
        if field == ("padded_vocab_size",) and spec.padded_vocab_size is None:
            field = ("vocab_size",)
        issues.append(_located(field, message, data, marks, str(path)))
    return issues


def spec_tp_problems(spec: ModelSpec, tp: int) -> list[tuple[int | None, tuple[Path, str]]]:
    """(layer index or None for model-wide fields, (path, message)) for every split problem."""
    out: list[tuple[int | None, tuple[Path, str]]] = []
    if spec.encoder is not None and tp > 1:
        return [
            (None, (("encoder",), "tensor parallelism does not support encoder-decoder models yet"))
        ]
    for layer in resolve.layer_specs(spec):
        att, ffn = layer.attention, layer.ffn
        recurrent = layer.mixer == "recurrent"  # replicated under TP: nothing to split
        sizes = SplitSizes(
            n_heads=0 if recurrent else att.n_heads,
            n_kv_heads=0 if recurrent else resolve.n_kv_heads(att),
            hidden_dim=0 if ffn.moe else ffn.hidden_dim,
            whole_projection_qk_norm=not recurrent
            and att.qk_norm is not None
            and att.qk_norm.scope != "head",
            vocab_rows=resolve.vocab_rows(spec),
            position=spec.position.kind,
            ternary=bool(linear.projections(spec)),
            sub_norm=att.sub_norm or ffn.sub_norm,
        )
        for field, message in split_rules(tp, sizes):
            model_wide = field[0] not in ("attention", "ffn") or field == ("attention", "sub_norm")
            out.append((None if model_wide else layer.index, (field, message)))
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _listed(values: list[int]) -> str:
    return ", ".join(map(str, values[:12])) + (", ..." if len(values) > 12 else "")
