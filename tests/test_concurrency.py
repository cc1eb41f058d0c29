"""Sessions racing on iu_core at the same time, against a real PostgreSQL.

- K sessions replay the same events in different (seeded) orders: each event is composed exactly
  once, every other answer is 'duplicate' with the same instance, nothing errors or deadlocks.
- Different actors scale out side by side: each gets exactly its own rows.
- A real rollback of one actor races another actor's scaleout: only the first actor's rows go.

Gate modes: `in-tx-toggle` is the SPEC's way (each session opens and closes the gates inside its
own transaction), which queues the sessions behind each other on the gate rows; `committed-open`
commits the gates open for the test (closed again after it), and each call is its own
transaction, so the sessions genuinely race on the instance-key claim. (One big transaction per
session with crossing orders would deadlock on the claims by lock-order inversion, the caller's
choice of order, so that mode calls per event as an event handler does.)

The checks are functions that return the problems they find, so the tests can also prove that
they find some on deliberately broken builds (tests/broken/*.sql).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sql_helpers import (
    EVENT_TYPE,
    GATES,
    event_uuid,
    expected_idempotency_key,
    gate_states,
    rollback_by_actor,
    set_gates,
    table_counts,
)

from harness.databases import state as db_state
from harness.databases.pool import Database, DatabasePool
from harness.spec import SPEC_COLUMNS

BASELINE = "after-25000x"
TEMPLATE_PIECES = {
    "tpl:file:status-report/v1": 5,
    "tpl:file:status-report/v2": 5,
    "tpl:wf:onboarding/v1": 6,
    "tpl:wf:onboarding/v2": 5,
}
TEMPLATES = sorted(TEMPLATE_PIECES)
BASELINE_ACTORS = ("iu-core-25000x-bulk", "iu-core-24000x-durable", "iu-core-ops-manual", "iu-core-seed")
EVENT_COUNT = 50
TIMEOUT_S = 20.0  # lock_timeout and statement_timeout of every session: nothing waits forever
JOIN_S = 45.0  # the whole race, after which a session still running counts as hung
IN_TX, COMMITTED_OPEN = "in-tx-toggle", "committed-open"
GATE_MODES = (IN_TX, COMMITTED_OPEN)
ALL_CLOSED = dict.fromkeys(GATES, False)
BROKEN = Path(__file__).parent / "broken"
COUNTED = ("iu_piece_collection", "iu_piece_membership", "iu_collection_template_instance_lineage",
           "iu_auto_instantiate_event_log")

Row = dict[str, Any]


# -- events and sessions --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Event:
    event_id: uuid.UUID
    template_key: str
    suffix: str
    actor: str

    @property
    def idempotency_key(self) -> str:
        return expected_idempotency_key(self.event_id, self.template_key, self.suffix)


def make_events(actor: str, count: int) -> list[Event]:
    """`count` events of one actor, cycling through the four templates, each its own suffix."""
    return [Event(event_uuid(actor, i), TEMPLATES[i % len(TEMPLATES)], f"{actor}-{i:03d}", actor)
            for i in range(count)]


def pieces_of(events: Sequence[Event]) -> int:
    return sum(TEMPLATE_PIECES[e.template_key] for e in events)


def call(conn: psycopg.Connection, event: Event) -> Row:
    row = conn.execute("SELECT iu_core.fn_iu_auto_instantiate_from_event(%s, %s, %s, %s, %s, 'live')",
                       (event.event_id, EVENT_TYPE, event.template_key, event.suffix, event.actor)).fetchone()
    assert row is not None
    return dict(row[0])


def open_session(db: Database) -> psycopg.Connection:
    """An autocommit session that gives up on any lock or statement after TIMEOUT_S."""
    timeout_ms = int(TIMEOUT_S * 1000)
    return db.connect(autocommit=True, connect_timeout=10,
                      options=f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms}")


def run_concurrently(db: Database, jobs: Sequence[Callable[[psycopg.Connection], Any]]) -> list[Any]:
    """Each job on its own session and thread, all released together by a barrier once connected.

    Returns each job's result, or the exception it raised, or a TimeoutError when it was still
    running after JOIN_S (its thread is a daemon: a hung session cannot hang the test run).
    """
    barrier = threading.Barrier(len(jobs), timeout=TIMEOUT_S)
    outcomes: list[Any] = [TimeoutError(f"session still running after {JOIN_S:.0f} s")] * len(jobs)

    def run(index: int, job: Callable[[psycopg.Connection], Any]) -> None:
        try:
            with open_session(db) as conn:
                barrier.wait()
                outcomes[index] = job(conn)
        except BaseException as exc:
            barrier.abort()
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, job), name=f"iu-session-{i}", daemon=True)
               for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return outcomes


def describe_error(exc: BaseException) -> str:
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}{f' [{sqlstate}]' if sqlstate else ''}: {str(exc).strip().splitlines()[0]}"


def replay_job(events: Sequence[Event], gate_mode: str) -> Callable[[psycopg.Connection], list[tuple[Event, Any]]]:
    """Call the orchestrator for `events` in order; gives (event, result or error) per call.

    in-tx-toggle: one transaction that opens the gates first and closes them last (an error
    aborts it, and the job). committed-open: each call its own transaction; an error is recorded
    for that call and the job goes on, so every racy answer shows.
    """

    def job(conn: psycopg.Connection) -> list[tuple[Event, Any]]:
        answers: list[tuple[Event, Any]] = []
        if gate_mode == IN_TX:
            with conn.transaction():
                set_gates(conn, True)
                answers.extend((event, call(conn, event)) for event in events)
                set_gates(conn, False)
            return answers
        for event in events:
            try:
                answers.append((event, call(conn, event)))
            except psycopg.Error as exc:
                answers.append((event, exc))
        return answers

    return job


@contextmanager
def committed_gates(conn: psycopg.Connection, gate_mode: str) -> Iterator[None]:
    """For committed-open: the gates committed open for the block, closed (committed) after it."""
    if gate_mode == COMMITTED_OPEN:
        set_gates(conn, True)
    try:
        yield
    finally:
        if gate_mode == COMMITTED_OPEN:
            set_gates(conn, False)


# -- state reads ----------------------------------------------------------------------------------
def actor_counts(conn: psycopg.Connection, actor: str) -> dict[str, int]:
    """The rows one actor's auto-instantiation owns, per table."""
    row = conn.execute("""
        WITH owned AS (  -- the actor's instances, by SPEC columns: its log and lineage rows
            SELECT instance_collection_id AS id FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %(a)s
            UNION SELECT instance_collection_id FROM iu_core.iu_collection_template_instance_lineage
                   WHERE actor = %(a)s)
        SELECT (SELECT count(*) FROM iu_core.iu_piece_collection WHERE id IN (SELECT id FROM owned)
                   AND NOT is_template),
               (SELECT count(*) FROM iu_core.iu_piece_membership m
                  JOIN iu_core.iu_piece_collection c ON c.id = m.collection_id
                 WHERE c.id IN (SELECT id FROM owned) AND NOT c.is_template),
               (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage
                 WHERE actor = %(a)s AND origin = 'auto'),
               (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %(a)s)""",
                       {"a": actor}).fetchone()
    assert row is not None
    return dict(zip(COUNTED, (int(v) for v in row), strict=True))


