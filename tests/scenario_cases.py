"""The (scenario, N) cases of scenarios/, shared by the scaleout tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig
from harness.scenarios.scenario import Scenario, discover_scenarios

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def scenario_cases() -> list[object]:
    """One pytest param per scenario and N (`<scenario>-n<N>`); slow_sweep-only sizes are marked slow."""
    return [pytest.param(scenario, n, id=f"{scenario.name}-n{n}",
                         marks=[pytest.mark.slow] if n in scenario.slow_sweep and n not in scenario.sweep else [])
            for scenario in discover_scenarios(SCENARIO_DIR) for n in scenario.all_sizes()]


def skip_unless_selected(scenario: Scenario, n: int, config: HarnessConfig) -> None:
    """Slow sizes run only up to --iu-max-n; otherwise the test is reported skipped, never passed."""
    if n not in scenario.sizes_within(config.max_n):
        pytest.skip(f"N={n:,} is in {scenario.name}'s slow_sweep: run it with --iu-max-n {n}")
