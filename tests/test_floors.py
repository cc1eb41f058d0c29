"""The two floors and `iu-harness profile`, on a real server, on our build and on the second one.

A floor that wrote other rows than the build's run would compare unlike things: each floor's
rows must match, table by table, what the scenario run itself adds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import ROOT, run_cli

from harness.config import BUNDLED_SQL_DIR
from harness.databases import state as db_state
from harness.databases.pool import DatabasePool
from harness.perf.floors import BUILD_AT_SAMPLE, FLOOR_KINDS, measure_floors, time_floor, time_minimal_orchestrator
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario

SEED = ROOT / "scenarios" / "seed-50000x-03.toml"
INDEPENDENT = ROOT / "tests" / "builds" / "independent"


@pytest.fixture(params=[BUNDLED_SQL_DIR, INDEPENDENT], ids=["bundled", "independent"])
def build_pool(iu_pool: DatabasePool, request: pytest.FixtureRequest) -> Iterator[DatabasePool]:
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, sql_dir=request.param, extra_sql=()))
    yield pool
    pool.close()


def test_each_floor_writes_exactly_the_rows_the_run_adds(build_pool: DatabasePool) -> None:
    scenario, n = load_scenario(SEED), 40
    run_db = build_pool.clone(scenario.baseline)
    with run_db.connect() as conn:
        before = db_state.table_counts(conn)
    result = run_scenario(run_db, scenario, n, rollback=False)
    assert result.passed, result.failure_summary()
    with run_db.connect() as conn:
        run_added = {t: v - before[t] for t, v in db_state.table_counts(conn).items()}
    for kind, timer in zip(FLOOR_KINDS, (time_floor, time_minimal_orchestrator), strict=True):
        floor_db = build_pool.clone(scenario.baseline)
        assert timer(floor_db, scenario, n) > 0
        with floor_db.connect() as conn:
            floor_added = {t: v - before[t] for t, v in db_state.table_counts(conn).items()}
        assert floor_added == run_added, kind


def test_the_build_is_timed_beside_the_minimal_orchestrator_at_the_sample(build_pool: DatabasePool) -> None:
    timings, failures = measure_floors(build_pool, load_scenario(SEED), 40, sample_n=30)
    assert failures == {}
    assert set(timings) == {*FLOOR_KINDS, BUILD_AT_SAMPLE}
    assert all(t.n == 30 for t in timings.values())  # min(N, sample): all at the same size
    for kind in (FLOOR_KINDS[1], BUILD_AT_SAMPLE):  # minimal, build, build, minimal: two each, the mean
        assert len(timings[kind].runs) == 2
        assert timings[kind].seconds == pytest.approx(sum(timings[kind].runs) / 2)


def test_profile_reports_each_pass_and_says_what_a_build_lacks(tmp_path: Path) -> None:
    done = run_cli("profile", str(SEED), "--n", "50", "--parts", f"--iu-sql-dir={INDEPENDENT}")
    assert done.returncode == 0, done.stdout + done.stderr
    for shown in ("calls", "replay", "real rollback", "parts of a call"):
        assert shown in done.stdout, shown
    # Two parts time our bundled build's own helpers: another build says so instead of failing.
    assert done.stdout.count("not in this build") == 2