def digest_audit(conn: psycopg.Connection, actor: str | None = None) -> dict[str, int]:
    """The seeds' `digest_drift / digest_ok / total` line, recomputed by the harness (one actor's, or all)."""
    audit = db_state.digest_audit(conn, actor)
    prefix = "actor_" if actor is not None else ""
    return {k: audit[prefix + k] for k in ("drift", "ok", "total")}


def expected_actor_counts(events: Sequence[Event]) -> dict[str, int]:
    n = len(events)
    return dict(zip(COUNTED, (n, pieces_of(events), n, n), strict=True))


# Which rows of a table belong to the given actors (everything else is "the others' rows").
_OWNED_BY = {
    "iu_piece_collection": ("NOT t.is_template AND t.id IN (SELECT instance_collection_id"
                            " FROM iu_core.iu_collection_template_instance_lineage WHERE actor = ANY ({actors}))"),
    "iu_piece_membership": ("t.collection_id IN (SELECT instance_collection_id"
                            " FROM iu_core.iu_collection_template_instance_lineage WHERE actor = ANY ({actors}))"),
    "iu_collection_template_instance_lineage": "t.actor = ANY ({actors})",
    "iu_auto_instantiate_event_log": "t.actor = ANY ({actors})",
}


def others_fingerprint(conn: psycopg.Connection, actors: Sequence[str]) -> dict[str, str]:
    """`{table: "<rows>:<md5>"}` over every SPEC table's rows that do NOT belong to `actors`, SPEC columns only:
    what else a build keeps (who toggled a gate last, set by its own trigger) is not what SPEC protects."""
    actors_literal = sql.Literal(list(actors))
    parts = []
    for table, columns in SPEC_COLUMNS.items():
        owned = _OWNED_BY.get(table)
        where = sql.SQL("WHERE NOT ({})").format(sql.SQL(owned).format(actors=actors_literal)) if owned \
            else sql.SQL("")
        parts.append(sql.SQL(
            "SELECT {name}, count(*), coalesce(md5(string_agg(r, E'\\n' ORDER BY r COLLATE \"C\")), '')"
            " FROM (SELECT jsonb_build_array({columns})::text AS r FROM iu_core.{table} t {where}) x").format(
            name=sql.Literal(table), table=sql.Identifier(table), where=where,
            columns=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns)))
    return {t: f"{n}:{d}" for t, n, d in conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()}


