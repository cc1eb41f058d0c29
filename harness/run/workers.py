"""Concurrent workers: a scenario's N events delivered by K sessions at once, as event consumers do.

`workers = K` in a scenario (with `batch` events per transaction and a `redelivered`
share of events delivered to two workers: at-least-once delivery) replaces the seeds'
single transaction by this driver; every invariant still holds over the result.

Delivery, all in SQL: event `seq` goes to worker (seq - 1) % K; a redelivered event
also goes to the next worker, at the same place in its stream. Each worker calls its
stream in `seq` order, B events per transaction: a worker that meets a key another
worker holds uncommitted waits for that transaction, and because every transaction
takes keys in increasing `seq` order no two can wait on each other (no deadlock from
keys; a deadlock or serialization failure from elsewhere is retried, and counted).

Gates (`gates`): "committed" (the default, what a real deployment does) opens both
gates in one committed transaction before the workers start and closes them after the
last batch: the workers never touch the gate rows, so nothing of the harness's own
serializes them. "in_tx" toggles the gates inside every batch, as the seeds' driver
does: each batch then holds the gate rows' locks until it commits, so the workers
queue on the gate rows and run one at a time (SPEC: toggling transactions queue);
the lock-wait sampler shows exactly that.

Results go to an unlogged table in the run's database (schema `iu_harness_run`, which
the harness creates and drops; never an iu_core object), then one row per event into
the run's pg_temp.iu_run_calls for the ordinary checks. Nothing proportional to N is
held in Python: the lock sampler keeps a bounded tally of distinct wait kinds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors

from harness.checks.invariants import invariant
from harness.errors import db_error_text
from harness.run.context import RunContext
from harness.run.results import WorkersFacts
from harness.spec_calls import set_gates

SCHEMA = "iu_harness_run"
RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)
MAX_RETRIES = 5
SAMPLE_EVERY_S = 0.02
LOCK_BOUND_SHARE = 0.10  # below this share of samples with a waiting worker, locks do not explain a shortfall
K_SCALING_TARGET = 1.5  # K = 2 should deliver at least 1.5x the events/s of K = 1 on 2 cores

DELIVERY_SQL = (
    f"CREATE SCHEMA {SCHEMA}",
    f"CREATE UNLOGGED TABLE {SCHEMA}.calls (worker int, pos int, seq int, result jsonb, PRIMARY KEY (worker, pos))",
    f"""
    CREATE UNLOGGED TABLE {SCHEMA}.delivery AS
    WITH redelivered AS (
        SELECT seq FROM pg_temp.iu_run_plan
         ORDER BY md5(%(scenario)s || ':redeliver:' || seq) LIMIT %(redelivered)s
    ), copies AS (
        SELECT (p.seq - 1) %% %(k)s AS worker, 0 AS copy, p.* FROM pg_temp.iu_run_plan p
        UNION ALL
        SELECT ((p.seq - 1) %% %(k)s + 1) %% %(k)s, 1, p.* FROM pg_temp.iu_run_plan p JOIN redelivered r USING (seq)
    )
    SELECT worker, (row_number() OVER (PARTITION BY worker ORDER BY seq, copy))::int AS pos,
           seq, event_id, template_key, suffix
      FROM copies""",
    f"ALTER TABLE {SCHEMA}.delivery ADD PRIMARY KEY (worker, pos)",
    f"ANALYZE {SCHEMA}.delivery",
)
BATCH_SQL = f"""
INSERT INTO {SCHEMA}.calls (worker, pos, seq, result)
SELECT worker, pos, seq, iu_core.fn_iu_auto_instantiate_from_event(
           event_id, %(event_type)s, template_key, suffix, %(actor)s, %(emit_mode)s)
  FROM {SCHEMA}.delivery
 WHERE worker = %(worker)s AND pos BETWEEN %(lo)s AND %(hi)s
 ORDER BY pos
"""
# One row per event for the ordinary checks: the delivery that answered 'ok' (when one did).
COLLECT_SQL = f"""
INSERT INTO pg_temp.iu_run_calls (seq, result)
SELECT DISTINCT ON (seq) seq, result FROM {SCHEMA}.calls
 ORDER BY seq, (result->>'status' = 'ok') DESC, worker
