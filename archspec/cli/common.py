"""What the CLI modules share, below all of them: exit codes and loading several specs at once."""

from __future__ import annotations

from archspec.errors import SpecError
from archspec.spec.load import load_spec
from archspec.spec.model import ModelSpec

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
"""Exit status: 0 success, 1 invalid spec (or a failed check), 2 usage error."""


def load_all(refs: list[str]) -> list[ModelSpec]:
    """Load every spec, gathering the problems of all of them before failing."""
    specs, issues = [], []
    for ref in refs:
        try:
            specs.append(load_spec(ref))
        except SpecError as err:
            issues += err.issues
    if issues:
        raise SpecError(issues)
    return specs
