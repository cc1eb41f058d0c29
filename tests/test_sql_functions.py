"""Every status and error path of the iu_core functions and views, against a real PostgreSQL.

Error paths run inside a transaction that opened the gates; each test proves the
transaction aborted, nothing was half-written (whole-database fingerprint
before == after) and no gate was left open.
"""

from __future__ import annotations

import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pytest
from psycopg import pq, sql
from sql_helpers import (
    AUTO_GATE,
    COMPOSER_GATE,
    EVENT_TYPE,
    GATES,
    call_auto,
    collection_id,
    event_uuid,
    expected_idempotency_key,
    fingerprint,
    gate_states,
    gates_open,
    manifest_digest,
    pieces,
    rollback_by_actor,
    set_gates,
    table_counts,
    table_fingerprints,
    wait_until_blocked,
)

from harness.databases.pool import Database, DatabasePool

# About our own build: skipped (one line) when --iu-sql-dir names another one.
pytestmark = pytest.mark.bundled_build("its functions' every path, helpers and SQLSTATE catalogue (IU001..IU011)")

TEMPLATE_PIECES = {
    "tpl:file:status-report/v1": 5,
    "tpl:file:status-report/v2": 5,
    "tpl:wf:onboarding/v1": 6,
    "tpl:wf:onboarding/v2": 5,
}
WF_V2 = "tpl:wf:onboarding/v2"
FILE_V2 = "tpl:file:status-report/v2"
MANUAL_ACTOR = "iu-core-ops-manual"
DURABLE_ACTOR = "iu-core-24000x-durable"
BULK_ACTOR = "iu-core-25000x-bulk"
DURABLE_EVENT = uuid.UUID("24000d00-0000-0000-0000-000000000001")
DURABLE_SUFFIX = "24000x-durable-wf-v2-01"
MANUAL_INSTANCE = "tpl-inst:manual:onboarding-v2-acme"
HEX16 = re.compile(r"[0-9a-f]{16}")
ALL_CLOSED = dict.fromkeys(GATES, False)


# -- fixtures and local helpers -------------------------------------------------------------------
def _connect(db: Database) -> Iterator[psycopg.Connection]:
    with db.connect(autocommit=True) as conn:
        yield conn


@pytest.fixture
def before_conn(iu_db_factory: Callable[..., Database]) -> Iterator[psycopg.Connection]:
    """A fresh before-25000x database: for tests that commit."""
    yield from _connect(iu_db_factory("before-25000x"))


@pytest.fixture
def after_conn(iu_db_factory: Callable[..., Database]) -> Iterator[psycopg.Connection]:
    yield from _connect(iu_db_factory("after-25000x"))


class SharedDatabase:
    """A module-wide clone for tests that never commit; replaced when a test left a trace in it."""

    def __init__(self, pool: DatabasePool, baseline: str) -> None:
        self.pool, self.baseline = pool, baseline
        self._open()

    def _open(self) -> None:
        self.db = self.pool.clone(self.baseline)
        self.conn = self.db.connect(autocommit=True)
        self.fingerprint = fingerprint(self.conn)

    def close(self) -> None:
        self.conn.close()
        self.pool.drop(self.db.name)

    def still_clean(self) -> bool:
        if (self.conn.info.transaction_status == pq.TransactionStatus.IDLE
                and fingerprint(self.conn) == self.fingerprint):
            return True
        self.close()
        self._open()
        return False


def _shared(pool: DatabasePool, baseline: str) -> Iterator[SharedDatabase]:
    shared = SharedDatabase(pool, baseline)
    try:
        yield shared
    finally:
        shared.close()


def _use_shared(shared: SharedDatabase) -> Iterator[psycopg.Connection]:
    yield shared.conn
    if not shared.still_clean():
        pytest.fail(f"the test changed the shared {shared.baseline} database (replaced for the next tests)")


@pytest.fixture(scope="module")
def _shared_before(iu_pool: DatabasePool) -> Iterator[SharedDatabase]:
    yield from _shared(iu_pool, "before-25000x")


@pytest.fixture(scope="module")
def _shared_after(iu_pool: DatabasePool) -> Iterator[SharedDatabase]:
    yield from _shared(iu_pool, "after-25000x")


@pytest.fixture
def shared_conn(_shared_before: SharedDatabase) -> Iterator[psycopg.Connection]:
    """The module's before-25000x database; the test must leave it exactly as it found it."""
    yield from _use_shared(_shared_before)


@pytest.fixture
def shared_after(_shared_after: SharedDatabase) -> Iterator[psycopg.Connection]:
    """The module's after-25000x database; the test must leave it exactly as it found it."""
    yield from _use_shared(_shared_after)


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {t: after[t] - before[t] for t in before if after[t] != before[t]}


