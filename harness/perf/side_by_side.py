"""Side by side: the build's orchestrator against the minimal one, on one throwaway server.

    .venv/bin/python -m harness.perf.side_by_side --pg 17 --n 1000,100000 --runs 3 [--minimal-from main]

Per N and per run: each orchestrator timed on its own fresh clone of the scenario's baseline, in the
order minimal, build, build, minimal (harness/perf/floors.py's SIDE_BY_SIDE_ORDER; a side is the mean of its
two), one transaction of N calls each. Prints per-call microseconds, wall and the backend's CPU time
(/proc: what a shared machine's load does not inflate as much), the ratio of rates (minimal's time /
build's time: >= 1 means the build is as fast) and the server's JIT and planner settings.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
from functools import partial

import psycopg

from harness.config import resolve_config
from harness.databases.pool import Database, DatabasePool
from harness.environment import planner_settings
from harness.perf.floors import (
    BUILD_AT_SAMPLE,
    FLOOR_KINDS,
    MINIMAL_FUNCTION,
    MINIMAL_ORCHESTRATOR_SQL,
    SIDE_BY_SIDE_ORDER,
)
from harness.run.plan import answered_ok, call_orchestrator, create_plan, gates_open
from harness.scenarios.scenario import Scenario, load_scenario
from harness.servers.embedded import EmbeddedServer
from harness.spec import INSTANCE_KEY_SQL, ORCHESTRATOR

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server backend (this machine's /proc): unlike wall time, it does
    not count the time the backend waits for a core that other processes hold."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def timed_calls(database: Database, scenario: Scenario, n: int, function: str,
                setup_sql: str | None) -> tuple[float, float]:
    """(wall, backend CPU) seconds of N calls of `function` in one transaction, as floors.time_orchestrator."""
    with database.connect(autocommit=True) as conn:
        if setup_sql:
            conn.execute(setup_sql)
        create_plan(conn, scenario, n)
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        with conn.transaction(), gates_open(conn):
            cpu = backend_cpu_seconds(pid)
            wall = call_orchestrator(conn, scenario, n, function=function)
            cpu = backend_cpu_seconds(pid) - cpu
        if answered_ok(conn) != n:
            raise psycopg.DataError(f"{function} did not compose all {n} events")
        return wall, cpu


def minimal_sql_at(rev: str) -> str:
    """MINIMAL_ORCHESTRATOR_SQL as the floors module had it at git revision `rev` (its value alone, read
    from the source: the module's imports belong to that revision)."""
    for path in ("harness/perf/floors.py", "harness/floor.py"):
        shown = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=False)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"no floors module at {rev}: {shown.stderr.strip()}")
    tree = ast.parse(shown.stdout)
    value = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "MINIMAL_ORCHESTRATOR_SQL" for t in node.targets))
    return str(eval(compile(ast.Expression(value), f"{rev}:{path}", "eval"), {"INSTANCE_KEY_SQL": INSTANCE_KEY_SQL}))




def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default=None)
    parser.add_argument("--n", default="1000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="scenarios/scaleout-mixed.toml")
    parser.add_argument("--minimal-from", metavar="REV", default=None,
                        help="time the minimal orchestrator of harness/perf/floors.py (harness/floor.py before "
                             "it moved) at this git revision (e.g. main)")
    args = parser.parse_args()
    minimal_sql = MINIMAL_ORCHESTRATOR_SQL
    if args.minimal_from:
        minimal_sql = minimal_sql_at(args.minimal_from)
    scenario = load_scenario(args.scenario)
    sizes = [int(n) for n in args.n.split(",")]
    server = EmbeddedServer.start(pg=args.pg, largest_n=max(sizes))
    pool = DatabasePool(server, resolve_config())
    try:
        with pool.clone(scenario.baseline).connect(autocommit=True) as conn:
            shown = {"server_version": str(conn.info.server_version), **planner_settings(conn)}
        print("server:", ", ".join(f"{k}={v}" for k, v in shown.items()))
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
