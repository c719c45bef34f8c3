"""The family modules: one table-like module per `model_type`, below the import/export driver."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import archspec.hf.families as families_pkg
from archspec.hf.families import FAMILIES, SUPPORTED_MODEL_TYPES
from archspec.hf.weights import NAME_TABLES

FAMILY_DIR = Path(families_pkg.__file__).parent
HF_DIR = FAMILY_DIR.parent
ABOVE_FAMILIES = {"archspec.hf.config", "archspec.hf.weights", "archspec.hf.loader", "archspec.hf"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_families_and_their_base_do_not_import_the_driver() -> None:
    """No import circle: families build on keys.py and tables.py, never on config/weights."""
    lower = [*FAMILY_DIR.glob("*.py"), HF_DIR / "keys.py", HF_DIR / "tables.py"]
    for path in lower:
        bad = _imports(path) & ABOVE_FAMILIES
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_one_module_per_family() -> None:
    modules = {p.stem for p in FAMILY_DIR.glob("*.py")} - {"__init__", "base"}
    assert modules == set(FAMILIES)
    for name, family in FAMILIES.items():
        assert family.model_type == name
        assert family.names.model_types == (name,)
    assert SUPPORTED_MODEL_TYPES == tuple(FAMILIES)
    assert {t.name for t in NAME_TABLES} == set(FAMILIES)


def test_families_are_torch_free() -> None:
    code = (
        "import sys\n"
        "import archspec.hf.families, archspec.hf.weights, archspec.hf.config\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
