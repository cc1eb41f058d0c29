"""Runs one scenario at one N the way the seeds' drivers did, and checks every invariant.

Steps (each followed by the invariants of its phase):
  pre snapshot -> [one transaction: open gates, orchestrator per event, close
  gates, in_tx checks, COMMIT] -> then two streams at once (`_Run.after_commit`):
    * a second session, in a snapshot of what COMMIT left: dry-run rollback
      (rollback_dry_run) -> post_commit checks (the digest audit read once, by the
      first that needs it);
    * the run's session: probes (refused calls in a rolled-back transaction, a
      race on a throwaway clone) -> replay every event (replay) -> once the dry
      run is done, the real rollback (rollback).
  Results are listed phase by phase whatever the interleaving.
Only SPEC section 1 names are read or called (see harness/checks/conformance.py).
The events are generated in SQL from the scenario (a temp plan table), and the
orchestrator is called by INSERT ... SELECT over chunks of that plan, so
nothing proportional to N is held in Python.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import psycopg

from harness.checks.conformance import require_runnable
from harness.checks.invariants import PHASES, Invariant
from harness.checks.registry import all_checks, checks_for
from harness.databases import state as db_state
from harness.databases.pool import BaselineClones, Database, DatabasePool
from harness.errors import HarnessError, ScenarioError, db_error_text
from harness.run import resources, workers
from harness.run.context import CheckNotRun, Clones, RunContext
from harness.run.plan import CALLS_TABLE, REPLAY_TABLE, call_orchestrator, create_plan, gates_open
from harness.run.results import (
    DryRunFacts,
    InvariantResult,
    ReplayFacts,
    RollbackFacts,
    RunResult,
    SampleInstance,
    Snapshot,
)
from harness.scenarios.scenario import Scenario
from harness.spec import INSTANCE_KEY_SQL, SPEC_TABLES
from harness.spec_calls import REAL_ROLLBACK_SQL, call_orchestrator_once, set_gates

Progress = Callable[[str, int, int], None]

def _raise_if_out_of_space(exc: BaseException) -> None:
    """A full disk (SQLSTATE 53100) says nothing about the build: the run cannot go on, so it is raised
    (the CLI and the pytest plugin name the folder and the fix), never recorded as a failed invariant."""
    if isinstance(exc, psycopg.Error) and exc.sqlstate == "53100":
        raise exc


def _error_evidence(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, psycopg.Error):
        return {"sqlstate": exc.sqlstate, "error": db_error_text(exc)}
    return {"error": f"{type(exc).__name__}: {exc}"}


class _Run:
    def __init__(self, ctx: RunContext, progress: Progress | None,
                 limits: resources.ResourceLimits | None = None) -> None:
        self.ctx = ctx
        self.limits = limits or resources.ResourceLimits()
        self.progress = progress or (lambda stage, done, total: None)
        self.results: list[InvariantResult] = []
        self.not_run: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.reading: list[psycopg.Connection] = []  # the post-commit session, while it reads
        self.post_taken = threading.Event()  # set by the post-commit stream (post_commit_checks)
        self.stopping = threading.Event()  # set on an error or a signal: the post-commit stream stops
        self.dry_run_done = threading.Event()
        self.checks: dict[str, Invariant] = all_checks()

    def check_phase(self, phase: str, *, ctx: RunContext | None = None) -> None:
        """Run the phase's checks on `ctx` (default the run's)."""
        ctx = ctx or self.ctx
        for inv in checks_for(phase, self.checks):
            if self.stopping.is_set():
                return
            if inv.applies is not None and not inv.applies(ctx):
                continue
            began = time.perf_counter()
            try:
                # A savepoint inside the scenario's (or the snapshot's) transaction keeps a failing check contained.
                if ctx.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    with ctx.conn.transaction():
                        passed, evidence = inv.check(ctx)
                else:
                    passed, evidence = inv.check(ctx)
            except CheckNotRun as exc:
                self.not_run[inv.name] = str(exc)
                continue
            except Exception as exc:  # a check that cannot run has not held: it fails, with the reason
                _raise_if_out_of_space(exc)
                passed, evidence = False, {"check_raised": _error_evidence(exc)}
            finally:
                # Where the harness's own time goes (the report's JSON keeps it per check).
                ctx.facts.check_seconds[inv.name] = round(time.perf_counter() - began, 4)
            self.results.append(InvariantResult(inv.name, phase, inv.description, bool(passed), evidence))

    def order_results(self) -> None:
        """Results in PHASES order, each phase in the registry's order, however they were run (the
        post-commit checks run beside the probes, the replay and the rollbacks)."""
        rank = {name: k for k, name in enumerate(self.checks)}  # the registry's order
        self.results.sort(key=lambda r: (PHASES.index(r.phase) if r.phase in PHASES else len(PHASES),
                                         rank.get(r.name, len(rank))))

    def cancel_reads(self) -> None:
        """On an error or a signal: stop the post-commit stream (its checks not yet begun are skipped)
        and cancel the statement it is running."""
        self.stopping.set()
        for conn in list(self.reading):
            with contextlib.suppress(psycopg.Error):  # already done or gone
                conn.cancel()

    def after_commit(self, rollback: bool) -> None:
        """Everything after COMMIT, in two streams that do not wait for each other:

        - the dry run and the post-commit checks (the digest audit and the build's audit view among
          them), one after another on a session of their own, in a REPEATABLE READ transaction begun right
          after COMMIT (the run's answers are copied into that session's temp tables first);
        - on the run's session meanwhile: the probes, the replay and (once the dry run is done) the
          real rollback, each as before. What they commit (gates toggled back, a faulty replay's writes, the
          rollback's deletes) is not in the other session's snapshot, so every post-commit check reads
          the state the scenario committed however the two streams interleave.

        One session each: on 2 cores a third stream (the audit beside the checks, as before) only slows
        the run's session, whose replay and rollback are the longer stream at any N.
        """
        ctx, n = self.ctx, self.ctx.n
        self.progress("post-commit checks", n, n)
        began = time.perf_counter()
        with ctx.database.connect(autocommit=True) as reader:
            # Begun here, ended by the post-commit stream itself (post_commit_checks): whatever locks
            # a build's dry run takes there are released when that stream ends, never waited for by
            # this thread's real rollback while this thread holds the transaction open.
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            reader.execute("SELECT 1")  # takes the snapshot: the committed run, before anything else commits
            try:  # the one step the run's session waits for: its answers, copied (the rest is the stream's)
                reader.execute(f"CREATE TEMP TABLE {CALLS_TABLE} (seq int, result jsonb)")
                copy_table(ctx.conn, reader, CALLS_TABLE)
            except BaseException:
                with contextlib.suppress(psycopg.Error):  # closing the session discards it anyway
                    reader.execute("ROLLBACK")
                raise
            self.timings["post_commit_copy_s"] = time.perf_counter() - began
            self.reading.append(reader)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="iu-harness-check") as checking:
                checked = checking.submit(self.post_commit_checks, dataclasses.replace(ctx, conn=reader))
                try:
                    self.progress("probes", n, n)
                    self.check_phase("probe")
                    _replay(self)
                    if rollback:
                        self.progress("rollback", n, n)
                        self.dry_run_done.wait()  # a dry run in this snapshot must not meet the deletes
                        _real_rollback(self)
                    self.progress("post-commit checks", n, n)
                    checked.result()
                except BaseException:
                    self.cancel_reads()
                    while not checked.done():  # a check may have begun since: cancel until the stream ends
                        self.cancel_reads()
                        wait([checked], timeout=0.5)
                    raise
                finally:
                    self.reading.remove(reader)
        self.order_results()

    def post_commit_checks(self, ctx: RunContext) -> None:
        """On `ctx` (the snapshot's session): the post-commit counts, the dry run, the post-commit checks."""
        began = time.perf_counter()
        try:
            try:  # the post-commit counts first: the replay's check (on the other stream) compares with them
                create_plan(ctx.conn, ctx.scenario, ctx.n, calls_copied=True)
                ctx.facts.post = self.snapshot(post=True, conn=ctx.conn)
            finally:
                self.post_taken.set()
            # Then the dry run, which the real rollback (on the other stream) must not overtake.
            try:
                _dry_run(self, ctx)
            finally:
                self.dry_run_done.set()
            ctx.conn.execute("ANALYZE pg_temp.iu_run_plan, pg_temp.iu_run_calls")
            self.check_phase("post_commit", ctx=ctx)
        finally:
            self.post_taken.set()  # also when the stream failed before these
            self.dry_run_done.set()
            with contextlib.suppress(psycopg.Error):  # cancelled, or the session is gone: nothing to keep
                ctx.conn.execute("ROLLBACK")  # it wrote only its temp tables' rows and statistics
            self.timings["post_commit_s"] = time.perf_counter() - began

    def step_failed(self, name: str, description: str, phase: str, exc: BaseException) -> None:
        _raise_if_out_of_space(exc)
        self.results.append(InvariantResult(name, phase, description, False, _error_evidence(exc)))

    def snapshot(self, *, post: bool = False, conn: psycopg.Connection | None = None) -> Snapshot:
        """Counts, views, per-actor rows and the fingerprint of every SPEC table (before the run and
        after its rollback, which are compared row for row).

        After COMMIT (`post`) the tables the run grows are not fingerprinted (no check compares
        them: the replay and the dry run prove "nothing written" by write counters), nor are the
        per-actor rows read; the digest audit is added by the runner (post_commit_checks).
        """
        conn = conn or self.ctx.conn
        began = time.perf_counter()
        tables: tuple[str, ...] = SPEC_TABLES
        if post:
            tables = tuple(t for t, delta in self.ctx.expected_deltas().items() if delta == 0)
        snap = Snapshot(counts=db_state.table_counts(conn), summary=db_state.template_summary(conn),
                        gates=db_state.gate_states(conn), fingerprint=db_state.fingerprint(conn, tables),
                        actors={} if post else db_state.actor_rows(conn))
        self.timings["snapshots_s"] = self.timings.get("snapshots_s", 0.0) + time.perf_counter() - began
        return snap

    def call_all(self, table: str, stage: str, checkpoints: Sequence[int] = (),
                 at_checkpoint: Callable[[int], None] | None = None) -> float:
        def progress(done: int, total: int) -> None:
            self.progress(stage, done, total)

        return call_orchestrator(self.ctx.conn, self.ctx.scenario, self.ctx.n, table, progress,
                                 checkpoints=checkpoints, at_checkpoint=at_checkpoint)


def _preflight(ctx: RunContext) -> None:
    """Refuse to run on a database where the run could not be told apart from what was there."""
    conn, scenario = ctx.conn, ctx.scenario
    require_runnable(conn)
    duplicates = conn.execute("SELECT count(*) - count(DISTINCT suffix) FROM pg_temp.iu_run_plan").fetchone()
    if duplicates and duplicates[0]:
        raise HarnessError(f"scenario {scenario.name}: {duplicates[0]} suffixes repeat at N={ctx.n:,} "
                           "(the mix's suffix patterns overlap)",
                           fix="give each mix item a distinct literal prefix, e.g. 'file-v1-{i:06d}'")
    rows = conn.execute("""
        SELECT k.key, c.kind, c.is_template,
               (SELECT count(*) FROM iu_core.iu_piece_membership m WHERE m.collection_id = c.id)::int
          FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS k(key, ord)
          LEFT JOIN iu_core.iu_piece_collection c ON c.collection_key = k.key
         ORDER BY k.ord""",
                        {"keys": [m.template for m in scenario.mix]}).fetchall()
    for (key, kind, is_template, pieces), item in zip(rows, scenario.mix, strict=True):
        if kind is None or not is_template:
            raise HarnessError(f"scenario {scenario.name}: template {key!r} is not a template in this database",
                               checked=f"iu_core.iu_piece_collection on baseline {scenario.baseline!r}",
                               fix="fix mix.template or the scenario's baseline")
        if kind != item.kind:
            raise HarnessError(f"scenario {scenario.name}: template {key!r} has kind {kind!r}, "
                               f"the scenario says {item.kind!r}", fix="fix mix.kind")
        ctx.pieces[key] = pieces
    _refuse_undefined_emit_mode(conn, scenario)
    existing = conn.execute("""
        SELECT (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %(a)s)
             + (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage WHERE actor = %(a)s)""",
                            {"a": scenario.actor}).fetchone()
    if existing and existing[0]:
        raise HarnessError(f"actor {scenario.actor!r} already has {existing[0]} rows in this database",
                           checked="auto log and lineage rows for the actor before the run",
                           fix="run on a fresh database (baseline) or give the scenario its own actor")
    taken = conn.execute(f"""
        SELECT count(*) FROM pg_temp.iu_run_plan p
          JOIN iu_core.iu_piece_collection c ON c.collection_key = {INSTANCE_KEY_SQL} || p.suffix""").fetchone()
    if taken and taken[0]:
        raise HarnessError(f"{taken[0]} of the scenario's instance keys already exist in this database",
                           fix="change the mix's suffix patterns")


def _refuse_undefined_emit_mode(conn: psycopg.Connection, scenario: Scenario) -> None:
    """A scenario's emit_mode the build refuses while it takes 'live' (SPEC: the one every build defines)
    is a mistake in the scenario (exit 2), not a failed invariant: one call of each, rolled back."""
    if scenario.emit_mode == "live":
        return
    item = scenario.mix[0]
    refusals: dict[str, str] = {}
    with conn.transaction(force_rollback=True):
        set_gates(conn, True)
        for mode in ("live", scenario.emit_mode):
            try:
                with conn.transaction():
                    call_orchestrator_once(conn, str(uuid.uuid4()), scenario.event_type, item.template,
                                           f"iu-harness-emit-mode-check-{mode}", scenario.actor, mode)
            except psycopg.Error as exc:
                refusals[mode] = f"{exc.sqlstate}: {db_error_text(exc)}"
    if scenario.emit_mode in refusals and "live" not in refusals:
        raise ScenarioError(f"{scenario.path}: field scenario.emit_mode: the build refuses {scenario.emit_mode!r} "
                            f"({refusals[scenario.emit_mode]}) while it takes 'live'",
                            checked=f"one call of each, rolled back, with template {item.template!r}",
                            fix="use 'live' or an emit_mode this build defines")


def run_scenario(database: Database, scenario: Scenario, n: int, *, rollback: bool = True,
                 progress: Progress | None = None, pool: DatabasePool | None = None,
                 clones: Clones | None = None, limits: resources.ResourceLimits | None = None) -> RunResult:
    """Run `scenario` at `n` on `database` (which it changes) and check every invariant.

    `limits`: the target N and memory budget the per-call resources are judged against
    (harness/run/resources.py; default SPEC's 100,000 or the scenario's target_n, and 1 GiB).

    The race probes need throwaway databases of the same build and state: `clones`, or fresh
    clones of the scenario's baseline from `pool` (the one `database` came from). Without
    either they are reported NOT RUN.
    """
    if clones is None and pool is not None:
        clones = BaselineClones(pool, scenario.baseline)
    started = time.perf_counter()
    with database.connect(autocommit=True) as conn:
        ctx = RunContext(conn, database, scenario, n, scenario.counts_at(n), clones=clones)
        run = _Run(ctx, progress, limits)
        create_plan(conn, scenario, n)
        _preflight(ctx)
        ctx.facts.pre = run.snapshot()
        ctx.facts.server_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        not_run: list[str] = []

        # K concurrent sessions (harness/run/workers.py), or the seeds' one scenario transaction.
        committed = _deliver_with_workers(run) if scenario.workers else _scenario_transaction(run)

        if committed:
            # Temp tables get no statistics of their own; with them the checks' joins of 1,000,000
            # plan and call rows plan without spilling batches (about 30 % less time at 1M).
            conn.execute("ANALYZE pg_temp.iu_run_plan, pg_temp.iu_run_calls")
            run.after_commit(rollback)
        else:
            # What a failed transaction left: the counts (they should equal the pre-run ones).
            ctx.facts.post = Snapshot(counts=db_state.table_counts(conn))
        ran = {r.name for r in run.results}
        skipped_phases = PHASES if not committed else (() if rollback else ("rollback",))
        for phase in skipped_phases:
            for inv in checks_for(phase, run.checks):
                if inv.name not in ran and inv.name not in run.not_run and (inv.applies is None or inv.applies(ctx)):
                    run.not_run[inv.name] = ("the scenario transaction did not commit" if not committed
                                             else "step skipped (--no-rollback)")
        not_run += list(run.not_run)
        run.timings["total_s"] = time.perf_counter() - started
        run.timings["harness_s"] = run.timings["total_s"] - run.timings.get("transaction_s", 0.0)
        if "calls_s" in run.timings:
            run.timings["per_instance_us"] = run.timings["calls_s"] / n * 1e6
            run.timings["instances_per_s"] = n / run.timings["calls_s"] if run.timings["calls_s"] else 0.0
            _per_instance(run.timings, n)
        ctx.facts.sample = _digest_sample(ctx) if committed else []
        if scenario.workers:
            workers.drop(conn)
        return RunResult(scenario, n, run.results, ctx.facts, run.timings, ctx.plan, ctx.pieces, not_run,
                         dict(run.not_run))


def copy_table(source: psycopg.Connection, target: psycopg.Connection, table: str) -> None:
    """Stream pg_temp.`table` from one session into the same (empty) table of another, block by block
    (binary COPY: nothing of size N is held in Python)."""
    with source.cursor().copy(f"COPY pg_temp.{table} TO STDOUT (FORMAT binary)") as rows, \
            target.cursor().copy(f"COPY pg_temp.{table} FROM STDIN (FORMAT binary)") as into:
        for block in rows:
            into.write(block)


def _scenario_transaction(run: _Run) -> bool:
    """The scenario transaction, as the seeds' driver: gates toggled inside it. True when it committed."""
    conn, ctx = run.ctx.conn, run.ctx
    capacity = resources.lock_capacity(conn)
    target_n, target_from = run.limits.target_for(ctx.scenario.target_n)
    tx_began = time.perf_counter()
    checks_s = 0.0
    try:
        with conn.transaction():
            with gates_open(conn):
                # What each call leaves held, read between chunks of calls at fixed fractions of N.
                meter = resources.Meter.start(conn, ctx.n)
                run.timings["calls_s"] = run.call_all(CALLS_TABLE, "scaleout", resources.checkpoint_calls(ctx.n),
                                                      meter.measure)
                ctx.facts.resources = resources.evaluate(meter, target_n, target_from, capacity,
                                                         run.limits.memory_budget_bytes)
                run.timings["resources_measure_s"] = meter.seconds
            checks_began = time.perf_counter()
            run.check_phase("in_tx")
            checks_s = time.perf_counter() - checks_began
        run.timings["transaction_s"] = time.perf_counter() - tx_began - checks_s
        return True
    except psycopg.Error as exc:
        run.step_failed("scenario_transaction_committed", "the scenario transaction ran to COMMIT", "in_tx", exc)
        return False


def _deliver_with_workers(run: _Run) -> bool:
    """K workers deliver the events (each batch commits); then the in-TX checks, in a transaction."""
    ctx = run.ctx
    facts = ctx.facts.workers = workers.deliver(ctx)
    if facts.error is not None:
        run.results.append(InvariantResult(
            "workers_delivered_every_event", "in_tx", "every worker delivered its events to COMMIT "
            "(deadlocks and serialization failures retried)", False, facts.error))
        return False
    run.timings["calls_s"] = run.timings["transaction_s"] = facts.wall_s
    with ctx.conn.transaction():
        run.check_phase("in_tx")
    return True


def _per_instance(timings: dict[str, float], n: int) -> None:
    """The replay's calls and the real rollback per instance, and each as a fraction of an ok call."""
    ok_us = timings["per_instance_us"]
    for name, key in (("replay", "replay_calls_s"), ("rollback", "rollback_s")):
        if key in timings:
            timings[f"{name}_per_instance_us"] = timings[key] / n * 1e6
            timings[f"{name}_vs_ok"] = timings[f"{name}_per_instance_us"] / ok_us if ok_us else 0.0


def _replay(run: _Run) -> None:
    ctx = run.ctx
    began = time.perf_counter()
    try:
        with ctx.conn.transaction(), gates_open(ctx.conn):
            # Around the calls only: the harness's own gate toggling is not the build's write.
            watch = db_state.watch_writes(ctx.conn)
            run.timings["replay_calls_s"] = run.call_all(REPLAY_TABLE, "replay")
            written = db_state.writes_since(ctx.conn, watch)
    except psycopg.Error as exc:
        run.step_failed("idempotent_replay", "replaying every event ran to COMMIT", "replay", exc)
        return
    ctx.facts.after_replay = ReplayFacts(db_state.table_counts(ctx.conn), written, watch.method)
    ctx.conn.execute("ANALYZE pg_temp.iu_run_replay")
    run.timings["replay_s"] = time.perf_counter() - began
    run.post_taken.wait()  # its check compares with the post-commit counts
    run.check_phase("replay")


DRY_RUN_SQL = """
WITH r AS (SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%(actor)s, true) AS j),
     named AS (
         INSERT INTO pg_temp.iu_run_dry_targets (ord, id)
         SELECT t.ord, t.value::uuid
           FROM r, jsonb_array_elements_text(coalesce(r.j -> 'target_instance_ids', '[]'))
                   WITH ORDINALITY AS t(value, ord)
         RETURNING 1)
SELECT r.j - 'target_instance_ids', (SELECT count(*) FROM named) FROM r
"""


def _dry_run(run: _Run, ctx: RunContext) -> None:
    """The dry run, on `ctx` (the post-commit session, in the committed state's snapshot). Its target ids
    go straight from SQL into a temp table: nothing of size N reaches Python."""
    try:
        with ctx.conn.transaction():  # a savepoint: the write counters are per (top-level) transaction
            # The post-commit snapshot's counts are this snapshot's: the "before".
            counts_before = ctx.facts.post.counts if ctx.facts.post is not None else db_state.table_counts(ctx.conn)
            watch = db_state.watch_writes(ctx.conn)
            result, named = ctx.conn.execute(DRY_RUN_SQL,  # type: ignore[misc]
                                             {"actor": ctx.scenario.actor}).fetchone()
            written = db_state.writes_since(ctx.conn, watch)
            counts_after = db_state.table_counts(ctx.conn)
    except psycopg.Error as exc:
        run.step_failed("rollback_dry_run_addressable", "the dry-run rollback answered", "rollback_dry_run", exc)
        return
    ctx.conn.execute("ANALYZE pg_temp.iu_run_dry_targets")
    summary = {k: v for k, v in result.items() if k != "actor"}
    summary["target_instance_ids"] = f"[{named} uuids]"
    ctx.facts.dry_run = DryRunFacts(result, summary, written, watch.method, counts_before == counts_after)
    run.check_phase("rollback_dry_run", ctx=ctx)


def _real_rollback(run: _Run) -> None:
    ctx = run.ctx
    began = time.perf_counter()
    try:
        result, named = ctx.conn.execute(REAL_ROLLBACK_SQL,  # type: ignore[misc]
                                         {"actor": ctx.scenario.actor}).fetchone()
    except psycopg.Error as exc:
        run.step_failed("rollback_restores_pre_state", "the real rollback answered", "rollback", exc)
        return
    run.timings["rollback_s"] = time.perf_counter() - began
    summary = {k: v for k, v in result.items() if k != "actor"}
    summary["target_instance_ids"] = f"[{named} uuids]"
    ctx.facts.rollback = RollbackFacts(summary, run.snapshot())
    run.check_phase("rollback")


def _digest_sample(ctx: RunContext, k: int = 3) -> list[SampleInstance]:
    """First k run instances by instance key (ids vary per run; keys and digests do not)."""
    rows = ctx.conn.execute(f"""
        SELECT p.template_key, {INSTANCE_KEY_SQL} || p.suffix, c.result->>'template_digest',
               c.result->>'instance_digest', (c.result->>'digest_match')::boolean
          FROM pg_temp.iu_run_calls c JOIN pg_temp.iu_run_plan p USING (seq)
         ORDER BY p.seq LIMIT %s""", (k,)).fetchall()
    return [SampleInstance(*row) for row in rows]
