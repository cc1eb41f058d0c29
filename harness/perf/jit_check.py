"""Does any statement of an orchestrator call get JIT-compiled? (a planner setting such as
`enable_seqscan = off` adds its disable cost to a plan's estimate, which could cross jit_above_cost)

    .venv/bin/python -m harness.perf.jit_check --pg 15 --n 2000

Starts a throwaway server with pg_stat_statements (track = all), runs the build's orchestrator and
the minimal one on fresh clones, and prints the server's JIT and planner settings, each pass's
statements that were JIT-compiled (jit_functions > 0)
(pg_stat_statements counts the JIT work itself, per statement).
"""

from __future__ import annotations

import argparse

from harness.config import resolve_config
from harness.databases.pool import DatabasePool
from harness.environment import planner_settings
from harness.perf.call_profile import PROFILE_SETTINGS
from harness.perf.floors import time_minimal_orchestrator, time_orchestrator
from harness.scenarios.scenario import load_scenario
from harness.servers.embedded import EmbeddedServer

JITTED_SQL = """
SELECT sum(calls)::bigint, sum(jit_functions)::bigint, round(sum(jit_generation_time + jit_inlining_time
       + jit_optimization_time + jit_emission_time)::numeric, 1),
       count(*) FILTER (WHERE jit_functions > 0)
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default=None)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    scenario = load_scenario("scenarios/scaleout-mixed.toml")
    server = EmbeddedServer.start(pg=args.pg, largest_n=args.n, extra_settings=PROFILE_SETTINGS)
    pool = DatabasePool(server, resolve_config())
    try:
        for name, timer in (("minimal", time_minimal_orchestrator), ("build", time_orchestrator)):
            database = pool.clone(scenario.baseline)
            with database.connect(autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                shown = {"server_version": str(conn.info.server_version), **planner_settings(conn)}
                conn.execute("SELECT pg_stat_statements_reset()")
            seconds = timer(database, scenario, args.n)
            with database.connect(autocommit=True) as conn:
                calls, functions, jit_ms, jitted = conn.execute(JITTED_SQL).fetchone()  # type: ignore[misc]
            print(f"{name}: {seconds / args.n * 1e6:.1f} us/call; statements executed {calls}, JIT-compiled "
                  f"statements {jitted}, JIT functions {functions}, JIT time {jit_ms} ms")
            pool.drop(database.name)
        print("server:", ", ".join(f"{k}={v}" for k, v in shown.items()))
    finally:
        pool.close()
        server.stop()


if __name__ == "__main__":
    main()
