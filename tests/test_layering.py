"""The torch-free layers stay torch-free, and lower layers never import higher ones."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "archspec"

TORCH_FREE = [
    "archspec",
    "archspec.errors",
    "archspec.load.yaml",
    "archspec.spec.model",
    "archspec.spec.load",
    "archspec.spec.dump",
    "archspec.analysis.params",
    "archspec.analysis.compute",
    "archspec.analysis.diff",
    "archspec.plan.lower",
    "archspec.codegen.emit",
    "archspec.draw",
    "archspec.draw.raster",
    "archspec.report",
    "archspec.cli.draw",
    "archspec.hf",
    "archspec.hf.config",
    "archspec.cli.main",
    "archspec.cli.commands",
]


def test_torch_free_packages_do_not_import_torch() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {TORCH_FREE!r}:\n"
        "    importlib.import_module(name)\n"
        "import archspec\n"
        "archspec.count_params(archspec.load_spec('gemma-7b'))\n"
        "archspec.emit_code(archspec.load_spec('gemma2-9b'))\n"
        "from archspec.draw import draw\n"
        "from archspec.plan.lower import lower\n"
        "from archspec.report import report\n"
        "draw([lower(archspec.load_spec('gemma2-9b'))])\n"
        "report([archspec.load_spec('mixtral-8x7b'), archspec.load_spec('phi-2')])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "argv",
    [
        ["params", "gemma-7b", "--json"],
        ["diff", "gemma-7b", "llama2-7b", "olmo-7b"],
        ["validate", "gpt2"],
        ["show", "gemma2-9b"],
        ["list"],
        ["schema"],
        ["export-hf", "llama2-7b"],
        ["build", "gpt2", "--emit", "code", "--check"],
        ["draw", "gemma2-9b", "phi-2"],
        ["report", "gemma2-9b", "mixtral-8x7b", "--seq-len", "1024"],
    ],
    ids=lambda argv: argv[0],
)
def test_cli_commands_without_torch(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from archspec.cli.main import main\n"
        f"rc = main({argv!r})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "sys.exit(0 if rc in (0, 1) else rc)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, cwd=PACKAGE.parent
    )


LAYERS = {
    "errors": 0,
    "fileio": 0,
    "load": 1,
    "spec": 2,
    "analysis": 3,
    "plan": 4,
    "nn": 5,
    "codegen": 5,
    "draw": 5,
    "report": 6,
    "parallel": 5,
    "train": 6,
    "hf": 6,
    "cli": 7,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archspec."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("archspec.")}
    return names


def test_lower_layers_never_import_higher_ones() -> None:
    bad = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).parts
        layer = rel[0].removesuffix(".py") if len(rel) > 1 or rel[0] != "__init__.py" else None
        if layer not in LAYERS:
            continue
        for imported in _imports(path):
            if imported in LAYERS and LAYERS[imported] > LAYERS[layer]:
                bad.append(f"{path.relative_to(PACKAGE)} imports archspec.{imported}")
    assert not bad, "\n".join(bad)
