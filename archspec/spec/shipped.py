"""Find the specs shipped with archspec by name."""

from __future__ import annotations

from pathlib import Path


def shipped_dir() -> Path:
    """The folder of shipped specs: inside the wheel, or the repository's `specs/` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "specs"
    return packaged if packaged.is_dir() else here.parent / "specs"


def shipped_names() -> list[str]:
    """Names of every shipped spec, sorted."""
    return sorted(p.stem for p in shipped_dir().glob("*.yaml"))


def find_spec(ref: str, relative_to: Path | None = None) -> Path | None:
    """Resolve a spec reference: a path (relative to ``relative_to`` if given) or a shipped name."""
    candidates = []
    base = relative_to if relative_to is not None else Path.cwd()
    candidates.append(base / ref)
    if not ref.endswith((".yaml", ".yml")):
        candidates.append(base / f"{ref}.yaml")
    if "/" not in ref and "\\" not in ref:
        candidates.append(shipped_dir() / (ref if ref.endswith(".yaml") else f"{ref}.yaml"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None
