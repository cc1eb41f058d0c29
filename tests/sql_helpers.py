"""Small shared helpers for the SQL-level tests: counts, fingerprints, gates, orchestrator calls.

Everything here runs real SQL against the connection it is given; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from harness import spec_calls
from harness.databases import state as db_state

AUTO_GATE = "iu_core.auto_instantiate_enabled"
COMPOSER_GATE = "iu_core.composer_enabled"
GATES: tuple[str, ...] = (AUTO_GATE, COMPOSER_GATE)
EVENT_TYPE = "iu.template.instance_auto_composed"

Row = dict[str, Any]


# The harness's own table_counts; the fingerprint below is deliberately NOT the harness's
# (db_state.fingerprint hashes rows as a multiset): the tests check with an independent one.
table_counts = db_state.table_counts


def _table_digests_query(conn: psycopg.Connection) -> sql.Composed:
    tables = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'iu_core' AND c.relkind IN ('r', 'p') ORDER BY c.relname").fetchall()]
    # Each row as its jsonb text, rows sorted by that text: independent of physical order and plans.
    return sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {name} AS tbl, count(*) AS n,"
                " coalesce(md5(string_agg(r, E'\\n' ORDER BY r COLLATE \"C\")), '') AS digest"
                " FROM (SELECT to_jsonb(t)::text AS r FROM iu_core.{table} t) x").format(
            name=sql.Literal(table), table=sql.Identifier(table))
        for table in tables)


def table_fingerprints(conn: psycopg.Connection) -> dict[str, str]:
    """`{table: "<rows>:<md5 of its rows>"}` for every iu_core table (readable when two differ)."""
    query = _table_digests_query(conn)
    return {tbl: f"{n}:{digest}" for tbl, n, digest in conn.execute(query).fetchall()}


def fingerprint(conn: psycopg.Connection) -> str:
    """md5 over every column of every row of every iu_core table, set-based in one SQL statement."""
    inner = _table_digests_query(conn)
    query = sql.SQL("SELECT md5(string_agg(tbl || '=' || n || ':' || digest, ';' ORDER BY tbl))"
                    " FROM ({inner}) d").format(inner=inner)
    row = conn.execute(query).fetchone()
    assert row is not None
    return str(row[0])


def set_gates(conn: psycopg.Connection, enabled: bool, gates: Sequence[str] | None = None) -> int:
    """Toggle gates on iu_core.iu_gate itself (SPEC names only), rows taken in gate_key order."""
    return spec_calls.set_gates(conn, enabled, GATES if gates is None else gates)


def gate_states(conn: psycopg.Connection) -> dict[str, bool]:
    return {k: bool(v) for k, v in conn.execute("SELECT gate_key, enabled FROM iu_core.iu_gate").fetchall()}


@contextmanager
def gates_open(conn: psycopg.Connection) -> Iterator[psycopg.Transaction]:
    """A transaction with both gates opened at its start and closed before it commits.

    An exception rolls it back, so the gates are never committed open.
    """
    with conn.transaction() as tx:
        set_gates(conn, True)
        yield tx
        set_gates(conn, False)


def call_auto(conn: psycopg.Connection, event_id: uuid.UUID | str | None, template_key: str | None,
              suffix: str | None, actor: str | None, emit_mode: str | None = "live",
              event_type: str | None = EVENT_TYPE) -> Row:
    """iu_core.fn_iu_auto_instantiate_from_event(...), its jsonb result as a dict."""
    row = conn.execute(
        "SELECT iu_core.fn_iu_auto_instantiate_from_event(%s::uuid, %s::text, %s::text, %s::text, %s::text,"
        " %s::text)", (event_id, event_type, template_key, suffix, actor, emit_mode)).fetchone()
    assert row is not None
    return dict(row[0])


def rollback_by_actor(conn: psycopg.Connection, actor: str | None, dry_run: bool | None = None) -> Row:
    """fn_iu_auto_instantiate_rollback_by_actor; `dry_run=None` uses the function's default."""
    if dry_run is None:
        row = conn.execute("SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s::text)",
                           (actor,)).fetchone()
    else:
        row = conn.execute("SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s::text, dry_run => %s)",
                           (actor, dry_run)).fetchone()
    assert row is not None
    return dict(row[0])


def collection_id(conn: psycopg.Connection, key: str) -> uuid.UUID:
    row = conn.execute("SELECT id FROM iu_core.iu_piece_collection WHERE collection_key = %s",
                       (key,)).fetchone()
    assert row is not None, f"no collection {key!r}"
    return uuid.UUID(str(row[0]))


def manifest_digest(conn: psycopg.Connection, collection: uuid.UUID | str) -> str:
    row = conn.execute("SELECT iu_core.fn_iu_manifest_digest(%s::uuid)", (collection,)).fetchone()
    assert row is not None
    return str(row[0])


def pieces(conn: psycopg.Connection, collection: uuid.UUID | str) -> list[tuple[int, uuid.UUID]]:
    """The (position, iu_id) members of a collection, in position order."""
    return [(int(p), uuid.UUID(str(i))) for p, i in conn.execute(
        "SELECT position, iu_id FROM iu_core.iu_piece_membership WHERE collection_id = %s ORDER BY position",
        (collection,)).fetchall()]


def expected_idempotency_key(event_id: uuid.UUID | str, template_key: str, suffix: str) -> str:
    """SPEC: md5(event_id::text || ':' || template_key || ':' || suffix), recomputed client-side."""
    return hashlib.md5(f"{uuid.UUID(str(event_id))}:{template_key}:{suffix}".encode()).hexdigest()


def event_uuid(namespace: str, n: int) -> uuid.UUID:
    """A deterministic event id per test namespace and number."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"iu-harness-tests:{namespace}:{n}")


def wait_until_blocked(watcher: psycopg.Connection, waiter_pid: int, holder_pid: int,
                       timeout_s: float = 15.0) -> None:
    """Poll (from a third session) until backend `waiter_pid` waits on a lock held by `holder_pid`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = watcher.execute("SELECT %s = ANY (pg_blocking_pids(%s))", (holder_pid, waiter_pid)).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {waiter_pid} never blocked on {holder_pid}")
