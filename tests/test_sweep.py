"""The sweep as a library (harness/run/sweep.py): pytest calls the function `iu-harness run` calls, on the
session's server, and gets the same reports and the same typed floors."""

from __future__ import annotations

import json
from pathlib import Path

from harness.environment import describe_environment
from harness.run.sweep import SweepOptions, run_sweep
from harness.scenarios.scenario import load_scenario
from harness.session import HarnessSession

ROOT = Path(__file__).resolve().parent.parent


def test_a_sweep_in_pytest_writes_the_reports_the_cli_writes(iu_session: HarnessSession, tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "seed-50000x-03.toml")
    sweep = run_sweep(iu_session, scenario, (20, 40), tmp_path, describe_environment(iu_session),
                      SweepOptions(floor_sample=30))
    assert sweep.held and [r.n for r in sweep.runs] == [20, 40], [r.failure_summary() for r in sweep.runs]
    assert sweep.scaling.passed is None and "x2" in sweep.scaling.reason  # a 2x step: not judged, says why
    for result, point in zip(sweep.runs, sweep.points, strict=True):
        floors = result.floors
        assert floors is not None and floors.sample_n == min(result.n, 30) == point.floor_n
        assert floors.build_at_sample_us and floors.minimal_us and floors.set_based_us
        assert len(floors.minimal_runs_us) == len(floors.build_runs_us) == 2  # minimal, build, build, minimal
        assert point.rate_vs_minimal == floors.minimal_us / floors.build_at_sample_us
        timings = json.loads((tmp_path / f"seed-50000x-03-n{result.n}.json").read_text())["timings"]
        assert timings["floor_sample_n"] == floors.sample_n and timings["peak_rss_mb"] == result.peak_rss_mb
    assert sweep.report == tmp_path / "seed-50000x-03-sweep.md" and sweep.report.is_file()
    points = json.loads((tmp_path / "seed-50000x-03-sweep.json").read_text())["points"]
    assert [p["floor_sample_n"] for p in points] == [20, 30]


def test_a_sweep_without_floors_has_none(iu_session: HarnessSession, tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "seed-50000x-03.toml")
    sweep = run_sweep(iu_session, scenario, (20,), tmp_path, {}, SweepOptions(floors=False))
    assert sweep.held and sweep.report is None  # one N: no sweep report
    assert sweep.runs[0].floors is None and sweep.points[0].floor_n is None
    assert "floor_sample_n" not in json.loads((tmp_path / "seed-50000x-03-n20.json").read_text())["timings"]


def test_the_environment_records_the_servers_jit_and_planner_settings(iu_session: HarnessSession) -> None:
    """Issue 24: a report says whether JIT could start and what moves cost estimates, read from the server."""
    environment = describe_environment(iu_session)
    with iu_session.server.connect() as conn:
        for name in ("jit", "jit_above_cost", "enable_seqscan", "plan_cache_mode"):
            (value,) = conn.execute("SELECT current_setting(%s)", [name]).fetchone()  # type: ignore[misc]
            assert environment[f"server.{name}"] == value, name
        (available,) = conn.execute("SELECT pg_jit_available()::text").fetchone()  # type: ignore[misc]
    assert environment["server.pg_jit_available"] == available in ("true", "false")
