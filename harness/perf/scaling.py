"""How cost grows with N: a least-squares growth exponent, a verdict, a plot, a sweep report.

The exponent is the slope of log(time) against log(N): 1.0 is linear, 2.0
quadratic. Per-instance cost is time / N, so a slope above 1 shows as a
rising per-instance line in the plot.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from harness.databases.pool import Database, DatabasePool
from harness.errors import HarnessError
from harness.run.plan import answered_ok, create_plan, scenario_transaction
from harness.run.results import FloorFigures
from harness.scenarios.scenario import Scenario

SCALING_CHECK = "scaling_per_instance_cost"
LINEAR_TOLERANCE = 0.10  # exponent up to 1.10 counts as linear on a noisy shared machine
TARGET_INSTANCES_PER_S = 5000  # the project's speed target at N = 100,000 (shown, never asserted)


@dataclass(frozen=True)
class SweepPoint:
    """One N of a sweep. The floors (harness/perf/floors.py) are per instance, measured at a sample of N when
    N is large, beside the build's orchestrator timed again there; replay and rollback per instance."""

    n: int
    calls_s: float
    passed: bool
    harness_s: float
    peak_rss_mb: float | None = None
    floors: FloorFigures | None = None
    replay_us: float | None = None
    rollback_us: float | None = None

    @property
    def per_instance_us(self) -> float:
        return self.calls_s / self.n * 1e6  # 0.0 when the calls never ran (a failed transaction)

    @property
    def instances_per_s(self) -> float:
        return self.n / self.calls_s if self.calls_s else 0.0

    @property
    def floor_n(self) -> int | None:
        return self.floors.sample_n if self.floors else None

    @property
    def floor_us(self) -> float | None:
        """The set-based floor per instance."""
        return self.floors.set_based_us if self.floors else None

    @property
    def minimal_us(self) -> float | None:
        return self.floors.minimal_us if self.floors else None

    @property
    def build_sample_us(self) -> float | None:
        """The build's orchestrator per instance, timed beside the minimal one at `floor_n`."""
        return self.floors.build_at_sample_us if self.floors else None

    @property
    def floor_s(self) -> float | None:
        """The set-based floor's time for N instances, from its per-instance cost."""
        return self.floor_us * self.n / 1e6 if self.floor_us else None

    @property
    def floor_ratio(self) -> float | None:
        """Orchestrator time / set-based floor time at `floor_n` (how many times slower)."""
        rate = self.rate_vs_set_based
        return 1 / rate if rate else None

    @property
    def rate_vs_set_based(self) -> float | None:
        """The build's rate as a fraction of the set-based floor's (1.0 = as fast), both at `floor_n`."""
        return self.floors.rate_vs_set_based if self.floors and self.calls_s else None

    @property
    def rate_vs_minimal(self) -> float | None:
        """The build's rate as a fraction of the minimal orchestrator's (1.0 = as fast), side by side
        at `floor_n`: same size, alternating order (harness/perf/floors.py)."""
        return self.floors.rate_vs_minimal if self.floors and self.calls_s else None

    @property
    def replay_vs_ok(self) -> float | None:
        return self.replay_us / self.per_instance_us if self.replay_us and self.calls_s else None

    @property
    def rollback_vs_ok(self) -> float | None:
        return self.rollback_us / self.per_instance_us if self.rollback_us and self.calls_s else None


def growth_exponent(points: list[SweepPoint]) -> float | None:
    """Least-squares slope of log(calls_s) vs log(N); None with fewer than two distinct N."""
    xs = [math.log(p.n) for p in points if p.calls_s > 0]
    ys = [math.log(p.calls_s) for p in points if p.calls_s > 0]
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


