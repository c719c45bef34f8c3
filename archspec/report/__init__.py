"""The HTML report of specs: diagrams, diff, parameter, memory and compute charts (torch-free)."""

from __future__ import annotations

from archspec.report.page import report

__all__ = ["report"]
