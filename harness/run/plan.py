"""The run's events as a plan in SQL, and the scenario transaction that delivers them (the seeds' driver).

Every timing of the orchestrator calls it through here: the run itself, its replay, the floors, the
scaling check, the profile and the benchmarks. The plan is a temp table generated in SQL from the
scenario (`pg_temp.iu_run_plan`), and each call's answer goes to another (`pg_temp.iu_run_calls` by
default): nothing proportional to N is held in Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import psycopg

from harness.scenarios.scenario import Scenario
from harness.spec import ORCHESTRATOR
from harness.spec_calls import set_gates

PLAN_SQL = """
CREATE TEMP TABLE iu_run_plan AS
SELECT (row_number() OVER (ORDER BY m.ord, g.i))::int AS seq,
       m.template_key,
       g.i AS idx,
       m.prefix || lpad(g.i::text, greatest(m.width, length(g.i::text)), '0') || m.tail AS suffix,
       CASE WHEN m.event_base IS NULL
            THEN md5(%(scenario)s || ':' || m.template_key || ':' || g.i)::uuid
            ELSE (left(m.event_base, 24) || lpad(g.i::text, 12, '0'))::uuid
       END AS event_id
  FROM unnest(%(templates)s::text[], %(prefixes)s::text[], %(widths)s::int[], %(tails)s::text[],
              %(counts)s::int[], %(bases)s::text[])
       WITH ORDINALITY AS m(template_key, prefix, width, tail, cnt, event_base, ord)
 CROSS JOIN LATERAL generate_series(1, m.cnt) AS g(i)
"""
CALL_SQL = """
INSERT INTO pg_temp.{table} (seq, result)
SELECT seq, {function}(event_id, %(event_type)s, template_key, suffix, %(actor)s, %(emit_mode)s)
  FROM pg_temp.iu_run_plan
 WHERE seq BETWEEN %(lo)s AND %(hi)s
 ORDER BY seq
"""
CALLS_TABLE, REPLAY_TABLE = "iu_run_calls", "iu_run_replay"


def create_plan(conn: psycopg.Connection, scenario: Scenario, n: int, *, calls_copied: bool = False) -> None:
    """The scenario's N events in pg_temp.iu_run_plan, and the empty tables their answers go to.

    `calls_copied`: pg_temp.iu_run_calls already holds the answers (copied from the run's session
    without a key, which is faster to fill): it is kept and given its primary key.
    """
    plan = scenario.counts_at(n)
    parts = [item.suffix_parts for item, _ in plan]
    conn.execute("DROP TABLE IF EXISTS pg_temp.iu_run_plan, pg_temp.iu_run_replay, pg_temp.iu_run_dry_targets"
                 + ("" if calls_copied else ", pg_temp.iu_run_calls"))
    conn.execute(PLAN_SQL, {
        "scenario": scenario.name,
        "templates": [item.template for item, _ in plan],
        "prefixes": [p[0] for p in parts], "widths": [p[1] for p in parts], "tails": [p[2] for p in parts],
        "counts": [count for _, count in plan],
        "bases": [item.event_id_base for item, _ in plan],
    })
    conn.execute("ALTER TABLE pg_temp.iu_run_plan ADD PRIMARY KEY (seq)")
    if calls_copied:
        conn.execute(f"ALTER TABLE pg_temp.{CALLS_TABLE} ADD PRIMARY KEY (seq)")
    for table in (REPLAY_TABLE,) if calls_copied else (CALLS_TABLE, REPLAY_TABLE):
        conn.execute(f"CREATE TEMP TABLE {table} (seq int PRIMARY KEY, result jsonb)")
    conn.execute("CREATE TEMP TABLE iu_run_dry_targets (ord int PRIMARY KEY, id uuid)")


def call_orchestrator(conn: psycopg.Connection, scenario: Scenario, n: int, table: str = CALLS_TABLE,
                      progress: Callable[[int, int], None] | None = None, function: str = ORCHESTRATOR,
                      checkpoints: Sequence[int] = (), at_checkpoint: Callable[[int], None] | None = None) -> float:
    """Call the orchestrator for every plan row, in chunks (for progress); returns seconds spent calling.

    Runs inside the caller's transaction; results go to pg_temp.<table>, never to Python.
    `function` is another function of the orchestrator's signature (the minimal-orchestrator floor).
    A chunk ends at each of `checkpoints` (calls made so far), where `at_checkpoint` runs, untimed.
    """
    chunk = max(100, min(5000, n // 100 or 1))
    spent = 0.0
    query = CALL_SQL.format(table=table, function=function)
    params = {"event_type": scenario.event_type, "actor": scenario.actor, "emit_mode": scenario.emit_mode}
    stops = sorted(set(checkpoints))
    lo = 1
    while lo <= n:
        hi = min([n, lo + chunk - 1, *(c for c in stops if c >= lo)])
        began = time.perf_counter()
        conn.execute(query, {**params, "lo": lo, "hi": hi})
        spent += time.perf_counter() - began
        if at_checkpoint is not None and hi in stops:
            at_checkpoint(hi)
        if progress is not None:
            progress(hi, n)
        lo = hi + 1
    return spent


@contextmanager
def gates_open(conn: psycopg.Connection) -> Iterator[None]:
    """Both gates open inside the caller's transaction, closed again when the block ends normally
    (on an error the transaction rolls back, gates and all)."""
    set_gates(conn, True)
    yield
    set_gates(conn, False)


def scenario_transaction(conn: psycopg.Connection, scenario: Scenario, n: int, table: str = CALLS_TABLE,
                         function: str = ORCHESTRATOR) -> float:
    """The seeds' driver on the plan: BEGIN, open both gates, every call, close both gates, COMMIT.
    Returns the seconds spent calling."""
    with conn.transaction(), gates_open(conn):
        return call_orchestrator(conn, scenario, n, table, function=function)


def answered_ok(conn: psycopg.Connection, table: str = CALLS_TABLE) -> int:
    """How many of the calls in pg_temp.<table> answered 'ok'."""
    row = conn.execute(f"SELECT count(*) FILTER (WHERE result->>'status' = 'ok') FROM pg_temp.{table}").fetchone()
    return int(row[0]) if row else 0
