"""Side by side: the build's orchestrator against the minimal one, on one throwaway server.

    .venv/bin/python scripts/side_by_side.py --pg 17 --n 1000,100000 --runs 3 [--minimal-from main]

Per N and per run: each orchestrator timed on its own fresh clone of the scenario's baseline, in the
order minimal, build, build, minimal (harness/floor.py's SIDE_BY_SIDE_ORDER; a side is the mean of its
two), one transaction of N calls each. Prints per-call microseconds, wall and the backend's CPU time
(/proc: what a shared machine's load does not inflate as much), the ratio of rates (minimal's time /
build's time: >= 1 means the build is as fast) and the server's JIT and planner settings.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from functools import partial

import psycopg

from harness.config import resolve_config
from harness.databases import Database, DatabasePool
from harness.floor import (
    BUILD_AT_SAMPLE,
    FLOOR_KINDS,
    MINIMAL_FUNCTION,
    MINIMAL_ORCHESTRATOR_SQL,
    SIDE_BY_SIDE_ORDER,
)
from harness.run_context import RunContext
from harness.runner import ORCHESTRATOR, call_orchestrator, create_plan
from harness.scenario import Scenario, load_scenario
from harness.servers.embedded import EmbeddedServer
from harness.spec_calls import set_gates

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server backend (this machine's /proc): unlike wall time, it does
    not count the time the backend waits for a core that other processes hold."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def timed_calls(database: Database, scenario: Scenario, n: int, function: str,
                setup_sql: str | None) -> tuple[float, float]:
    """(wall, backend CPU) seconds of N calls of `function` in one transaction, as floor.time_orchestrator."""
    with database.connect(autocommit=True) as conn:
        if setup_sql:
            conn.execute(setup_sql)
        create_plan(RunContext(conn, database, scenario, n, scenario.counts_at(n)))
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        with conn.transaction():
            set_gates(conn, True)
            cpu = backend_cpu_seconds(pid)
            wall = call_orchestrator(conn, scenario, n, function=function)
            cpu = backend_cpu_seconds(pid) - cpu
            set_gates(conn, False)
        composed = conn.execute("SELECT count(*) FILTER (WHERE result->>'status' = 'ok') FROM pg_temp.iu_run_calls")
        if composed.fetchone()[0] != n:  # type: ignore[index]
            raise psycopg.DataError(f"{function} did not compose all {n} events")
        return wall, cpu


SETTINGS = ("server_version", "jit", "jit_provider", "jit_above_cost", "jit_inline_above_cost",
            "jit_optimize_above_cost", "random_page_cost", "shared_buffers", "work_mem", "enable_seqscan",
            "plan_cache_mode")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default=None)
    parser.add_argument("--n", default="1000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="scenarios/scaleout-mixed.toml")
    parser.add_argument("--minimal-from", metavar="REV", default=None,
                        help="time the minimal orchestrator of harness/floor.py at this git revision (e.g. main)")
    args = parser.parse_args()
    minimal_sql = MINIMAL_ORCHESTRATOR_SQL
    if args.minimal_from:
        source = subprocess.run(["git", "show", f"{args.minimal_from}:harness/floor.py"], check=True,
                                capture_output=True, text=True).stdout
        namespace: dict[str, object] = {}
        exec(compile(source, f"{args.minimal_from}:harness/floor.py", "exec"), namespace)
        minimal_sql = str(namespace["MINIMAL_ORCHESTRATOR_SQL"])
    scenario = load_scenario(args.scenario)
    sizes = [int(n) for n in args.n.split(",")]
    server = EmbeddedServer.start(pg=args.pg, largest_n=max(sizes))
    pool = DatabasePool(server, resolve_config())
    try:
        with pool.clone(scenario.baseline).connect(autocommit=True) as conn:
            shown = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}  # type: ignore[index]
            jit_ok = conn.execute("SELECT pg_jit_available()").fetchone()[0]  # type: ignore[index]
        print("server:", ", ".join(f"{k}={v}" for k, v in shown.items()), f"pg_jit_available={jit_ok}")
        timers = {FLOOR_KINDS[1]: partial(timed_calls, function=MINIMAL_FUNCTION, setup_sql=minimal_sql),
                  BUILD_AT_SAMPLE: partial(timed_calls, function=ORCHESTRATOR, setup_sql=None)}
        for n in sizes:
            for run in range(1, args.runs + 1):
                load = os.getloadavg()[0]
                spent: dict[str, list[tuple[float, float]]] = {}
                for kind in SIDE_BY_SIDE_ORDER:
                    database = pool.clone(scenario.baseline)
                    try:
                        spent.setdefault(kind, []).append(timers[kind](database, scenario, n))
                    finally:
                        pool.drop(database.name)

                def us(kind: str, which: int, spent: dict[str, list[tuple[float, float]]] = spent,
                       n: int = n) -> float:
                    return sum(t[which] for t in spent[kind]) / len(spent[kind]) / n * 1e6

                minimal, build = FLOOR_KINDS[1], BUILD_AT_SAMPLE
                print(f"N={n} run={run} load={load:.2f} | wall: minimal {us(minimal, 0):.1f} us, build "
                      f"{us(build, 0):.1f} us, ratio {us(minimal, 0) / us(build, 0):.3f} | backend CPU: minimal "
                      f"{us(minimal, 1):.1f} us, build {us(build, 1):.1f} us, ratio {us(minimal, 1) / us(build, 1):.3f}"
                      " | each (wall/cpu): " + "; ".join(
                          f"{k[:5]} " + " ".join(f"{w / n * 1e6:.0f}/{c / n * 1e6:.0f}" for w, c in v)
                          for k, v in spent.items()), flush=True)
    finally:
        pool.close()
        server.stop()


if __name__ == "__main__":
    main()
