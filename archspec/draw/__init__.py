"""Pictures of model plans: block diagrams as deterministic SVG (torch-free)."""

from __future__ import annotations

from archspec.draw.figure import draw

__all__ = ["draw"]
