"""A scenario at every N of a sweep on one server: the runs, their floors, the sweep points and the scaling check.

`run_sweep` is the main workflow as a library function: `iu-harness run` calls it, and so can a test,
and both write the same reports (one per N, and the sweep report with its plot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

from harness.environment import peak_rss_mb
from harness.perf.floors import BUILD_AT_SAMPLE, FLOOR_KINDS, FLOOR_SAMPLE_N, measure_floors
from harness.perf.scaling import ScalingCheck, SweepPoint, check_scaling
from harness.reports.run import write_report
from harness.reports.sweep import write_sweep_report
from harness.run.resources import ResourceLimits
from harness.run.results import FloorFigures, RunResult
from harness.run.runner import run_scenario
from harness.scenarios.scenario import Scenario
from harness.session import HarnessSession


class SweepObserver(Protocol):
    """What a front end shows while a sweep runs (the CLI: a progress bar and a line per N)."""

    def stage(self, n: int, stage: str, done: int, total: int) -> None: ...

    def note(self, text: str) -> None: ...

    def finished(self, result: RunResult, point: SweepPoint, report: Path) -> None: ...


class _Silent:
    def stage(self, n: int, stage: str, done: int, total: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def finished(self, result: RunResult, point: SweepPoint, report: Path) -> None:
        pass


@dataclass(frozen=True)
class SweepOptions:
    rollback: bool = True
    #: Time the floors (set-based INSERTs, the minimal orchestrator, the build beside it) at each N.
    floors: bool = True
    floor_sample: int = FLOOR_SAMPLE_N


@dataclass(frozen=True)
class Sweep:
    scenario: Scenario
    runs: list[RunResult]
    points: list[SweepPoint]
    scaling: ScalingCheck
    #: `<scenario>-sweep.md`, written when the sweep has two or more N.
    report: Path | None

    @property
    def held(self) -> bool:
        """Every invariant held at every N, and the scaling check did not fail."""
        return bool(self.runs) and all(r.passed for r in self.runs) and self.scaling.passed is not False


def measure_floor_figures(session: HarnessSession, scenario: Scenario, n: int,
                          sample_n: int) -> tuple[FloorFigures | None, dict[str, str]]:
    """The floors at min(n, sample_n) instances, per instance; and for a floor that could not run, the reason."""
    timings, failures = measure_floors(session.pool, scenario, n, sample_n)
    if not timings:
        return None, failures
    set_based, minimal = timings.get(FLOOR_KINDS[0]), timings.get(FLOOR_KINDS[1])
    build = timings.get(BUILD_AT_SAMPLE)

    def per_instance(runs: tuple[float, ...], size: int) -> tuple[float, ...]:
        return tuple(seconds / size * 1e6 for seconds in runs)

    figures = FloorFigures(
        sample_n=min(n, sample_n),
        set_based_us=set_based.per_instance_us if set_based else None,
        minimal_us=minimal.per_instance_us if minimal else None,
        build_at_sample_us=build.per_instance_us if build else None,
        minimal_runs_us=per_instance(minimal.runs, minimal.n) if minimal else (),
        build_runs_us=per_instance(build.runs, build.n) if build else ())
    return figures, failures


def sweep_point(result: RunResult) -> SweepPoint:
    """The run's place in the sweep: its cost per instance, its floors, replay and rollback."""
    timings = result.timings
    return SweepPoint(result.n, timings.get("calls_s", 0.0), result.passed, timings.get("harness_s", 0.0),
                      result.peak_rss_mb, result.floors, replay_us=timings.get("replay_per_instance_us"),
                      rollback_us=timings.get("rollback_per_instance_us"))


def run_sweep(session: HarnessSession, scenario: Scenario, sizes: Sequence[int], report_dir: Path,
              environment: dict[str, Any], options: SweepOptions | None = None,
              observer: SweepObserver | None = None) -> Sweep:
    """`scenario` at every N of `sizes`, each on a fresh clone of its baseline: a report per N as it finishes,
    then the sweep report and the scaling check."""
    options = options or SweepOptions()
    observer = observer or _Silent()
    runs: list[RunResult] = []
    points: list[SweepPoint] = []
    for n in sizes:
        observer.stage(n, "provisioning", 0, n)
        try:
            database = session.pool.clone(scenario.baseline)
            def progress(stage: str, done: int, total: int, n: int = n) -> None:
                observer.stage(n, stage, done, total)

            result = run_scenario(database, scenario, n, rollback=options.rollback, progress=progress,
                                  pool=session.pool, limits=ResourceLimits.from_config(session.config))
            session.pool.drop(database.name)
            if options.floors:
                sample = min(n, options.floor_sample)
                observer.stage(n, f"floors at {sample:,}: set-based INSERTs, then minimal and build orchestrators "
                                  "side by side", 0, n)
                result.floors, failures = measure_floor_figures(session, scenario, n, options.floor_sample)
                for kind, reason in failures.items():
                    observer.note(f"  N={n:,}: '{kind}' could not be timed at the floors' size: {reason}")
        except psycopg.Error as exc:  # e.g. a full data folder: say which, and the fix
            explained = session.explain_failure(exc)
            if explained is not None:
                raise explained from exc
            raise
        result.peak_rss_mb = peak_rss_mb()
        point = sweep_point(result)
        path = write_report(result, report_dir, environment)
        runs.append(result)
        points.append(point)
        observer.finished(result, point, path)
    scaling = check_scaling(points, scenario.scaling_threshold, scenario.scaling_min_step)
    report = write_sweep_report(scenario.name, points, report_dir, environment, scaling) if len(points) > 1 else None
    return Sweep(scenario, runs, points, scaling, report)
