"""README.md stays true: its reference matches the schema, and CI runs its test command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.spec.reference import BEGIN, END, markdown_reference

ROOT = Path(__file__).resolve().parent.parent


def test_spec_reference_in_readme_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == markdown_reference(), (
        "README's spec reference is stale: regenerate it with `python -m archspec.spec.reference`"
    )


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(pip install torch==2\.13\.0 .*?)\n```", readme)
    assert len(commands) == 2, "README must show exactly two set-up commands"
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


# --- the README's examples run, and print what the README shows ------------------------------

CONSOLE_WIDTH = 100
"""Terminal width the tour's tables are laid out for (rich reads COLUMNS)."""


def _readme_blocks(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", readme, re.S)


def _sessions() -> list[tuple[str, list[str]]]:
    """Each `$ command` of the README's console blocks with the lines printed under it."""
    sessions: list[tuple[str, list[str]]] = []
    for block in _readme_blocks("console"):
        for line in block.splitlines():
            if line.startswith("$ "):
                sessions.append((line[2:], []))
            else:
                sessions[-1][1].append(line)
    return sessions


def _normalise(lines: list[str]) -> list[str]:
    """Lines with runs of whitespace collapsed and trailing blank lines dropped."""
    out = [" ".join(line.split()) for line in lines]
    while out and not out[-1]:
        out.pop()
    return out


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS=str(CONSOLE_WIDTH))


def test_readme_has_console_examples_and_a_python_snippet() -> None:
    assert len(_sessions()) >= 2
    assert any("archspec.load_spec" in block for block in _readme_blocks("python"))


@pytest.mark.parametrize("command", [c for c, _ in _sessions()], ids=lambda c: c.split()[1])
def test_readme_console_output_is_what_the_cli_prints(command: str, tmp_path: Path) -> None:
    shown = dict(_sessions())[command]
    argv = shlex.split(command)
    assert argv[0] == "archspec"
    result = subprocess.run(
        [sys.executable, "-m", "archspec.cli.main", *argv[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # shipped names resolve from any folder
        env=_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _normalise(result.stdout.splitlines()) == _normalise(shown), (
        f"README shows other output for `{command}`; the CLI prints:\n{result.stdout}"
    )


def test_readme_python_snippets_run_from_any_folder(tmp_path: Path) -> None:
    """Every Python block runs, from a folder outside the repository, except the ones that
    name a placeholder model folder (`path/to/model`) or run under torchrun (tests/parallel
    runs those)."""
    blocks = [b for b in _readme_blocks("python") if "path/to/" not in b and "torchrun" not in b]
    assert blocks
    for block in blocks:
        subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, env=_env(), check=True, timeout=120
        )


def test_readme_command_lines_are_accepted_by_the_cli() -> None:
    """Every `archspec ...` line of the README's bash blocks parses: no flag or command drifts
    (their paths are placeholders, so they are parsed, not run)."""
    from archspec.cli.main import _parser

    lines = [
        line.split("#")[0].split(">")[0].strip()
        for block in _readme_blocks("bash")
        for line in block.splitlines()
        if line.startswith("archspec ")
    ]
    assert len(lines) > 10
    for line in lines:
        args = _parser().parse_args(shlex.split(line)[1:])
        assert args.handler is not None, line
