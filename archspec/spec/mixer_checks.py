"""Cross-field rules of the mixer axis: a recurrent layer needs the `recurrent` section, and the
section's sizes must fit its block-diagonal gates."""

from __future__ import annotations

from archspec.spec import resolve
from archspec.spec.model import ModelSpec

Path = tuple[str | int, ...]


def mixer_issues(spec: ModelSpec, layers: tuple[resolve.LayerSpec, ...]) -> list[tuple[Path, str]]:
    """Every violated rule of the recurrent mixer as ``(field path, message)`` pairs."""
    recurrent = [layer.index for layer in layers if layer.mixer == "recurrent"]
    section = spec.recurrent
    if recurrent and section is None:
        where: Path = ("mixer",) if spec.mixer == "recurrent" else ("layer_overrides",)
        return [
            (
                where,
                f"layers {_few(recurrent)} are recurrent but the spec has no `recurrent` section "
                "(give at least `recurrent: {width: ..., n_heads: ...}`)",
            )
        ]
    if section is None:
        return []
    if recurrent and spec.adapters is not None:
        return [(("adapters",), "adapters on recurrent layers are not supported yet")]
    issues: list[tuple[Path, str]] = []
    if section.width % section.n_heads:
        issues.append(
            (
                ("recurrent", "n_heads"),
                f"recurrent.width ({section.width}) must be divisible by recurrent.n_heads "
                f"({section.n_heads}): the RG-LRU gates are {section.n_heads} square blocks",
            )
        )
    return issues


def _few(indices: list[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:6])
    return shown + (", ..." if len(indices) > 6 else "")
