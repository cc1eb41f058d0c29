"""Project-level pytest setup. The harness's fixtures come from its plugin (pytest11 entry point)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Bounded in CI; IU_HARNESS_HYPOTHESIS=deep for long model-based runs.
settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("deep", max_examples=1000, deadline=None, stateful_step_count=60,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("IU_HARNESS_HYPOTHESIS", "ci"))
