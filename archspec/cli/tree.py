"""A rich tree of a module's children with parameter counts; identical repeated layers collapse."""

from __future__ import annotations

from rich.tree import Tree
from torch import nn


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _signature(module: nn.Module) -> tuple:
    return tuple((name, tuple(p.shape)) for name, p in module.named_parameters()) + (
        type(module).__name__,
    )


def module_tree(model: nn.Module, title: str) -> Tree:
    """Modules with their class and parameter count; runs of identical list items shown once."""
    tree = Tree(f"[bold]{title}[/]: {type(model).__name__} [cyan]{_count(model):,}[/]")
    _add(tree, model)
    return tree


def _add(node: Tree, module: nn.Module) -> None:
    children = [
        (name, child)
        for name, child in module.named_children()
        if not isinstance(child, nn.Identity)
    ]
    if isinstance(module, nn.ModuleList):
        i = 0
        while i < len(children):
            j = i
            sig = _signature(children[i][1])
            while j + 1 < len(children) and _signature(children[j + 1][1]) == sig:
                j += 1
            name, child = children[i]
            label = name if i == j else f"{name}–{children[j][0]} ({j - i + 1} x)"
            sub = node.add(
                f"{label}: {type(child).__name__} [cyan]{_count(child):,}[/]"
                + (" each" if i != j else "")
            )
            _add(sub, child)
            i = j + 1
        return
    for name, child in children:
        sub = node.add(f"{name}: {type(child).__name__} [cyan]{_count(child):,}[/]")
        _add(sub, child)
