"""Does background volume slow the orchestrator? One scenario's mix timed on two worlds, side by side.

    .venv/bin/python -m harness.perf.world_volume [--n 10000] [--rounds 2]

times the scenario transaction of `scenarios/scaleout-mixed.toml` (the seed world) and of
`scenarios/production/background-1m.toml` (the same mix on a generated world of about a
million background rows), interleaved round by round on one server, and prints the median
per-instance cost of each and their ratio (the target: at most 1.2x). A ratio from one run on
one machine; absolute numbers vary with the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from harness.config import resolve_config
from harness.databases import state as db_state
from harness.perf.scaling import time_scenario_transaction
from harness.scenarios.scenario import Scenario, load_scenario
from harness.session import HarnessSession

ROOT = Path(__file__).resolve().parents[2]
SEED_WORLD = ROOT / "scenarios" / "scaleout-mixed.toml"
LOADED_WORLD = ROOT / "scenarios" / "production" / "background-1m.toml"


def per_instance_us(session: HarnessSession, scenario: Scenario, n: int) -> float:
    database = session.pool.clone(scenario.baseline)
    try:
        return time_scenario_transaction(database, scenario, n) / n * 1e6
    finally:
        session.pool.drop(database.name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.perf.world_volume", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    worlds = {"seed": load_scenario(SEED_WORLD), "background": load_scenario(LOADED_WORLD)}
    session = HarnessSession(resolve_config({}))
    try:
        began = time.perf_counter()
        session.pool.template(worlds["background"].baseline)
        database = session.pool.clone(worlds["background"].baseline)
        with database.connect() as conn:
            rows = sum(db_state.table_counts(conn).values())
        session.pool.drop(database.name)
        print(f"background world: {rows:,} rows in SPEC tables, built in {time.perf_counter() - began:.1f} s")
        costs: dict[str, list[float]] = {name: [] for name in worlds}
        for _ in range(args.rounds):  # interleaved: a burst of load hits both worlds
            for name, scenario in worlds.items():
                costs[name].append(per_instance_us(session, scenario, args.n))
    finally:
        session.close()
    seed, background = (statistics.median(costs[name]) for name in worlds)
    print(f"N={args.n:,}, median of {args.rounds}: seed world {seed:.1f} us per instance, "
          f"background world {background:.1f} us, ratio {background / seed:.2f}x (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
