"""README.md stays true: its reference matches the schema, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

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
