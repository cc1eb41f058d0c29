"""How the run judges SPEC's "writes nothing" for the replay and the dry run (harness/databases/state.py).

PostgreSQL's per-transaction write counters, read around the step in its own transaction, see
every insert, update and delete of a SPEC table, an UPDATE to the same values included; where
track_counts is off the harness falls back to fingerprints of every table, which see values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from harness.databases import state as db_state
from harness.databases.pool import Database

LOG = "iu_core.iu_auto_instantiate_event_log"
ONE_ROW = f"idempotency_key = (SELECT min(idempotency_key) FROM {LOG})"


@pytest.fixture
def conn(iu_db_factory: Callable[..., Database]) -> Iterator[psycopg.Connection]:
    with iu_db_factory("after-25000x").connect(autocommit=True) as connection:
        yield connection


def test_write_counters_see_a_rewrite_with_the_same_values(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        watch = db_state.watch_writes(conn)
        assert watch.method == "write counters"
        conn.execute(f"SELECT count(*) FROM {LOG}")
        assert db_state.writes_since(conn, watch) == {}
        conn.execute(f"UPDATE {LOG} SET event_type = event_type WHERE {ONE_ROW}")
        assert db_state.writes_since(conn, watch) == {
            "iu_auto_instantiate_event_log": {"inserted": 0, "updated": 1, "deleted": 0}}


def test_without_track_counts_fingerprints_judge(conn: psycopg.Connection) -> None:
    conn.execute("SET track_counts = off")
    with conn.transaction(force_rollback=True):
        watch = db_state.watch_writes(conn)
        assert watch.method == "fingerprint"
        conn.execute(f"UPDATE {LOG} SET event_type = event_type WHERE {ONE_ROW}")
        assert db_state.writes_since(conn, watch) == {}  # same values: a fingerprint cannot tell
        conn.execute(f"UPDATE {LOG} SET event_type = 'iu.changed' WHERE {ONE_ROW}")
        assert db_state.writes_since(conn, watch) == {"iu_auto_instantiate_event_log": "rows differ"}