def logged_instances(conn: psycopg.Connection, actor: str) -> dict[str, str]:
    """idempotency key -> instance id of the actor's sidecar log rows."""
    return {k: str(i) for k, i in conn.execute(
        "SELECT idempotency_key, instance_collection_id FROM iu_core.iu_auto_instantiate_event_log"
        " WHERE actor = %s", (actor,)).fetchall()}


def count_problems(before: dict[str, int], after: dict[str, int], expected: dict[str, int]) -> list[str]:
    delta = {t: after[t] - before[t] for t in before}
    want = {t: expected.get(t, 0) for t in before}
    return [f"{t}: delta {delta[t]:+d}, expected {want[t]:+d}" for t in before if delta[t] != want[t]]


def audit_problems(conn: psycopg.Connection, total: int) -> list[str]:
    audit = digest_audit(conn)
    if audit != {"drift": 0, "ok": total, "total": total}:
        return [f"v_iu_digest_audit {audit}, expected drift 0 and ok = total = {total}"]
    return []


def gate_problems(conn: psycopg.Connection) -> list[str]:
    gates = gate_states(conn)
    return [] if gates == ALL_CLOSED else [f"gates not closed after the race: {gates}"]


def capped(problems: list[str], limit: int = 12) -> list[str]:
    return problems if len(problems) <= limit else [*problems[:limit], f"... and {len(problems) - limit} more"]