@dataclass(frozen=True)
class ScalingCheck:
    """The one timing that may fail a run: a ratio of two costs measured in the same run.

    `passed` is None when it could not judge (fewer than two timed N, or a step of N below
    the scenario's `scaling_min_step`): reported NOT RUN with `reason`, never as held.
    """

    passed: bool | None
    evidence: dict[str, Any]
    reason: str = ""
    name: str = SCALING_CHECK

    @property
    def verdict(self) -> str:
        return "NOT RUN" if self.passed is None else "PASS" if self.passed else "FAIL"

    def describe(self) -> str:
        if self.passed is None:
            return f"{self.name}: NOT RUN ({self.reason})"
        ev = self.evidence
        return (f"{self.name}: {self.verdict}: {ev['largest']['per_instance_us']:.1f} us per instance at "
                f"N={ev['largest']['n']:,} vs {ev['smallest']['per_instance_us']:.1f} us at "
                f"N={ev['smallest']['n']:,}: x{ev['ratio']:.2f} (allowed x{ev['threshold']:g} over a "
                f"x{ev['step']:g} step of N)")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "verdict": self.verdict, "reason": self.reason,
                "evidence": self.evidence}


def check_scaling(points: list[SweepPoint], threshold: float, min_step: int) -> ScalingCheck:
    """Per-instance cost at the largest N over that at the smallest, both from this sweep."""
    timed = sorted((p for p in points if p.calls_s > 0), key=lambda p: p.n)
    rule = {"threshold": threshold, "min_step": min_step}
    if len(timed) < 2:
        return ScalingCheck(None, rule, "needs two or more N whose scenario transaction ran")
    small, large = timed[0], timed[-1]
    step = large.n / small.n
    evidence: dict[str, Any] = {**rule, "step": step,
                "smallest": {"n": small.n, "per_instance_us": round(small.per_instance_us, 3)},
                "largest": {"n": large.n, "per_instance_us": round(large.per_instance_us, 3)},
                "ratio": round(large.per_instance_us / small.per_instance_us, 3)}
    if step < min_step:
        return ScalingCheck(None, evidence, f"N grows only x{step:g} in this sweep (the check needs "
                                            f"x{min_step} or more, e.g. --n 1000,10000)")
    return ScalingCheck(evidence["ratio"] <= threshold, evidence)


def verdict(exponent: float | None) -> str:
    if exponent is None:
        return "not fitted (needs two or more N)"
    if exponent <= 1 + LINEAR_TOLERANCE:
        return f"linear (exponent {exponent:.2f})"
    return (f"SUPER-LINEAR (exponent {exponent:.2f}: per-instance cost grows like N^{exponent - 1:.2f}, "
            f"x{10 ** (exponent - 1):.2f} per tenfold N)")


def time_scenario_transaction(database: Database, scenario: Scenario, n: int) -> float:
    """Seconds the orchestrator calls of one scenario transaction take (gates in-TX, COMMIT).

    The run's calls must all answer 'ok' (a timing of refused calls would mean nothing).
    """
    with database.connect(autocommit=True) as conn:
        create_plan(conn, scenario, n)
        spent = scenario_transaction(conn, scenario, n)
        composed = answered_ok(conn)
    if composed != n:
        raise HarnessError(f"{scenario.name} N={n:,}: only {composed} of {n:,} calls answered 'ok'",
                           fix=f"run `iu-harness run {scenario.path} --n {n}` to see which invariant fails")
    return spent


def measure_scaling(pool: DatabasePool, scenario: Scenario, rounds: int = 3) -> ScalingCheck:
    """The scaling check at the scenario's two `scaling_sizes`: median of `rounds` runs each,
    interleaved (small, large, small, ...) so a burst of load on the machine hits both sizes."""
    small, large = scenario.scaling_sizes
    spent: dict[int, list[float]] = {small: [], large: []}
    for _ in range(rounds):
        for n in (small, large):
            database = pool.clone(scenario.baseline)
            try:
                spent[n].append(time_scenario_transaction(database, scenario, n))
            finally:
                pool.drop(database.name)
    points = [SweepPoint(n, statistics.median(times), True, 0.0) for n, times in spent.items()]
    check = check_scaling(points, scenario.scaling_threshold, min_step=2)
    check.evidence["rounds"] = rounds
    return check