def pg_quote(value: str | None) -> str:
    """How quote_nullable / quote_literal render a value in a message."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def assert_aborts(conn: psycopg.Connection, call: Callable[[], object],
                  open_gates: Sequence[str] = GATES) -> psycopg.Error:
    """Run `call` in a transaction that first opens `open_gates`; it must raise and abort that
    transaction, leaving the database exactly as it was and every gate closed."""
    before = table_fingerprints(conn)
    with pytest.raises(psycopg.Error) as info, conn.transaction():
        if open_gates:
            set_gates(conn, True, open_gates)
        try:
            call()
        except psycopg.Error:
            assert conn.info.transaction_status == pq.TransactionStatus.INERROR
            with pytest.raises(psycopg.errors.InFailedSqlTransaction):
                conn.execute("SELECT 1")
            raise
        pytest.fail("no error raised")  # inside the transaction block, so it rolls back
    assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    assert table_fingerprints(conn) == before
    assert gate_states(conn) == ALL_CLOSED
    return info.value


def scalar(conn: psycopg.Connection, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def compose(conn: psycopg.Connection, template_key: str | None, instance_key: str | None,
            actor: str | None) -> uuid.UUID:
    return uuid.UUID(str(scalar(conn, "SELECT iu_core.fn_iu_compose(%s::text, %s::text, %s::text)",
                                (template_key, instance_key, actor))))


def record_lineage(conn: psycopg.Connection, template_id: uuid.UUID | None, instance_id: uuid.UUID | None,
                   actor: str | None, origin: str | None) -> int:
    return int(scalar(conn, "SELECT iu_core.fn_iu_collection_record_template_instance("
                            "%s::uuid, %s::uuid, %s::text, %s::text)",
                      (template_id, instance_id, actor, origin)))


def scaleout(conn: psycopg.Connection, actor: str, plan: Sequence[tuple[str, int]]) -> list[uuid.UUID]:
    """One committed in-TX-gated transaction creating `count` instances per template for `actor`."""
    ids = []
    with gates_open(conn):
        for template_key, count in plan:
            for i in range(count):
                suffix = f"{actor}-{template_key.split(':')[1]}-{template_key[-2:]}-{i:03d}"
                result = call_auto(conn, event_uuid(actor + template_key, i), template_key, suffix, actor)
                assert result["status"] == "ok", result
                ids.append(uuid.UUID(result["instance_id"]))
    return ids


def suffix_rows(conn: psycopg.Connection, suffix: str) -> list[tuple[uuid.UUID, int, int]]:
    """(instance id, its log rows, its lineage rows) for every collection of that suffix."""
    return [(uuid.UUID(str(i)), int(log), int(lin)) for i, log, lin in conn.execute(
        "SELECT c.id,"
        " (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log l"
        "   WHERE l.instance_collection_id = c.id),"
        " (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage g"
        "   WHERE g.instance_collection_id = c.id)"
        " FROM iu_core.iu_piece_collection c WHERE c.collection_key = %s",
        ("tpl-inst:auto:" + suffix,)).fetchall()]


# -- fn_iu_auto_instantiate_from_event: ok -------------------------------------------------------
@pytest.mark.parametrize("template_key", sorted(TEMPLATE_PIECES))
def test_auto_instantiate_ok_writes_exactly_one_instance(before_conn: psycopg.Connection,
                                                         template_key: str) -> None:
    conn = before_conn
    event, suffix, actor = event_uuid("ok", 1), f"test-ok-{template_key[-2:]}-1", "test-actor-ok"
    template_id = collection_id(conn, template_key)
    template_pieces = pieces(conn, template_id)
    assert len(template_pieces) == TEMPLATE_PIECES[template_key]
    template_kind = scalar(conn, "SELECT kind FROM iu_core.iu_piece_collection WHERE id = %s", (template_id,))
    before = table_counts(conn)

    with gates_open(conn):
        result = call_auto(conn, event, template_key, suffix, actor)
        inside = table_counts(conn)

    after = table_counts(conn)
    assert inside == after
    assert delta(before, after) == {
        "iu_piece_collection": 1,
        "iu_piece_membership": TEMPLATE_PIECES[template_key],
        "iu_collection_template_instance_lineage": 1,
        "iu_auto_instantiate_event_log": 1,
    }
    assert {"status", "instance_id", "instance_key", "idempotency_key", "template_digest",
            "instance_digest", "digest_match"} <= set(result)
    assert result["status"] == "ok"
    instance_id = uuid.UUID(result["instance_id"])
    assert result["instance_key"] == "tpl-inst:auto:" + suffix
    assert result["idempotency_key"] == expected_idempotency_key(event, template_key, suffix)
    assert result["idempotency_key"] == scalar(
        conn, "SELECT md5(%s::uuid::text || ':' || %s || ':' || %s)", (event, template_key, suffix))
    assert HEX16.fullmatch(result["template_digest"])
    assert result["template_digest"] == manifest_digest(conn, template_id)
    assert result["instance_digest"] == result["template_digest"] == manifest_digest(conn, instance_id)
    assert result["digest_match"] is True

    # the instance: a non-template of the template's kind, reusing the template's own IUs
    assert collection_id(conn, result["instance_key"]) == instance_id
    assert conn.execute("SELECT kind, is_template, manifest_digest FROM iu_core.iu_piece_collection"
                        " WHERE id = %s", (instance_id,)).fetchone() == (
        template_kind, False, result["template_digest"])
    assert pieces(conn, instance_id) == template_pieces
    assert conn.execute("SELECT template_collection_id, origin, actor"
                        " FROM iu_core.iu_collection_template_instance_lineage"
                        " WHERE instance_collection_id = %s", (instance_id,)).fetchall() == [
        (template_id, "auto", actor)]
    assert conn.execute(
        "SELECT event_id, event_type, template_collection_key, actor, emit_mode, idempotency_key,"
        " template_digest, instance_digest FROM iu_core.iu_auto_instantiate_event_log"
        " WHERE instance_collection_id = %s", (instance_id,)).fetchall() == [
        (event, EVENT_TYPE, template_key, actor, "live", result["idempotency_key"],
         result["template_digest"], result["instance_digest"])]
    assert gate_states(conn) == ALL_CLOSED


@pytest.mark.parametrize("emit_mode", [None, "live", "backfill"], ids=["default", "live", "backfill"])
def test_auto_instantiate_records_emit_mode(shared_conn: psycopg.Connection, emit_mode: str | None) -> None:
    conn = shared_conn
    with conn.transaction():
        set_gates(conn, True)
        if emit_mode is None:  # the 5-argument form: emit_mode defaults to 'live'
            result = scalar(conn, "SELECT iu_core.fn_iu_auto_instantiate_from_event(%s, %s, %s, %s, %s)",
                            (event_uuid("mode", 1), EVENT_TYPE, WF_V2, "test-mode-1", "test-actor-mode"))
        else:
            result = call_auto(conn, event_uuid("mode", 1), WF_V2, "test-mode-1", "test-actor-mode",
                               emit_mode)
        assert result["status"] == "ok"
        recorded = scalar(conn, "SELECT emit_mode FROM iu_core.iu_auto_instantiate_event_log"
                                " WHERE instance_collection_id = %s", (result["instance_id"],))
        assert recorded == (emit_mode or "live")
        raise psycopg.Rollback()


# -- duplicate ------------------------------------------------------------------------------------
def test_auto_instantiate_duplicate_returns_original_and_writes_nothing(
        before_conn: psycopg.Connection) -> None:
    conn = before_conn
    event, suffix, actor = event_uuid("dup", 1), "test-dup-1", "test-actor-dup"
    with gates_open(conn):
        first = call_auto(conn, event, WF_V2, suffix, actor)
        counts_in_tx = table_counts(conn)
        again_in_tx = call_auto(conn, event, WF_V2, suffix, actor)  # same transaction, not yet committed
        assert table_counts(conn) == counts_in_tx
    assert first["status"] == "ok"
    fp = fingerprint(conn)

    replay_gates_closed = call_auto(conn, event, WF_V2, suffix, actor)  # autocommit, gates closed at rest
    with gates_open(conn):
        # the idempotency key is event:template:suffix only: another actor/type/mode is still a replay
        replay_other_caller = call_auto(conn, event, WF_V2, suffix, "someone-else", "backfill",
                                        event_type="iu.other.event")
    durable_replay = call_auto(conn, DURABLE_EVENT, WF_V2, DURABLE_SUFFIX, DURABLE_ACTOR)

    for replay in (again_in_tx, replay_gates_closed, replay_other_caller):
        assert replay["status"] == "duplicate"
        assert replay["instance_id"] == first["instance_id"]
        assert replay["instance_key"] == first["instance_key"]
        assert replay["idempotency_key"] == first["idempotency_key"]
    assert durable_replay["status"] == "duplicate"
    assert uuid.UUID(durable_replay["instance_id"]) == collection_id(conn, "tpl-inst:auto:" + DURABLE_SUFFIX)
    assert fingerprint(conn) == fp
    assert gate_states(conn) == ALL_CLOSED


# -- gated ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("closed", [AUTO_GATE, COMPOSER_GATE, "both"])
def test_auto_instantiate_gated_names_the_gate_and_writes_nothing(shared_conn: psycopg.Connection,
                                                                  closed: str) -> None:
    conn = shared_conn
    event, suffix = event_uuid("gated", 1), "test-gated-1"
    fp_at_rest = fingerprint(conn)
    with conn.transaction():
        if closed != "both":
            set_gates(conn, True, [g for g in GATES if g != closed])
        fp = fingerprint(conn)
        result = call_auto(conn, event, WF_V2, suffix, "test-actor-gated")
        assert fingerprint(conn) == fp
        assert result["status"] == "gated"
        assert result["gate"] in ((closed,) if closed != "both" else GATES)
        assert result.get("instance_id") is None
        assert result["idempotency_key"] == expected_idempotency_key(event, WF_V2, suffix)
        # nothing of the gated call remains: opening the gate lets the same event compose
        set_gates(conn, True)
        assert call_auto(conn, event, WF_V2, suffix, "test-actor-gated")["status"] == "ok"
        raise psycopg.Rollback()
    assert fingerprint(conn) == fp_at_rest


# -- bad input ------------------------------------------------------------------------------------
AUTO_ARGS: dict[str, Any] = {
    "event_id": event_uuid("bad", 1), "event_type": EVENT_TYPE, "template_key": WF_V2,
    "suffix": "test-bad-input-1", "actor": "test-actor-bad", "emit_mode": "live",
}
BLANKS = {"null": None, "empty": "", "spaces": "   ", "whitespace": " \t\r\n"}
TOO_LONG = "L" + "x" * 512  # 513 characters, the limit is 512


def _auto_bad_inputs() -> list[Any]:
    cases = [pytest.param({"event_id": None}, "IU001", ["argument event_id", "NULL"], id="event_id-null")]
    for arg in ("event_type", "template_key", "suffix", "actor", "emit_mode"):
        cases += [pytest.param({arg: value}, "IU001", [f"argument {arg}", f"got {pg_quote(value)}"],
                               id=f"{arg}-{label}") for label, value in BLANKS.items()]
        cases.append(pytest.param({arg: TOO_LONG}, "IU009",
                                  [f"argument {arg}", "513 characters", "512", pg_quote(TOO_LONG[:40])],
                                  id=f"{arg}-too-long"))
    instance_key = "tpl-inst:auto:" + DURABLE_SUFFIX
    return [*cases,
            pytest.param({"template_key": "tpl:file:no-such/v9"}, "IU002", ["'tpl:file:no-such/v9'"],
                         id="unknown-template"),
            pytest.param({"template_key": MANUAL_INSTANCE}, "IU002", [pg_quote(MANUAL_INSTANCE), "instance"],
                         id="manual-instance-as-template"),
            pytest.param({"template_key": instance_key}, "IU002", [pg_quote(instance_key)],
                         id="auto-instance-as-template"),
            pytest.param({"template_key": "col:file:handbook"}, "IU002", ["'col:file:handbook'"],
                         id="plain-collection-as-template"),
            pytest.param({"emit_mode": "bogus-mode"}, "IU003", ["'bogus-mode'"], id="undefined-emit-mode"),
            pytest.param({"emit_mode": "LIVE"}, "IU003", ["'LIVE'"], id="emit-mode-wrong-case"),
            pytest.param({"suffix": DURABLE_SUFFIX}, "IU004",
                         [pg_quote(instance_key), str(AUTO_ARGS["event_id"])], id="suffix-of-another-event"),
            pytest.param({"event_id": DURABLE_EVENT, "template_key": FILE_V2, "suffix": DURABLE_SUFFIX},
                         "IU004", [pg_quote(instance_key)], id="same-event-other-template-same-suffix")]


@pytest.mark.parametrize(("overrides", "sqlstate", "fragments"), _auto_bad_inputs())
def test_auto_instantiate_bad_input_raises_and_aborts(shared_conn: psycopg.Connection,
                                                      overrides: dict[str, Any], sqlstate: str,
                                                      fragments: list[str]) -> None:
    args = {**AUTO_ARGS, **overrides}
    error = assert_aborts(shared_conn, lambda: call_auto(shared_conn, **args))
    assert error.sqlstate == sqlstate, error
    message = error.diag.message_primary or ""
    for fragment in fragments:
        assert fragment in message


def test_auto_instantiate_suffix_taken_by_a_manual_compose(shared_conn: psycopg.Connection) -> None:
    def compose_then_auto() -> None:
        compose(shared_conn, FILE_V2, "tpl-inst:auto:test-taken-1", MANUAL_ACTOR)
        call_auto(shared_conn, **{**AUTO_ARGS, "suffix": "test-taken-1"})

    error = assert_aborts(shared_conn, compose_then_auto)  # the compose is rolled back with it
    assert error.sqlstate == "IU004"
    assert "'tpl-inst:auto:test-taken-1'" in (error.diag.message_primary or "")


@pytest.mark.parametrize("arg", ["suffix", "actor", "event_type"])
def test_auto_instantiate_accepts_an_argument_at_the_length_limit(shared_conn: psycopg.Connection,
                                                                  arg: str) -> None:
    with shared_conn.transaction():
        set_gates(shared_conn, True)
        assert call_auto(shared_conn, **{**AUTO_ARGS, arg: "y" * 512})["status"] == "ok"
        raise psycopg.Rollback()


# -- fn_iu_compose ----------------------------------------------------------------------------------
@pytest.mark.parametrize("open_gates", [(), (AUTO_GATE,)], ids=["all-closed", "only-auto-open"])
def test_compose_refuses_with_composer_gate_closed(shared_conn: psycopg.Connection,
                                                   open_gates: tuple[str, ...]) -> None:
    error = assert_aborts(shared_conn, lambda: compose(shared_conn, WF_V2, "tpl-inst:test:gated", "a"),
                          open_gates=open_gates)
    assert error.sqlstate == "IU005"
    assert COMPOSER_GATE in (error.diag.message_primary or "")


@pytest.mark.parametrize(("args", "sqlstate", "fragment"), [
    pytest.param(("tpl:wf:no-such/v9", "tpl-inst:test:c1", "a"), "IU002", "'tpl:wf:no-such/v9'",
                 id="unknown-template"),
    pytest.param((MANUAL_INSTANCE, "tpl-inst:test:c1", "a"), "IU002", pg_quote(MANUAL_INSTANCE),
                 id="instance-as-template"),
    pytest.param((WF_V2, MANUAL_INSTANCE, "a"), "IU004", pg_quote(MANUAL_INSTANCE),
                 id="existing-instance-key"),
    pytest.param((WF_V2, "tpl:file:status-report/v1", "a"), "IU004", "'tpl:file:status-report/v1'",
                 id="template-key-as-instance-key"),
    pytest.param((None, "tpl-inst:test:c1", "a"), "IU001", "template_key", id="null-template"),
    pytest.param((WF_V2, " ", "a"), "IU001", "instance_key", id="blank-instance-key"),
    pytest.param((WF_V2, "tpl-inst:test:c1", ""), "IU001", "actor", id="empty-actor"),
    pytest.param((WF_V2, "tpl-inst:test:" + TOO_LONG, "a"), "IU009", "instance_key",
                 id="too-long-instance-key"),
])
def test_compose_bad_input(shared_conn: psycopg.Connection, args: tuple[str | None, str | None, str | None],
                           sqlstate: str, fragment: str) -> None:
    error = assert_aborts(shared_conn, lambda: compose(shared_conn, *args))
    assert error.sqlstate == sqlstate, error
    assert fragment in (error.diag.message_primary or "")


def test_compose_points_memberships_at_the_templates_own_ius(before_conn: psycopg.Connection) -> None:
    conn = before_conn
    template_key = "tpl:wf:onboarding/v1"
    template_id = collection_id(conn, template_key)
    before = table_counts(conn)
    with gates_open(conn):
        instance_id = compose(conn, template_key, "tpl-inst:test:compose-1", "test-actor-compose")
    assert delta(before, table_counts(conn)) == {"iu_piece_collection": 1, "iu_piece_membership": 6}
    assert pieces(conn, instance_id) == pieces(conn, template_id)
    assert conn.execute("SELECT collection_key, kind, is_template, manifest_digest, created_by"
                        " FROM iu_core.iu_piece_collection WHERE id = %s", (instance_id,)).fetchone() == (
        "tpl-inst:test:compose-1", "workflow", False, manifest_digest(conn, template_id),
        "test-actor-compose")
    # compose alone writes no lineage and no sidecar log row
    assert scalar(conn, "SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage"
                        " WHERE instance_collection_id = %s", (instance_id,)) == 0
    assert gate_states(conn) == ALL_CLOSED


# -- fn_iu_collection_record_template_instance -----------------------------------------------------
@pytest.mark.parametrize("origin", ["manual", "auto"])
def test_record_lineage_ok_returns_bigint_id(before_conn: psycopg.Connection, origin: str) -> None:
    conn = before_conn
    template_id = collection_id(conn, FILE_V2)
    with gates_open(conn):
        instance_id = compose(conn, FILE_V2, f"tpl-inst:test:lineage-{origin}", "test-actor-lineage")
        lineage_id = record_lineage(conn, template_id, instance_id, "test-actor-lineage", origin)
    assert isinstance(lineage_id, int) and lineage_id > 0
    assert scalar(conn, "SELECT format_type(prorettype, NULL) FROM pg_proc"
                        " WHERE proname = 'fn_iu_collection_record_template_instance'") == "bigint"
    assert conn.execute("SELECT template_collection_id, instance_collection_id, origin, actor"
                        " FROM iu_core.iu_collection_template_instance_lineage WHERE id = %s",
                        (lineage_id,)).fetchall() == [
        (template_id, instance_id, origin, "test-actor-lineage")]


RANDOM = "<random>"


@pytest.mark.parametrize(("template_ref", "instance_ref", "origin", "sqlstate", "fragment"), [
    pytest.param(FILE_V2, MANUAL_INSTANCE, "Manual", "IU007", "'Manual'", id="origin-wrong-case"),
    pytest.param(FILE_V2, MANUAL_INSTANCE, "bogus", "IU007", "'bogus'", id="origin-bogus"),
    pytest.param(FILE_V2, MANUAL_INSTANCE, "", "IU007", "''", id="origin-empty"),
    pytest.param(FILE_V2, MANUAL_INSTANCE, None, "IU007", "NULL", id="origin-null"),
    pytest.param(RANDOM, MANUAL_INSTANCE, "manual", "IU008", RANDOM, id="unknown-template-id"),
    pytest.param(FILE_V2, RANDOM, "manual", "IU008", RANDOM, id="unknown-instance-id"),
    pytest.param(None, MANUAL_INSTANCE, "manual", "IU001", "template_id", id="null-template-id"),
    pytest.param(FILE_V2, None, "manual", "IU001", "instance_id", id="null-instance-id"),
    pytest.param(MANUAL_INSTANCE, "tpl-inst:auto:" + DURABLE_SUFFIX, "auto", "IU010", "is_template",
                 id="instance-as-template"),
    pytest.param(FILE_V2, "tpl:wf:onboarding/v1", "manual", "IU010", "is_template",
                 id="template-as-instance"),
    pytest.param("col:file:handbook", MANUAL_INSTANCE, "manual", "IU010", "is_template",
                 id="plain-collection-as-template"),
    pytest.param(WF_V2, MANUAL_INSTANCE, "manual", "IU011", "already has a lineage row",
                 id="manual-instance-second-lineage"),
    pytest.param(WF_V2, "tpl-inst:auto:" + DURABLE_SUFFIX, "auto", "IU011", "already has a lineage row",
                 id="auto-instance-second-lineage"),
])
def test_record_lineage_errors(shared_conn: psycopg.Connection, template_ref: str | None,
                               instance_ref: str | None, origin: str | None, sqlstate: str,
                               fragment: str) -> None:
    conn = shared_conn
    random_id = uuid.uuid4()

    def resolve(ref: str | None) -> uuid.UUID | None:
        return None if ref is None else random_id if ref == RANDOM else collection_id(conn, ref)

    template_id, instance_id = resolve(template_ref), resolve(instance_ref)
    error = assert_aborts(conn, lambda: record_lineage(conn, template_id, instance_id, "test-actor", origin))
    assert error.sqlstate == sqlstate, error
    assert (str(random_id) if fragment == RANDOM else fragment) in (error.diag.message_primary or "")


def test_record_lineage_actor_is_required(shared_conn: psycopg.Connection) -> None:
    template_id, instance_id = collection_id(shared_conn, FILE_V2), uuid.uuid4()
    error = assert_aborts(shared_conn,
                          lambda: record_lineage(shared_conn, template_id, instance_id, " ", "manual"))
    assert error.sqlstate == "IU001"


# -- fn_iu_set_gates ------------------------------------------------------------------------------
@pytest.mark.parametrize("keys", [["iu_core.nope"], [COMPOSER_GATE, "iu_core.nope"], [AUTO_GATE + " "]],
                         ids=["unknown", "known-and-unknown", "trailing-space"])
def test_set_gates_unknown_gate(shared_conn: psycopg.Connection, keys: list[str]) -> None:
    error = assert_aborts(shared_conn, lambda: shared_conn.execute(
        "SELECT iu_core.fn_iu_set_gates(true, %s::text[])", (keys,)), open_gates=())
    assert error.sqlstate == "IU006"
    unknown = next(k for k in keys if k not in GATES)
    assert pg_quote(unknown) in (error.diag.message_primary or "")


@pytest.mark.parametrize(("enabled", "keys"), [(None, list(GATES)), (True, [])],
                         ids=["null-enabled", "no-keys"])
def test_set_gates_requires_arguments(shared_conn: psycopg.Connection, enabled: bool | None,
                                      keys: list[str]) -> None:
    error = assert_aborts(shared_conn, lambda: shared_conn.execute(
        "SELECT iu_core.fn_iu_set_gates(%s::boolean, %s::text[])", (enabled, keys)), open_gates=())
    assert error.sqlstate == "IU001"


def test_set_gates_toggle_is_in_tx_and_invisible_to_others(iu_db_factory: Callable[..., Database]) -> None:
    db = iu_db_factory("before-25000x")
    with db.connect(autocommit=True) as conn, db.connect(autocommit=True) as other:
        with conn.transaction():
            assert set_gates(conn, True) == 2
            assert gate_states(conn) == dict.fromkeys(GATES, True)
            assert gate_states(other) == ALL_CLOSED  # not committed: others still see them closed
            assert call_auto(other, event_uuid("vis", 1), WF_V2, "test-vis-1", "a")["status"] == "gated"
            assert set_gates(conn, False, [COMPOSER_GATE]) == 1
            assert gate_states(conn) == {AUTO_GATE: True, COMPOSER_GATE: False}
            raise psycopg.Rollback()
        assert gate_states(conn) == ALL_CLOSED


@pytest.mark.parametrize("baseline", [None, "before-25000x", "after-25000x"])
def test_gates_closed_at_rest_in_every_baseline(iu_db_factory: Callable[..., Database],
                                                baseline: str | None) -> None:
    with iu_db_factory(baseline).connect(autocommit=True) as conn:
        assert gate_states(conn) == ALL_CLOSED


# -- fn_iu_manifest_digest ------------------------------------------------------------------------
def test_manifest_digest_shape_and_template_equality(shared_after: psycopg.Connection) -> None:
    conn = shared_after
    rows = conn.execute("SELECT collection_key, is_template, manifest_digest,"
                        " iu_core.fn_iu_manifest_digest(id)"
                        " FROM iu_core.iu_piece_collection ORDER BY collection_key").fetchall()
    assert len(rows) == 24
    for key, _, stored, computed in rows:
        assert HEX16.fullmatch(computed), key
        assert stored == computed, key
    template_digests = {key: digest for key, is_template, _, digest in rows if is_template}
    assert sorted(template_digests) == sorted(TEMPLATE_PIECES)
    assert len(set(template_digests.values())) == 4
    pairs = conn.execute(
        "SELECT iu_core.fn_iu_manifest_digest(template_collection_id),"
        " iu_core.fn_iu_manifest_digest(instance_collection_id)"
        " FROM iu_core.iu_collection_template_instance_lineage").fetchall()
    assert len(pairs) == 17
    assert all(t == i for t, i in pairs)


@pytest.mark.parametrize(("column", "value"), [
    ("collection_key", "renamed:elsewhere"), ("kind", None), ("created_by", "someone-else"),
    ("created_at", "2001-01-01T00:00:00Z")])
@pytest.mark.parametrize("key", [WF_V2, "tpl-inst:auto:" + DURABLE_SUFFIX])
def test_manifest_digest_ignores_collection_labels(shared_conn: psycopg.Connection, key: str, column: str,
                                                   value: str | None) -> None:
    conn = shared_conn
    cid = collection_id(conn, key)
    digest = manifest_digest(conn, cid)
    with conn.transaction():
        new_value = value if column != "kind" else scalar(
            conn, "SELECT CASE kind WHEN 'file' THEN 'workflow' ELSE 'file' END"
                  " FROM iu_core.iu_piece_collection WHERE id = %s", (cid,))
        updated = conn.execute(sql.SQL("UPDATE iu_core.iu_piece_collection SET {} = %s WHERE id = %s").format(
            sql.Identifier(column)), (new_value, cid)).rowcount
        assert updated == 1
        assert manifest_digest(conn, cid) == digest
        raise psycopg.Rollback()


@pytest.mark.parametrize("change", ["content_hash", "member_iu", "positions"])
def test_manifest_digest_follows_the_piece_graph(shared_conn: psycopg.Connection, change: str) -> None:
    conn = shared_conn
    template_id = collection_id(conn, "tpl:file:status-report/v1")
    instance_id = collection_id(conn, "tpl-inst:manual:status-report-v1-acme")
    other_id = collection_id(conn, WF_V2)  # shares no piece with file/v1
    digests = [manifest_digest(conn, c) for c in (template_id, instance_id, other_id)]
    first_iu = pieces(conn, template_id)[0][1]
    with conn.transaction():
        if change == "content_hash":  # a shared piece's content changes: template and instance move together
            conn.execute("UPDATE iu_core.iu SET content_hash = md5(content_hash) WHERE id = %s", (first_iu,))
        elif change == "member_iu":
            conn.execute("UPDATE iu_core.iu_piece_membership SET iu_id = md5('iu-harness:iu:175')::uuid"
                         " WHERE collection_id = %s AND position = 1", (template_id,))
        else:  # same pieces, positions 1 and 2 swapped
            for old, new in ((1, 1000), (2, 1), (1000, 2)):
                conn.execute("UPDATE iu_core.iu_piece_membership SET position = %s"
                             " WHERE collection_id = %s AND position = %s", (new, template_id, old))
        changed = [manifest_digest(conn, c) for c in (template_id, instance_id, other_id)]
        raise psycopg.Rollback()
    assert HEX16.fullmatch(changed[0])
    assert changed[0] != digests[0]
    assert changed[2] == digests[2]
    if change == "content_hash":
        assert changed[1] == changed[0]
    else:
        assert changed[1] == digests[1]


@pytest.mark.parametrize(("arg", "sqlstate"), [(RANDOM, "IU008"), (None, "IU001")], ids=["unknown", "null"])
def test_manifest_digest_unknown_collection(shared_conn: psycopg.Connection, arg: str | None,
                                            sqlstate: str) -> None:
    cid = uuid.uuid4() if arg else None
    error = assert_aborts(shared_conn, lambda: shared_conn.execute(
        "SELECT iu_core.fn_iu_manifest_digest(%s::uuid)", (cid,)), open_gates=())
    assert error.sqlstate == sqlstate
    if cid:
        assert str(cid) in (error.diag.message_primary or "")


# -- fn_iu_auto_instantiate_rollback_by_actor -------------------------------------------------------
def _actor_instance_ids(conn: psycopg.Connection, actor: str) -> list[str]:
    return sorted(str(r[0]) for r in conn.execute(
        "SELECT instance_collection_id FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %s",
        (actor,)).fetchall())


@pytest.mark.parametrize("dry_run", [None, True], ids=["default", "explicit"])
def test_rollback_dry_run_changes_nothing(shared_after: psycopg.Connection, dry_run: bool | None) -> None:
    conn = shared_after
    fp = fingerprint(conn)
    targets = _actor_instance_ids(conn, BULK_ACTOR)
    with conn.transaction():
        result = rollback_by_actor(conn, BULK_ACTOR, dry_run)
    assert fingerprint(conn) == fp
    assert result["status"] == "dry_run"
    assert result["target_instance_ids"] == targets == sorted(result["target_instance_ids"])
    assert len(targets) == 12
    memberships = scalar(conn, "SELECT count(*) FROM iu_core.iu_piece_membership"
                               " WHERE collection_id = ANY (%s::uuid[])", (targets,))
    assert memberships == 8 * 5 + 4 * 5
    assert {k: result[k] for k in result if k.startswith("would_delete_")} == {
        "would_delete_instance_collections": 12, "would_delete_lineage_rows": 12,
        "would_delete_log_rows": 12, "would_delete_membership_rows": memberships}
    assert not any(k.startswith("deleted_") for k in result)


def test_rollback_removes_exactly_the_actors_rows(before_conn: psycopg.Connection) -> None:
    conn = before_conn
    other_ids = scaleout(conn, "test-actor-b", [(FILE_V2, 2), (WF_V2, 1)])
    fp_before, counts_before = fingerprint(conn), table_counts(conn)
    templates_before = {k: manifest_digest(conn, collection_id(conn, k)) for k in TEMPLATE_PIECES}
    plan = [("tpl:file:status-report/v1", 2), (FILE_V2, 1), ("tpl:wf:onboarding/v1", 3), (WF_V2, 1)]
    ids = scaleout(conn, "test-actor-a", plan)
    pieces_total = sum(TEMPLATE_PIECES[t] * n for t, n in plan)
    assert delta(counts_before, table_counts(conn)) == {
        "iu_piece_collection": 7, "iu_piece_membership": pieces_total,
        "iu_collection_template_instance_lineage": 7, "iu_auto_instantiate_event_log": 7}

    dry = rollback_by_actor(conn, "test-actor-a")
    assert dry["status"] == "dry_run"
    assert dry["target_instance_ids"] == sorted(str(i) for i in ids)
    assert {k: dry[k] for k in dry if k.startswith("would_delete_")} == {
        "would_delete_instance_collections": 7, "would_delete_lineage_rows": 7,
        "would_delete_log_rows": 7, "would_delete_membership_rows": pieces_total}
    with conn.transaction():
        result = rollback_by_actor(conn, "test-actor-a", dry_run=False)

    assert result["status"] == "ok"
    assert result["target_instance_ids"] == dry["target_instance_ids"]
    assert {k: result[k] for k in result if k.startswith("deleted_")} == {
        "deleted_instance_collections": 7, "deleted_lineage_rows": 7,
        "deleted_log_rows": 7, "deleted_membership_rows": pieces_total}
    assert table_counts(conn) == counts_before
    assert fingerprint(conn) == fp_before  # row for row, every table
    # the other actors, the manual lineage, templates and iu are untouched
    assert _actor_instance_ids(conn, "test-actor-b") == sorted(str(i) for i in other_ids)
    assert len(_actor_instance_ids(conn, DURABLE_ACTOR)) == 1
    assert scalar(conn, "SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage"
                        " WHERE origin = 'manual'") == 4
    assert {k: manifest_digest(conn, collection_id(conn, k)) for k in TEMPLATE_PIECES} == templates_before
    assert table_counts(conn)["iu"] == 175
    assert rollback_by_actor(conn, "test-actor-a")["status"] == "noop"
    # the rolled-back events are addressable again: replaying one composes anew
    with gates_open(conn):
        replay = call_auto(conn, event_uuid("test-actor-a" + "tpl:file:status-report/v1", 0),
                           "tpl:file:status-report/v1", "test-actor-a-file-v1-000", "test-actor-a")
    assert replay["status"] == "ok"


def test_rollback_of_the_bulk_actor_restores_before_25000x_counts(after_conn: psycopg.Connection) -> None:
    conn = after_conn
    with conn.transaction():
        result = rollback_by_actor(conn, BULK_ACTOR, dry_run=False)
    assert (result["status"], result["deleted_instance_collections"], result["deleted_membership_rows"]) == (
        "ok", 12, 60)
    assert table_counts(conn) == {
        "iu": 175, "iu_lifecycle_log": 146, "iu_vector_sync_point": 152, "iu_piece_collection": 12,
        "iu_piece_membership": 58, "iu_collection_template_instance_lineage": 5,
        "iu_auto_instantiate_event_log": 1, "iu_gate": 2}


@pytest.mark.parametrize("actor", ["nobody-at-all", MANUAL_ACTOR])
@pytest.mark.parametrize("dry_run", [True, False])
def test_rollback_actor_with_nothing_is_noop(shared_conn: psycopg.Connection, actor: str,
                                             dry_run: bool) -> None:
    fp = fingerprint(shared_conn)
    with shared_conn.transaction():
        result = rollback_by_actor(shared_conn, actor, dry_run)
    assert result["status"] == "noop"
    assert result.get("target_instance_ids", []) == []
    assert fingerprint(shared_conn) == fp


@pytest.mark.parametrize(("actor", "dry_run"), [(None, True), ("", False), ("  ", True), (BULK_ACTOR, None)],
                         ids=["null-actor", "empty-actor", "blank-actor", "null-dry-run"])
def test_rollback_bad_input(shared_conn: psycopg.Connection, actor: str | None, dry_run: bool | None) -> None:
    error = assert_aborts(shared_conn, lambda: shared_conn.execute(
        "SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s::text, %s::boolean)", (actor, dry_run)))
    assert error.sqlstate == "IU001"


# -- views ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("baseline", "rows"), [("before-25000x", 1), ("after-25000x", 13)])
def test_events_view_has_one_row_per_log_row(iu_db_factory: Callable[..., Database], baseline: str,
                                             rows: int) -> None:
    with iu_db_factory(baseline).connect(autocommit=True) as conn:
        view = conn.execute("SELECT event_id, template_collection_key, instance_key, actor, emit_mode,"
                            " digest_match FROM iu_core.v_iu_auto_instantiate_events"
                            " ORDER BY event_id").fetchall()
        expected = conn.execute(
            "SELECT l.event_id, l.template_collection_key, c.collection_key, l.actor, l.emit_mode, true"
            " FROM iu_core.iu_auto_instantiate_event_log l"
            " JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id"
            " ORDER BY l.event_id").fetchall()
    assert len(view) == rows
    assert view == expected


def test_template_summary_after_25000x(shared_after: psycopg.Connection) -> None:
    conn = shared_after
    query = ("SELECT template_collection_key, emit_mode, instance_count, instances_last_hour"
             " FROM iu_core.v_iu_auto_instantiate_template_summary ORDER BY 1, 2")
    assert conn.execute(query).fetchall() == [(FILE_V2, "live", 4, 4), (WF_V2, "live", 9, 9)]
    with conn.transaction():  # age the file/v2 events: still counted, no longer in the last hour
        conn.execute("UPDATE iu_core.iu_auto_instantiate_event_log"
                     " SET created_at = now() - interval '2 hours'"
                     " WHERE template_collection_key = %s", (FILE_V2,))
        assert conn.execute(query).fetchall() == [(FILE_V2, "live", 4, 0), (WF_V2, "live", 9, 9)]
        raise psycopg.Rollback()


AUDIT = "SELECT count(*) FILTER (WHERE NOT digest_ok), count(*) FILTER (WHERE digest_ok), count(*)" \
        " FROM iu_core.v_iu_digest_audit"


@pytest.mark.parametrize(("tamper", "expected"), [
    (None, (0, 13, 13)),
    ("UPDATE iu_core.iu_piece_collection SET manifest_digest = '0000000000000000'"
     " WHERE collection_key = 'tpl-inst:auto:25000x-bulk-wf-v2-03'", (1, 12, 13)),
    ("UPDATE iu_core.iu_piece_membership SET iu_id = md5('iu-harness:iu:175')::uuid"
     " WHERE position = 1 AND collection_id = (SELECT id FROM iu_core.iu_piece_collection"
     " WHERE collection_key = 'tpl-inst:auto:25000x-bulk-file-v2-02')", (1, 12, 13)),
    ("UPDATE iu_core.iu SET content_hash = md5(content_hash) WHERE iu_key = 'iu:017'", (9, 4, 13)),
], ids=["untouched", "stored-instance-digest", "instance-piece-swapped", "wf-v2-piece-content"])
def test_digest_audit_after_25000x(shared_after: psycopg.Connection, tamper: str | None,
                                   expected: tuple[int, int, int]) -> None:
    conn = shared_after
    with conn.transaction():
        if tamper:
            assert conn.execute(tamper).rowcount == 1
        assert conn.execute(AUDIT).fetchone() == expected
        raise psycopg.Rollback()


# -- concurrency of idempotency ---------------------------------------------------------------------
WAIT_S = 15.0


@pytest.mark.parametrize("first_outcome", ["commit", "rollback"])
@pytest.mark.parametrize("second_event", ["same", "other"])
@pytest.mark.parametrize("gate_mode", ["in-tx-toggle", "committed-open"])
def test_concurrent_callers_of_one_event(iu_db_factory: Callable[..., Database], gate_mode: str,
                                         second_event: str, first_outcome: str) -> None:
    """The second caller blocks behind the first (on the gate rows with in-TX toggles, else on the
    instance key's claim) and then answers by what the first did: duplicate / IU004 after a commit,
    ok after a rollback."""
    db = iu_db_factory("before-25000x")
    in_tx = gate_mode == "in-tx-toggle"
    suffix, actor = "test-concurrent-1", "test-actor-concurrent"
    first_event = event_uuid("concurrent", 1)
    other_event = first_event if second_event == "same" else event_uuid("concurrent", 2)
    with db.connect(autocommit=True) as first, db.connect(autocommit=True) as second, \
            db.connect(autocommit=True) as watcher:
        for conn in (first, second):  # a last resort: nothing can wait forever
            conn.execute("SET statement_timeout = '30s'")
        if not in_tx:
            set_gates(watcher, True)
        outcome: queue.Queue[Any] = queue.Queue()

        def run_second() -> None:
            try:
                with second.transaction():
                    if in_tx:
                        set_gates(second, True)
                    result = call_auto(second, other_event, WF_V2, suffix, actor)
                    if in_tx:
                        set_gates(second, False)
                outcome.put(result)
            except BaseException as exc:
                outcome.put(exc)

        thread = threading.Thread(target=run_second, daemon=True)
        with first.transaction():
            if in_tx:
                set_gates(first, True)
            first_result = call_auto(first, first_event, WF_V2, suffix, actor)
            if in_tx:
                set_gates(first, False)
            assert first_result["status"] == "ok"
            thread.start()
            wait_until_blocked(watcher, second.info.backend_pid, first.info.backend_pid, WAIT_S)
            assert outcome.empty()
            if first_outcome == "rollback":
                raise psycopg.Rollback()
        second_result = outcome.get(timeout=WAIT_S)
        thread.join(timeout=WAIT_S)
        assert not thread.is_alive()

        if first_outcome == "commit" and second_event == "other":
            assert isinstance(second_result, psycopg.Error), second_result
            assert second_result.sqlstate == "IU004"
        else:
            assert not isinstance(second_result, BaseException), second_result
            expected = "duplicate" if first_outcome == "commit" else "ok"
            assert second_result["status"] == expected
            if first_outcome == "commit":
                assert second_result["instance_id"] == first_result["instance_id"]
            else:
                assert second_result["instance_id"] != first_result["instance_id"]
        survivor = first_result if first_outcome == "commit" else second_result
        assert suffix_rows(watcher, suffix) == [(uuid.UUID(survivor["instance_id"]), 1, 1)]
        if not in_tx:
            set_gates(watcher, False)
        assert gate_states(watcher) == ALL_CLOSED