# -- checks that return problems ------------------------------------------------------------------
def race_problems(db: Database, k: int, gate_mode: str, seed: int, actor: str = "test-race") -> list[str]:
    """K sessions replay the same EVENT_COUNT events in K seeded orders at once; what went wrong."""
    events = make_events(actor, EVENT_COUNT)
    orders = [random.Random(f"{seed}:{i}").sample(events, len(events)) for i in range(k)]
    with db.connect(autocommit=True) as admin:
        before, audit_before = table_counts(admin), digest_audit(admin)
        with committed_gates(admin, gate_mode):
            outcomes = run_concurrently(db, [replay_job(order, gate_mode) for order in orders])
        after = table_counts(admin)
        problems = count_problems(before, after, {"iu_piece_collection": EVENT_COUNT,
                                                  "iu_piece_membership": pieces_of(events),
                                                  "iu_collection_template_instance_lineage": EVENT_COUNT,
                                                  "iu_auto_instantiate_event_log": EVENT_COUNT})
        problems += audit_problems(admin, audit_before["total"] + EVENT_COUNT)
        problems += gate_problems(admin)
        logged = logged_instances(admin, actor)

    answers: dict[str, list[tuple[int, Any]]] = {e.idempotency_key: [] for e in events}
    for session, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):
            problems.append(f"session {session}: {describe_error(outcome)}")
            continue
        if sorted(e.suffix for e, _ in outcome) != sorted(e.suffix for e in events):
            problems.append(f"session {session} answered {len(outcome)} of {len(events)} events")
        for event, answer in outcome:
            answers[event.idempotency_key].append((session, answer))

    ok_ids: list[str] = []
    for event in events:
        key = event.idempotency_key
        errors = [(s, a) for s, a in answers[key] if isinstance(a, BaseException)]
        results = [(s, a) for s, a in answers[key] if not isinstance(a, BaseException)]
        problems += [f"{event.suffix} session {s}: {describe_error(a)}" for s, a in errors]
        statuses = sorted(a.get("status") for _, a in results)
        oks = [a for _, a in results if a.get("status") == "ok"]
        if len(oks) != 1 or any(s not in ("ok", "duplicate") for s in statuses):
            problems.append(f"{event.suffix}: statuses {statuses}, expected one 'ok', the rest 'duplicate'")
        ids = {a.get("instance_id") for _, a in results}
        if len(ids) > 1:
            problems.append(f"{event.suffix}: answers name {len(ids)} different instances {sorted(map(str, ids))}")
        if any(a.get("idempotency_key") != key for _, a in results):
            problems.append(f"{event.suffix}: an answer carries another idempotency key")
        if oks:
            ok_ids.append(str(oks[0]["instance_id"]))
            if logged.get(key) != str(oks[0]["instance_id"]):
                problems.append(f"{event.suffix}: the log names {logged.get(key)}, the 'ok' answer "
                                f"{oks[0]['instance_id']}")
    if len(set(ok_ids)) != len(ok_ids):
        problems.append("two events were answered with the same new instance")
    if set(logged) != set(answers):
        problems.append(f"the log holds {len(logged)} keys of {actor}, expected the {len(answers)} replayed")
    return capped(problems)


def scaleout_job(events: Sequence[Event], gate_mode: str) -> Callable[[psycopg.Connection], list[Row]]:
    """One transaction composing `events` (gates toggled inside it for in-tx-toggle)."""

    def job(conn: psycopg.Connection) -> list[Row]:
        with conn.transaction():
            if gate_mode == IN_TX:
                set_gates(conn, True)
            results = [call(conn, event) for event in events]
            if gate_mode == IN_TX:
                set_gates(conn, False)
        return results

    return job


def scaleout_answer_problems(name: str, events: Sequence[Event], outcome: Any) -> list[str]:
    if isinstance(outcome, BaseException):
        return [f"{name}: {describe_error(outcome)}"]
    bad = [(e.suffix, r.get("status")) for e, r in zip(events, outcome, strict=True) if r.get("status") != "ok"]
    return [f"{name}: {len(bad)} of {len(events)} calls not 'ok', e.g. {bad[:3]}"] if bad else []


