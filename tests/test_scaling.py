"""Scaling as a check: per-instance cost at a larger N over that at a smaller one, in one run.

A ratio measured in the same run on the same machine is the one timing allowed to fail a test:
it survives the noise that makes absolute times useless, and catches what only shows at size
(a scan per call, a plan that goes bad as tables grow). Each scenario of scenarios/ is timed at
its two `scaling_sizes` (median of 3 interleaved rounds); the threshold is the scenario's
(default 3x, generous: a sound build stays near 1x). A planted scan-per-call fault must fail it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_cases import SCENARIO_DIR

from harness.databases.pool import DatabasePool
from harness.perf.scaling import SweepPoint, check_scaling, measure_scaling
from harness.scenarios.scenario import discover_scenarios, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCAN_PER_CALL = ROOT / "tests" / "faults" / "scaling" / "orchestrator_scans_per_call.sql"
SEED = ROOT / "scenarios" / "seed-50000x-03.toml"


def _point(n: int, per_instance_us: float) -> SweepPoint:
    return SweepPoint(n, per_instance_us * n / 1e6, True, 0.0)


def test_check_fails_above_the_threshold_with_both_figures() -> None:
    check = check_scaling([_point(100, 200), _point(1000, 250), _point(10000, 700)], 3.0, 10)
    assert check.passed is False
    assert check.evidence["smallest"] == {"n": 100, "per_instance_us": 200.0}
    assert check.evidence["largest"] == {"n": 10000, "per_instance_us": 700.0}
    assert check.evidence["ratio"] == 3.5 and check.evidence["step"] == 100
    assert "x3.50" in check.describe() and "N=10,000" in check.describe()


def test_check_holds_at_or_below_the_threshold() -> None:
    assert check_scaling([_point(20, 400), _point(10000, 600)], 3.0, 10).passed is True
    assert check_scaling([_point(100, 100), _point(1000, 300)], 3.0, 10).passed is True  # exactly 3x


@pytest.mark.parametrize(("points", "reason"), [
    ([_point(100, 100)], "two or more N"),
    ([_point(100, 100), _point(500, 900)], "x5 in this sweep"),
    ([_point(100, 100), SweepPoint(1000, 0.0, False, 0.0)], "two or more N"),  # a failed transaction
])
def test_check_is_not_run_rather_than_held_when_it_cannot_judge(points: list[SweepPoint], reason: str) -> None:
    check = check_scaling(points, 3.0, 10)
    assert check.passed is None and check.verdict == "NOT RUN" and reason in check.reason


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.name) for s in discover_scenarios(SCENARIO_DIR)])
def test_per_instance_cost_scales(scenario, iu_pool: DatabasePool) -> None:
    check = measure_scaling(iu_pool, scenario)
    assert check.passed, check.describe()


@pytest.fixture
def scan_per_call_pool(iu_pool: DatabasePool):
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, extra_sql=(SCAN_PER_CALL,)))
    yield pool
    pool.close()


def test_a_scan_per_call_fails_the_scaling_test(scan_per_call_pool: DatabasePool) -> None:
    # A fault far above the noise (the fault file) and the median of 3 interleaved rounds (small, large,
    # ...): a burst of load that hits one short small-N run cannot pull the ratio under the x3 threshold
    # (one round once measured x2.46 at load 3; now x5.6 and x6.5 at load 8 on 2 cores).
    check = measure_scaling(scan_per_call_pool, load_scenario(SEED), rounds=3)
    assert check.passed is False, check.describe()


def test_a_scan_per_call_fails_the_run_with_both_figures(tmp_path: Path) -> None:
    """`iu-harness run` over a 10x step of N exits 1 naming the check, every invariant held."""
    done = subprocess.run([str(Path(sys.executable).parent / "iu-harness"), "run", str(SEED), "--n", "100,1000",
                           "--no-floor", "--no-rollback", "--report-dir", str(tmp_path),
                           "--iu-extra-sql", str(SCAN_PER_CALL)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "scaling_per_instance_cost: FAIL" in done.stdout
    assert all(json.loads((tmp_path / f"seed-50000x-03-n{n}.json").read_text())["passed"] for n in (100, 1000))
    (check,) = json.loads((tmp_path / "seed-50000x-03-sweep.json").read_text())["checks"]
    assert check["name"] == "scaling_per_instance_cost" and check["passed"] is False
    assert check["evidence"]["ratio"] > 3.0
    assert {check["evidence"]["smallest"]["n"], check["evidence"]["largest"]["n"]} == {100, 1000}
    assert "**FAIL**" in (tmp_path / "seed-50000x-03-sweep.md").read_text()