"""
# What the workers wait on, sampled: the waiting statement, the lock's kind and object.
SAMPLE_SQL = """
SELECT a.pid, a.wait_event_type, a.wait_event,
       coalesce(l.locktype || coalesce(' ' || l.relation::regclass::text, ''), '-')
       || CASE WHEN pg_blocking_pids(a.pid) && %(pids)s::int[] THEN ', held by another worker'
               WHEN cardinality(pg_blocking_pids(a.pid)) > 0 THEN ', held by another session' ELSE '' END AS lock,
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), 70) AS statement
  FROM pg_stat_activity a
  LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
 WHERE a.pid = ANY (%(pids)s::int[]) AND a.state = 'active'
"""


@dataclass
class WorkerOutcome:
    worker: int
    batches: int = 0
    deliveries: int = 0
    retries: int = 0
    error: dict[str, Any] | None = None
    pid: int | None = None


@dataclass
class LockSampler:
    """Polls pg_stat_activity / pg_locks for the workers' backends while they run (own thread)."""

    dsn: str
    pids: list[int]
    samples: int = 0
    waiting_samples: int = 0
    waits: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    error: str | None = None

    def run(self) -> None:
        try:
            self._sample()
        except psycopg.Error as exc:  # the report says the sampling broke off, and why
            self.error = f"{exc.sqlstate}: {db_error_text(exc)}"

    def _sample(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(SAMPLE_SQL, {"pids": self.pids}).fetchall()
                self.samples += 1
                waiting = [r for r in rows if r[1] == "Lock"]
                if waiting:
                    self.waiting_samples += 1
                for _pid, kind, event, lock, statement in waiting:
                    self.waits[(kind, event, lock, statement)] += 1
                self.stop.wait(SAMPLE_EVERY_S)

    def summary(self) -> dict[str, Any]:
        top = [{"wait": f"{kind}/{event}", "lock": lock, "statement": statement, "samples": count}
               for (kind, event, lock, statement), count in self.waits.most_common(5)]
        share = self.waiting_samples / self.samples if self.samples else 0.0
        summary = {"samples": self.samples, "samples_with_a_waiting_worker": self.waiting_samples,
                   "waiting_share": round(share, 3), "top_waits": top}
        return summary if self.error is None else {**summary, "sampler_error": self.error}


def _worker(dsn: str, outcome: WorkerOutcome, params: dict[str, Any], last_pos: int, batch: int,
            in_tx_gates: bool, failed: threading.Event, ready: threading.Barrier) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            outcome.pid = conn.info.backend_pid
            ready.wait()
            for lo in range(1, last_pos + 1, batch):
                if failed.is_set():
                    return
                hi = min(last_pos, lo + batch - 1)
                for attempt in range(MAX_RETRIES + 1):
                    try:
                        with conn.transaction():
                            if in_tx_gates:
                                set_gates(conn, True)
                            conn.execute(BATCH_SQL, {**params, "worker": outcome.worker, "lo": lo, "hi": hi})
                            if in_tx_gates:
                                set_gates(conn, False)
                        break
                    except RETRYABLE:
                        if attempt == MAX_RETRIES:
                            raise
                        outcome.retries += 1
                outcome.batches += 1
                outcome.deliveries += hi - lo + 1
    except threading.BrokenBarrierError:
        return
    except psycopg.Error as exc:
        outcome.error = {"worker": outcome.worker, "batches_committed": outcome.batches,
                         "sqlstate": exc.sqlstate, "error": db_error_text(exc)}
        failed.set()
        ready.abort()
    except Exception as exc:  # reported as the step's failure, never lost in a thread
        outcome.error = {"worker": outcome.worker, "error": f"{type(exc).__name__}: {exc}"}
        failed.set()
        ready.abort()


def redelivered_count(ctx: RunContext) -> int:
    return round(ctx.n * ctx.scenario.redelivered)


def deliver(ctx: RunContext) -> WorkersFacts:
    """Deliver the run's plan (pg_temp.iu_run_plan of ctx.conn) through K concurrent workers.

    Fills pg_temp.iu_run_calls; returns the facts of the delivery (timings, retries, lock waits,
    and `error` when a worker failed with something other than a deadlock/serialization retry).
    """
    conn, scenario = ctx.conn, ctx.scenario
    k, batch = scenario.workers, scenario.batch
    with conn.transaction():
        for statement in DELIVERY_SQL:
            conn.execute(statement, {"scenario": scenario.name, "k": k,
                                     "redelivered": redelivered_count(ctx)} if "%(" in statement else None)
    positions: dict[int, int] = dict(
        conn.execute(f"SELECT worker, max(pos) FROM {SCHEMA}.delivery GROUP BY 1").fetchall())
    in_tx = scenario.gates == "in_tx"
    if not in_tx:
        with conn.transaction():
            set_gates(conn, True)  # committed open: the workers never touch the gate rows
    params = {"event_type": scenario.event_type, "actor": scenario.actor, "emit_mode": scenario.emit_mode}
    outcomes = [WorkerOutcome(w) for w in range(k)]
    failed = threading.Event()
    ready = threading.Barrier(k + 1)
    threads = [threading.Thread(target=_worker, name=f"iu-harness-worker-{o.worker}", daemon=True,
                                args=(ctx.database.dsn, o, params, positions.get(o.worker, 0), batch, in_tx,
                                      failed, ready)) for o in outcomes]
    for thread in threads:
        thread.start()
    sampler: LockSampler | None = None
    try:
        ready.wait()
        sampler = LockSampler(ctx.database.dsn, [o.pid for o in outcomes if o.pid is not None])
        sampling = threading.Thread(target=sampler.run, name="iu-harness-lock-sampler", daemon=True)
        began = time.perf_counter()
        sampling.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        sampler.stop.set()
        sampling.join()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        wall = 0.0
    finally:
        if not in_tx:
            with conn.transaction():
                set_gates(conn, False)
    errors_seen = [o.error for o in outcomes if o.error is not None]
    deliveries = sum(o.deliveries for o in outcomes)
    if not errors_seen:
        conn.execute(COLLECT_SQL)
    return WorkersFacts(
        workers=k, batch=batch, gates=scenario.gates, events=ctx.n, redelivered=redelivered_count(ctx),
        deliveries=deliveries, batches=sum(o.batches for o in outcomes), retries=sum(o.retries for o in outcomes),
        wall_s=wall, events_per_s=ctx.n / wall if wall and not errors_seen else 0.0,
        lock_waits=sampler.summary() if sampler is not None else {},
        error=errors_seen[0] if errors_seen else None)


def drop(conn: psycopg.Connection) -> None:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def _uses_workers(ctx: RunContext) -> bool:
    return ctx.scenario.workers > 0


@invariant("at_least_once_delivery", phase="post_commit", applies=_uses_workers,
           proves=("With concurrent workers and events delivered twice, every event has exactly one 'ok'; each other "
                   "delivery answered 'duplicate' naming the same instance."),
           description="with K workers, every event answered; a redelivered event got exactly one 'ok' and "
                       "'duplicate' for each other delivery, all naming one instance; no event lost or doubled")
def at_least_once_delivery(ctx: RunContext) -> tuple[bool, dict[str, Any]]:
    row = ctx.conn.execute(f"""
        WITH per_event AS (
            SELECT seq, count(*) AS deliveries,
                   count(*) FILTER (WHERE result->>'status' = 'ok') AS ok,
                   count(*) FILTER (WHERE result->>'status' = 'duplicate') AS duplicate,
                   count(DISTINCT result->>'instance_id') AS instances
              FROM {SCHEMA}.calls GROUP BY seq)
        SELECT count(*)::int, coalesce(sum(deliveries), 0)::int, count(*) FILTER (WHERE deliveries > 1)::int,
               count(*) FILTER (WHERE ok = 1 AND duplicate = deliveries - 1 AND instances = 1)::int,
               (SELECT count(*) FROM {SCHEMA}.delivery)::int
          FROM per_event""").fetchone()
    assert row is not None
    events, deliveries, redelivered, exact, planned = row
    evidence = {"events": events, "deliveries": deliveries, "planned_deliveries": planned,
                "redelivered": redelivered, "expected_redelivered": redelivered_count(ctx),
                "one_ok_rest_duplicate_one_instance": exact, "workers": ctx.scenario.workers,
                "batch": ctx.scenario.batch, "gates": ctx.scenario.gates}
    passed = (events == exact == ctx.n and deliveries == planned == ctx.n + redelivered_count(ctx)
              and redelivered == redelivered_count(ctx))
    return passed, evidence