def actors_problems(db: Database, actors: Sequence[str], per_actor: int, gate_mode: str) -> list[str]:
    """Each actor scales out its own events in its own session, all at once; what went wrong."""
    plans = {actor: make_events(actor, per_actor) for actor in actors}
    with db.connect(autocommit=True) as admin:
        before, audit_before = table_counts(admin), digest_audit(admin)
        others_before = others_fingerprint(admin, actors)
        with committed_gates(admin, gate_mode):
            outcomes = run_concurrently(db, [scaleout_job(plans[a], gate_mode) for a in actors])
        problems: list[str] = []
        for actor, outcome in zip(actors, outcomes, strict=True):
            problems += scaleout_answer_problems(actor, plans[actor], outcome)
            counts = actor_counts(admin, actor)
            if counts != expected_actor_counts(plans[actor]):
                problems.append(f"{actor}: rows {counts}, expected {expected_actor_counts(plans[actor])}")
            audit = digest_audit(admin, actor)
            if audit != {"drift": 0, "ok": per_actor, "total": per_actor}:
                problems.append(f"{actor}: digest audit {audit}")
        total = len(actors) * per_actor
        problems += count_problems(before, table_counts(admin), {
            "iu_piece_collection": total, "iu_piece_membership": sum(pieces_of(p) for p in plans.values()),
            "iu_collection_template_instance_lineage": total, "iu_auto_instantiate_event_log": total})
        problems += audit_problems(admin, audit_before["total"] + total)
        if others_fingerprint(admin, actors) != others_before:
            problems.append("rows of no racing actor changed")
        problems += gate_problems(admin)
    return capped(problems)


def rollback_race_problems(db: Database, per_actor: int = 60) -> list[str]:
    """Actor A's real rollback races actor B's scaleout: A must end with no rows, B with all of
    its rows, and every row of neither (the baseline's actors, templates, iu...) untouched."""
    actor_a, actor_b = "test-rollback-a", "test-scaleout-b"
    events_a, events_b = make_events(actor_a, per_actor), make_events(actor_b, per_actor)
    with db.connect(autocommit=True) as admin:
        others_before = others_fingerprint(admin, [actor_a, actor_b])
        counts_before, audit_before = table_counts(admin), digest_audit(admin)
        problems = scaleout_answer_problems(f"{actor_a} setup", events_a, scaleout_job(events_a, IN_TX)(admin))
        if problems:
            return problems
        a_ids = sorted(str(i) for i in logged_instances(admin, actor_a).values())

        outcomes = run_concurrently(db, [
            lambda conn: rollback_by_actor(conn, actor_a, dry_run=False),
            scaleout_job(events_b, IN_TX),
        ])
        rollback, scaleout = outcomes
        if isinstance(rollback, BaseException):
            problems.append(f"rollback of {actor_a}: {describe_error(rollback)}")
        else:
            expected = {"status": "ok", "target_instance_ids": a_ids,
                        "deleted_instance_collections": per_actor, "deleted_lineage_rows": per_actor,
                        "deleted_log_rows": per_actor, "deleted_membership_rows": pieces_of(events_a)}
            got = {k: rollback.get(k) for k in expected}
            if got != expected:
                problems.append(f"rollback of {actor_a} answered "
                                f"{ {k: v for k, v in got.items() if k != 'target_instance_ids'} }"
                                f"{'' if got['target_instance_ids'] == a_ids else ' with other targets'},"
                                f" expected { {k: v for k, v in expected.items() if k != 'target_instance_ids'} }")
        problems += scaleout_answer_problems(actor_b, events_b, scaleout)

        if (counts := actor_counts(admin, actor_a)) != dict.fromkeys(COUNTED, 0):
            problems.append(f"{actor_a} still has rows after its rollback: {counts}")
        if (counts := actor_counts(admin, actor_b)) != expected_actor_counts(events_b):
            problems.append(f"{actor_b}: rows {counts}, expected {expected_actor_counts(events_b)}")
        others_after = others_fingerprint(admin, [actor_a, actor_b])
        changed = sorted(t for t in others_before if others_after.get(t) != others_before[t])
        if changed:
            problems.append(f"rows of neither actor changed in {changed}: "
                            + ", ".join(f"{t} {others_before[t].split(':')[0]} -> "
                                        f"{others_after.get(t, '?').split(':')[0]} rows" for t in changed))
        problems += count_problems(counts_before, table_counts(admin), {
            "iu_piece_collection": per_actor, "iu_piece_membership": pieces_of(events_b),
            "iu_collection_template_instance_lineage": per_actor, "iu_auto_instantiate_event_log": per_actor})
        problems += audit_problems(admin, audit_before["total"] + per_actor)
        problems += gate_problems(admin)
    return capped(problems)


