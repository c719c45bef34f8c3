"""Test-wide settings: hypothesis profiles sized for a 2-core machine.

Pick one with ``HYPOTHESIS_PROFILE=ci pytest`` (default: ``ci`` where the ``CI`` variable is set,
else ``dev``). No profile has a deadline: specs are validated with pydantic and shared CI machines
jitter, so timing is not a failure.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

settings.register_profile("ci", max_examples=20, print_blob=True, **_COMMON)
"""CI: few examples per property, and the blob to replay a failure locally."""
settings.register_profile("dev", max_examples=30, **_COMMON)
"""Everyday local runs."""
settings.register_profile("thorough", max_examples=1000, **_COMMON)
"""Before a release, or after touching the schema: ``HYPOTHESIS_PROFILE=thorough``."""

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
