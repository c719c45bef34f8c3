"""Helpers for the code-generation tests: load a generated file as a module, run ruff on files,
and the archspec bugs that property tests step around until they are fixed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from archspec.codegen.emit import emit_code
from archspec.spec.model import ModelSpec

REPO = Path(__file__).resolve().parents[2]
"""The repository root: its `pyproject.toml` holds the ruff settings generated files follow."""
PYPROJECT = REPO / "pyproject.toml"
GENERATED = REPO / "generated"


def exec_source(src: str, name: str = "generated_model") -> types.ModuleType:
    """Execute generated source as a fresh module (not registered in ``sys.modules``)."""
    module = types.ModuleType(name)
    exec(compile(src, f"<{name}>", "exec"), module.__dict__)
    return module


def load_generated(spec: ModelSpec) -> types.ModuleType:
    """``emit_code(spec)`` executed as a module."""
    return exec_source(emit_code(spec))


def import_file(path: Path) -> types.ModuleType:
    """Import a committed generated file by path, as a module named after it."""
    loader_spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    return module


def ruff_available() -> bool:
    return importlib.util.find_spec("ruff") is not None


needs_ruff = pytest.mark.skipif(not ruff_available(), reason="ruff is not installed (test extra)")


RUFF_CONFIGS = {"repository": ("--config", str(PYPROJECT)), "defaults": ("--isolated",)}
"""Generated files pass under this repository's settings and under ruff's defaults (88 columns,
default rules), so they stay clean wherever they land."""


def ruff(*args: str | Path, config: str = "repository") -> subprocess.CompletedProcess[str]:
    """Run ``ruff ARGS`` with the repository's pyproject.toml or (``"defaults"``) --isolated."""
    cmd = [sys.executable, "-m", "ruff", *map(str, args), *RUFF_CONFIGS[config]]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)


def ruff_problems(*paths: Path) -> str:
    """What `ruff format --check` and `ruff check` say about ``paths`` under each of
    RUFF_CONFIGS (empty when all pass)."""
    out = []
    for config in RUFF_CONFIGS:
        fmt = ruff("format", "--check", "--diff", *paths, config=config)
        if fmt.returncode != 0:
            out.append(f"ruff format --check ({config}) failed:\n{fmt.stdout}{fmt.stderr}")
        lint = ruff("check", "--no-cache", "--output-format", "concise", *paths, config=config)
        if lint.returncode != 0:
            out.append(f"ruff check ({config}) failed:\n{lint.stdout}{lint.stderr}")
    return "\n".join(out)
