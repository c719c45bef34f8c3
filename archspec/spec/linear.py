"""The `linear:` section resolved per projection, and the rules it must follow.

Pure functions of the spec: which block projections are of which linear kind. Counting,
lowering, the HF family and the parallel planner ask these, so they agree on every choice.
"""

from __future__ import annotations

from archspec.spec import adapters, resolve
from archspec.spec.model import ModelSpec

Path = tuple[str | int, ...]

BLOCK_PROJECTIONS = adapters.ALL_LINEAR
"""The seven projections of a block a linear kind may apply to."""


def kind_name(spec: ModelSpec) -> str:
    """The spec's non-dense linear kind, or `dense`."""
    return "dense" if spec.linear is None else spec.linear.kind


def projections(spec: ModelSpec) -> tuple[str, ...]:
    """The block projections of the spec's non-dense linear kind (none for dense)."""
    linear = spec.linear
    if linear is None or linear.kind == "dense":
        return ()
    wanted = BLOCK_PROJECTIONS if linear.projections is None else set(linear.projections)
    return tuple(name for name in BLOCK_PROJECTIONS if name in wanted)


def kind(spec: ModelSpec, name: str) -> str:
    """The kind of block projection ``name`` (`dense` for the head and router)."""
    return kind_name(spec) if name in projections(spec) else "dense"


def linear_issues(spec: ModelSpec) -> list[tuple[Path, str]]:
    """Every problem of the `linear:` section, with the path of the field at fault."""
    linear = spec.linear
    if linear is None or linear.kind == "dense":
        return []
    issues: list[tuple[Path, str]] = []
    here: Path = ("linear",)
    listed = linear.projections or []
    for k, name in enumerate(listed):
        if name in listed[:k]:
            issues.append((here + ("projections", k), f"projection {name!r} is listed twice"))
    chosen = projections(spec)
    if spec.adapters is not None:
        adapted = [n for n in adapters.targets(spec.adapters) if n in chosen]
        if adapted:
            issues.append(
                (
                    here + ("kind",),
                    f"adapters on a {linear.kind} projection ({', '.join(adapted)}) are not "
                    "supported: an adapter needs a frozen dense base weight; leave those "
                    "projections dense (`linear.projections`) or drop them from "
                    "`adapters.targets`",
                )
            )
    moe = any(layer.ffn.moe is not None for layer in resolve.layer_specs(spec))
    ffn = [n for n in chosen if n in adapters.FFN]
    if moe and ffn:
        issues.append(
            (
                here + ("projections",),
                f"{linear.kind} on the experts ({', '.join(ffn)}) of a mixture of experts is not "
                "supported; list only attention projections in `linear.projections`",
            )
        )
    return issues
