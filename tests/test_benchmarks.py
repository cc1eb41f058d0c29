"""pytest-benchmark timings: the scenario transaction alone, one benchmark per scenario and N.

Each round gets a fresh clone and plan (setup, not timed); the timed part is
the seeds' driver: open gates, the orchestrator for every event, close gates,
COMMIT. extra_info carries N, per-instance cost, the set-based floor and the
orchestrator/floor ratio, server version and backend. Save runs with
`--benchmark-autosave` (to reports/benchmarks) and read the change with
`--benchmark-compare`; no gate (`--benchmark-compare-fail`): identical code timed
back to back differed by +117 % in the mean here. Nothing here asserts a speed:
speed is shown, not tested, on these shared machines (README, "Timings and regressions").
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from scenario_cases import scenario_cases, skip_unless_selected

from harness.config import HarnessConfig
from harness.databases.pool import Database, DatabasePool
from harness.perf.floors import time_floor
from harness.run.plan import create_plan, scenario_transaction
from harness.scenarios.scenario import Scenario
from harness.session import HarnessSession


@pytest.mark.parametrize(("scenario", "n"), scenario_cases())
def test_benchmark_orchestrator(benchmark: Any, scenario: Scenario, n: int, iu_pool: DatabasePool,
                                iu_config: HarnessConfig, iu_session: HarnessSession) -> None:
    skip_unless_selected(scenario, n, iu_config)
    opened: list[tuple[Database, psycopg.Connection]] = []

    def setup() -> tuple[tuple[psycopg.Connection], dict[str, Any]]:
        database = iu_pool.clone(scenario.baseline)
        conn = database.connect(autocommit=True)
        opened.append((database, conn))
        create_plan(conn, scenario, n)
        return (conn,), {}

    def timed(conn: psycopg.Connection) -> None:
        scenario_transaction(conn, scenario, n)

    try:
        benchmark.pedantic(timed, setup=setup, rounds=3 if n <= 1000 else 1, iterations=1)
        # The timed work really composed N instances (a benchmark of nothing would be worthless).
        for _, conn in opened:
            row = conn.execute("SELECT count(*) FILTER (WHERE result->>'status' = 'ok'), count(*) "
                               "FROM pg_temp.iu_run_calls").fetchone()
            assert row == (n, n), f"benchmark round composed {row}, expected {n} ok calls"
    finally:
        for database, conn in opened:
            conn.close()
            iu_pool.drop(database.name)

    floor_db = iu_pool.clone(scenario.baseline)
    floor_s = time_floor(floor_db, scenario, n)
    iu_pool.drop(floor_db.name)
    best = benchmark.stats.stats.min if benchmark.stats else None
    benchmark.extra_info.update({
        "n": n, "scenario": scenario.name, "backend": iu_config.backend,
        "server_version": iu_session.server.version,
        "per_instance_us": best / n * 1e6 if best else None,
        "instances_per_s": n / best if best else None,
        "floor_s": floor_s, "orchestrator_over_floor": best / floor_s if best and floor_s else None,
    })
