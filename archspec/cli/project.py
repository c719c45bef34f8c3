"""The project a command runs in: the nearest folder above the working directory holding a
`pyproject.toml`, and its spec and generated-code folders.

```toml
[tool.archspec]
specs = "specs"          # where `archspec build` with no SPEC finds the specs (*.yaml)
generated = "generated"  # where `archspec build --emit code` writes (default for -o)
```

Both keys are optional, relative to the project root, and default to the values shown.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from archspec.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULTS = {"specs": "specs", "generated": "generated"}


@dataclass(frozen=True)
class Project:
    """Where a project keeps its specs and generated files."""

    root: Path
    specs: Path
    generated: Path

    def spec_files(self) -> list[Path]:
        """Every `*.yaml` directly in the specs folder, sorted by name."""
        return sorted(self.specs.glob("*.yaml"))


def find_project(start: Path | None = None) -> Project | None:
    """The project holding ``start`` (default: the working directory), or None outside one."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            return _read(folder, pyproject)
    return None


def _read(root: Path, pyproject: Path) -> Project:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{pyproject}: cannot read it: {err}") from None
    table = data.get("tool", {}).get("archspec", {})
    if not isinstance(table, dict):
        raise UsageError(f"{pyproject}: [tool.archspec] must be a table")
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise UsageError(
            f"{pyproject}: unknown key(s) in [tool.archspec]: {', '.join(unknown)} "
            f"(known: {', '.join(DEFAULTS)})"
        )
    folders = {}
    for key, default in DEFAULTS.items():
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise UsageError(f"{pyproject}: [tool.archspec] {key} must be a folder name (a string)")
        folders[key] = root / value
    return Project(root, folders["specs"], folders["generated"])
