"""The committed `generated/` folder: one file per shipped spec, up to date, ruff-clean, the same
model as the runtime module; and `archspec build --check`, which guards it."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from archspec import load_spec
from archspec.analysis.params import count_params
from archspec.cli.main import main
from archspec.codegen.emit import emit_code, module_filename
from archspec.nn.model import build_model
from archspec.spec.shipped import shipped_names
from tests.codegen.helpers import GENERATED, REPO, import_file, needs_ruff, ruff_problems

SHIPPED = shipped_names()
REGENERATE = "archspec build specs/*.yaml --emit code"


def committed_path(name: str) -> Path:
    return GENERATED / module_filename(load_spec(name))


@pytest.mark.parametrize("name", SHIPPED)
def test_committed_file_is_up_to_date(name: str) -> None:
    path = committed_path(name)
    fresh = emit_code(load_spec(name), source_path=f"specs/{name}.yaml")
    if not path.is_file():
        pytest.fail(f"generated/{path.name} is missing: run `{REGENERATE}` and commit the result")
    committed = path.read_text(encoding="utf-8")
    if committed != fresh:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(True),
                fresh.splitlines(True),
                f"generated/{path.name} (committed)",
                f"generated/{path.name} (emit_code now)",
                n=2,
            )
        )
        pytest.fail(
            f"generated/{path.name} is stale: specs/{name}.yaml or the code generator changed.\n"
            f"Run `{REGENERATE}` and commit the result.\n{diff[:4000]}",
            pytrace=False,
        )


def test_generated_folder_holds_only_shipped_models() -> None:
    expected = {committed_path(name).name for name in SHIPPED}
    present = {p.name for p in GENERATED.glob("*.py")}
    assert not present - expected, f"generated files without a shipped spec: {present - expected}"
    assert not expected - present, f"shipped specs without a generated file: run `{REGENERATE}`"


def test_generated_folder_is_marked_generated_for_git() -> None:
    attributes = (REPO / ".gitattributes").read_text(encoding="utf-8")
    assert "generated/** linguist-generated=true" in attributes.splitlines()


@needs_ruff
def test_committed_files_pass_ruff() -> None:
    assert ruff_problems(GENERATED) == ""


@pytest.mark.parametrize("name", SHIPPED)
def test_committed_file_builds_the_runtime_models_structure(name: str) -> None:
    spec = load_spec(name)
    generated = import_file(committed_path(name)).build_model(device="meta")
    runtime = build_model(spec, device="meta")
    want = {k: tuple(v.shape) for k, v in runtime.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in generated.state_dict().items()}
    assert got == want
    assert sum(p.numel() for p in generated.parameters()) == count_params(spec).total
    assert all(p.is_meta for p in generated.parameters())


def test_build_check_passes_on_the_committed_folder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented command, from the repository root."""
    monkeypatch.chdir(REPO)
    paths = [f"specs/{name}.yaml" for name in SHIPPED]
    assert main(["build", *paths, "--emit", "code", "--check"]) == 0, capsys.readouterr().out


def test_build_check_exits_1_when_missing_or_stale_and_never_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    target = out / "gpt2.py"

    assert main(["build", "gpt2", "-o", str(out), "--check"]) == 1  # missing
    assert not target.exists()

    assert main(["build", "gpt2", "-o", str(out)]) == 0
    written = target.read_text(encoding="utf-8")
    assert written == (GENERATED / "gpt2.py").read_text(encoding="utf-8")
    assert main(["build", "gpt2", "-o", str(out), "--check"]) == 0  # fresh
    capsys.readouterr()

    stale = written.replace("D_MODEL = 768", "D_MODEL = 769")
    assert stale != written
    target.write_text(stale, encoding="utf-8")
    assert main(["build", "gpt2", "-o", str(out), "--check"]) == 1
    report = capsys.readouterr()
    assert "-D_MODEL = 769" in report.out and "+D_MODEL = 768" in report.out  # the diff
    assert target.read_text(encoding="utf-8") == stale  # --check only reads
    assert [p.name for p in out.iterdir()] == ["gpt2.py"]  # no temp files left behind
