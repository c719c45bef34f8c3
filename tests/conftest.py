"""Test-wide settings: hypothesis profiles sized for a 2-core machine, one torch thread per test.

Pick one with ``HYPOTHESIS_PROFILE=ci pytest`` (default: ``ci`` where the ``CI`` variable is set,
else ``dev``). No profile has a deadline: specs are validated with pydantic and shared CI machines
jitter, so timing is not a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

settings.register_profile("ci", max_examples=20, print_blob=True, **_COMMON)
"""CI: few examples per property, and the blob to replay a failure locally."""
settings.register_profile("dev", max_examples=30, **_COMMON)
"""Everyday local runs."""
settings.register_profile("thorough", max_examples=1000, **_COMMON)
"""Before a release, or after touching the schema: ``HYPOTHESIS_PROFILE=thorough``."""
settings.register_profile("fuzz-long", max_examples=2000, **_COMMON)
"""The hostile-input suite at length (tests/fuzz): ``HYPOTHESIS_PROFILE=fuzz-long pytest tests/fuzz``."""

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The test models are tiny: intra-op threads only add contention on a small shared machine
    (measured: a forward of 3 ms on one thread took 1-6 s on two while another pytest ran).
    torch is imported only by tests that already use it."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
