"""Side by side: the build's orchestrator against the minimal one, on one throwaway server.

    .venv/bin/python scripts/side_by_side.py --pg 17 --n 1000,100000 --runs 3

Per N and per run: each orchestrator timed on its own fresh clone of the scenario's baseline, in the
order minimal, build, build, minimal (harness/floor.py's SIDE_BY_SIDE_ORDER; a side is the mean of its
two), one transaction of N calls each. Prints per-call microseconds, the ratio of rates (minimal's
time / build's time: >= 1 means the build is as fast) and the server's JIT and planner settings.
"""

from __future__ import annotations

import argparse
import os

from harness.config import resolve_config
from harness.databases import DatabasePool
from harness.floor import BUILD_AT_SAMPLE, FLOOR_KINDS, SIDE_BY_SIDE_ORDER, time_minimal_orchestrator, time_orchestrator
from harness.scenario import load_scenario
from harness.servers.embedded import EmbeddedServer

SETTINGS = ("server_version", "jit", "jit_provider", "jit_above_cost", "jit_inline_above_cost",
            "jit_optimize_above_cost", "random_page_cost", "shared_buffers", "work_mem", "enable_seqscan",
            "plan_cache_mode")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default=None)
    parser.add_argument("--n", default="1000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="scenarios/scaleout-mixed.toml")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    sizes = [int(n) for n in args.n.split(",")]
    server = EmbeddedServer.start(pg=args.pg, largest_n=max(sizes))
    pool = DatabasePool(server, resolve_config())
    try:
        with pool.clone(scenario.baseline).connect(autocommit=True) as conn:
            shown = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}  # type: ignore[index]
            jit_ok = conn.execute("SELECT pg_jit_available()").fetchone()[0]  # type: ignore[index]
        print("server:", ", ".join(f"{k}={v}" for k, v in shown.items()), f"pg_jit_available={jit_ok}")
        timers = {FLOOR_KINDS[1]: time_minimal_orchestrator, BUILD_AT_SAMPLE: time_orchestrator}
        for n in sizes:
            for run in range(1, args.runs + 1):
                load = os.getloadavg()[0]
                spent: dict[str, list[float]] = {}
                for kind in SIDE_BY_SIDE_ORDER:
                    database = pool.clone(scenario.baseline)
                    try:
                        spent.setdefault(kind, []).append(timers[kind](database, scenario, n))
                    finally:
                        pool.drop(database.name)
                minimal = sum(spent[FLOOR_KINDS[1]]) / 2 / n * 1e6
                build = sum(spent[BUILD_AT_SAMPLE]) / 2 / n * 1e6
                print(f"N={n} run={run} load={load:.2f} minimal={minimal:.1f}us build={build:.1f}us "
                      f"ratio={minimal / build:.3f}  (each: "
                      + ", ".join(f"{k[:5]} {' '.join(f'{t / n * 1e6:.1f}' for t in v)}" for k, v in spent.items())
                      + ")", flush=True)
    finally:
        pool.close()
        server.stop()


if __name__ == "__main__":
    main()