@contextmanager
def broken_build(iu_pool: DatabasePool, file_name: str) -> Iterator[DatabasePool]:
    """A pool over the session's server whose databases load tests/broken/<file_name> after the schema."""
    config = dataclasses.replace(iu_pool.config, extra_sql=(*iu_pool.config.extra_sql, BROKEN / file_name))
    pool = DatabasePool(iu_pool.server, config)
    try:
        yield pool
    finally:
        pool.close()


# -- tests ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("gate_mode", GATE_MODES)
@pytest.mark.parametrize("k", [2, 4, 8], ids=lambda k: f"K{k}")
def test_concurrent_replays_compose_each_event_once(iu_db_factory: Callable[..., Database], k: int,
                                                    gate_mode: str) -> None:
    assert race_problems(iu_db_factory(BASELINE), k, gate_mode, seed=k) == []


@pytest.mark.parametrize("gate_mode", GATE_MODES)
def test_actors_scaling_out_concurrently_get_exactly_their_rows(iu_db_factory: Callable[..., Database],
                                                                 gate_mode: str) -> None:
    actors = [f"test-actor-{i}" for i in range(4)]
    assert actors_problems(iu_db_factory(BASELINE), actors, per_actor=25, gate_mode=gate_mode) == []


def test_rollback_racing_another_actors_scaleout(iu_db_factory: Callable[..., Database]) -> None:
    assert rollback_race_problems(iu_db_factory(BASELINE)) == []


@pytest.mark.bundled_build("a broken copy of its function bodies (tests/broken)")
def test_racy_idempotency_build_is_caught(iu_pool: DatabasePool) -> None:
    """tests/broken/idempotency_race.sql answers IU004 where a concurrent replay is a duplicate.

    The bug shows only when two sessions meet on one key at the same moment; 8 sessions racing
    over 50 keys meet 3 to 9 times a round here, so a round that happens to miss is retried."""
    rounds: list[list[str]] = []
    with broken_build(iu_pool, "idempotency_race.sql") as pool:
        while len(rounds) < 3 and not (rounds and rounds[-1]):
            db = pool.clone(BASELINE)
            rounds.append(race_problems(db, 8, COMMITTED_OPEN, seed=8 + len(rounds)))
            pool.drop(db.name)
    problems = rounds[-1]
    assert problems, f"the racy build passed the concurrent replay check {len(rounds)} times"
    assert any("IU004" in p and "already exists for another event" in p for p in problems), problems


@pytest.mark.bundled_build("a broken copy of its function bodies (tests/broken)")
def test_rollback_touching_other_actors_is_caught(iu_pool: DatabasePool) -> None:
    """tests/broken/rollback_touches_other_actor.sql also deletes the baseline actors' auto rows."""
    with broken_build(iu_pool, "rollback_touches_other_actor.sql") as pool:
        problems = rollback_race_problems(pool.clone(BASELINE))
    assert any("rows of neither actor changed" in p for p in problems), problems
    assert any("rollback of test-rollback-a answered" in p for p in problems), problems


def test_rollback_racing_another_actors_scaleout_on_a_build_that_records_gate_toggles(iu_pool: DatabasePool) -> None:
    """A conforming build whose gate rows record, by trigger, when they were toggled last (columns SPEC does
    not name; tests/variations/gate_touch.sql): the rows of neither actor are compared on SPEC's columns."""
    variation = Path(__file__).resolve().parent / "variations" / "gate_touch.sql"
    loaded = iu_pool.config.extra_sql
    extra = loaded if variation in loaded else (*loaded, variation)  # once, when the session already loads it
    config = dataclasses.replace(iu_pool.config, extra_sql=extra)
    pool = DatabasePool(iu_pool.server, config)
    try:
        assert rollback_race_problems(pool.clone(BASELINE)) == []
    finally:
        pool.close()
