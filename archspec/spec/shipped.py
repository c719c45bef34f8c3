"""Find spec files: a bare name is a shipped spec, a path is a file.

The rule, the same on the command line and in `extends`: a reference that contains a `/` (or
`\\`) or ends in `.yaml`/`.yml` is a path to a file; anything else is the name of a spec shipped
with archspec. A local `gemma-7b.yaml` therefore never shadows the shipped `gemma-7b`; write
`./gemma-7b.yaml` (or `gemma-7b.yaml`) to mean the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

SUFFIXES = (".yaml", ".yml")


def shipped_dir() -> Path:
    """The folder of shipped specs: inside the wheel, or the repository's `specs/` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "specs"
    return packaged if packaged.is_dir() else here.parent / "specs"


def shipped_names() -> list[str]:
    """Names of every shipped spec, sorted."""
    return sorted(p.stem for p in shipped_dir().glob("*.yaml"))


def is_path(ref: str) -> bool:
    """True when ``ref`` names a file (has a folder separator or a YAML suffix), not a shipped spec."""
    return "/" in ref or "\\" in ref or ref.endswith(SUFFIXES)


def find_spec(ref: str, relative_to: Path | None = None) -> Path | None:
    """The file ``ref`` stands for: a path (relative to ``relative_to``, default the working
    directory; `.yaml` may be left off) or a shipped name. None when there is no such file."""
    if not ref or "\x00" in ref:
        return None
    if not is_path(ref):
        if ref in (".", ".."):
            return None
        candidate = shipped_dir() / f"{ref}.yaml"
        return candidate if candidate.is_file() else None
    base = relative_to if relative_to is not None else Path.cwd()
    candidates = [base / ref]
    if not ref.endswith(SUFFIXES):
        candidates.append(base / f"{ref}.yaml")
    for candidate in candidates:
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


def not_found(ref: str, relative_to: Path | None = None) -> str:
    """Why ``ref`` names nothing, with a did-you-mean among shipped names or the file meant."""
    if is_path(ref):
        where = "" if relative_to is None else " (a path is relative to the spec that names it)"
        return f"no spec file '{ref}'{where}"
    message = f"no shipped spec named '{ref}'"
    base = relative_to if relative_to is not None else Path.cwd()
    local = next((f"{ref}{s}" for s in SUFFIXES if (base / f"{ref}{s}").is_file()), None)
    if local is not None:
        return message + f"; for the file write '{local}' (a bare name is a shipped spec)"
    close = [f"'{name}'" for name in difflib.get_close_matches(ref, shipped_names(), 3, 0.6)]
    if close:
        either = ", ".join(close[:-1]) + " or " + close[-1] if len(close) > 1 else close[0]
        return message + f" (did you mean {either}?)"
    return message + " (`archspec list` names the shipped specs)"
