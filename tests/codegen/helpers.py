"""Helpers for the code-generation tests: load a generated file as a module, run ruff on files,
and the archspec bugs that property tests step around until they are fixed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from archspec.codegen.emit import context, emit_code
from archspec.plan.lower import lower
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


def ruff(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``ruff ARGS --config <repo>/pyproject.toml`` in a subprocess."""
    cmd = [sys.executable, "-m", "ruff", *map(str, args), "--config", str(PYPROJECT)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)


def ruff_problems(*paths: Path) -> str:
    """What `ruff format --check` and `ruff check` say about ``paths`` (empty when both pass)."""
    out = []
    fmt = ruff("format", "--check", "--diff", *paths)
    if fmt.returncode != 0:
        out.append(f"ruff format --check failed:\n{fmt.stdout}{fmt.stderr}")
    lint = ruff("check", "--no-cache", "--output-format", "concise", *paths)
    if lint.returncode != 0:
        out.append(f"ruff check failed:\n{lint.stdout}{lint.stderr}")
    return "\n".join(out)


# --- known archspec bugs ---------------------------------------------------------------------
# Each has a strict xfail test named in its comment; property tests `assume` these away so that
# they keep checking everything else. When a fix lands, the xfail test XPASSes (and fails, being
# strict): delete the xfail marker and the predicate here.


def nongated_moe(spec: ModelSpec) -> bool:
    """Codegen emits a SyntaxError for a mixture of non-gated experts (moe.j2: trim_blocks eats
    the newline after `{% include "act.j2" %}`). See test_emit.py::test_nongated_moe_compiles."""
    return any(layer.ffn.moe and not layer.ffn.gated for layer in lower(spec).layers)


def ntk_rotary_dim_2(spec: ModelSpec) -> bool:
    """NTK scaling divides by rotary_dim - 2: a valid spec with 2 rotary dims cannot be built
    (RopePlan.base). See tests/plan/test_lower.py::test_ntk_scaling_with_two_rotary_dims."""
    rope = lower(spec).rope
    return rope is not None and rope.scaling == "ntk" and rope.rotary_dim == 2


def yarn_theta_1(spec: ModelSpec) -> bool:
    """YaRN's correction range divides by log(theta): theta = 1 (valid in the schema) cannot be
    built. See tests/nn/test_components.py::test_yarn_with_theta_one."""
    rope = lower(spec).rope
    return rope is not None and rope.scaling == "yarn" and rope.theta == 1.0


def runtime_known_bug(spec: ModelSpec) -> bool:
    """Valid specs the runtime module cannot be built for (a known bug)."""
    return ntk_rotary_dim_2(spec) or yarn_theta_1(spec)


def codegen_known_bug(spec: ModelSpec) -> bool:
    """Valid specs whose runtime module or generated code fails for a known reason."""
    return runtime_known_bug(spec) or nongated_moe(spec)


def ruff_known_bug(spec: ModelSpec) -> bool:
    """Specs whose generated file ruff rejects for a known reason (test_emit.py::test_ruff_known_failures)."""
    plan = lower(spec)
    if codegen_known_bug(spec):
        return True
    if any(layer.ffn.moe and layer.ffn.gated and layer.ffn.bias for layer in plan.layers):
        return True  # test_ruff_known_failures[gated_moe_with_bias]
    if plan.rope is not None and plan.rope.scaling in ("yarn", "llama3"):
        return True  # test_ruff_known_failures[yarn_scaling], [llama3_scaling]
    if len(plan.windows) >= 3:
        return True  # test_ruff_known_failures[three_windows]
    if plan.position in ("alibi", "none"):
        return True  # test_ruff_known_failures[alibi_positions_unused], [alibi_two_windows], ...
    for layer in plan.layers:
        qk = layer.attention.qk_norm
        if qk is not None and not qk.per_head and qk.q.class_name != "RMSNorm":
            return True  # test_ruff_known_failures[projection_qk_norm]
    # test_ruff_known_failures[two_unit_offset_norms]
    norms = context(spec, plan, None)["norms"].values()
    return sum(norm.unit_offset for norm in norms) > 1
