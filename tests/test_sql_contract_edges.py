"""Edge cases of iu_core's contract found in review: answer shapes, key collisions, locked rollbacks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sql_helpers import call_auto, collection_id, fingerprint, gates_open, rollback_by_actor, table_counts

from harness.databases.pool import Database

# About our own build: skipped (one line) when --iu-sql-dir names another one.
pytestmark = pytest.mark.bundled_build("internal functions and SQLSTATEs")

ANSWER_KEYS = {"status", "instance_id", "instance_key", "idempotency_key", "template_digest", "instance_digest",
               "digest_match"}
WF_V2 = "tpl:wf:onboarding/v2"


@pytest.fixture
def conn(iu_db_factory: Callable[..., Database]) -> Iterator[psycopg.Connection]:
    with iu_db_factory("after-25000x").connect(autocommit=True) as connection:
        yield connection


def test_every_status_answers_with_at_least_the_spec_keys(conn: psycopg.Connection) -> None:
    event = uuid.uuid4()
    gated = call_auto(conn, event, WF_V2, "shape-1", "shape-actor")
    assert gated["status"] == "gated" and set(gated) >= ANSWER_KEYS and gated["instance_id"] is None
    with gates_open(conn):
        ok = call_auto(conn, event, WF_V2, "shape-1", "shape-actor")
    duplicate = call_auto(conn, event, WF_V2, "shape-1", "shape-actor")  # duplicate holds with gates closed
    assert ok["status"] == "ok" and set(ok) >= ANSWER_KEYS
    assert duplicate["status"] == "duplicate" and set(duplicate) >= ANSWER_KEYS
    for key in ("instance_id", "instance_key", "idempotency_key", "template_digest", "instance_digest"):
        assert duplicate[key] == ok[key], key
    assert duplicate["digest_match"] is True


def test_a_colliding_idempotency_key_is_a_conflict_not_a_duplicate(conn: psycopg.Connection) -> None:
    """md5(event:template:suffix) cannot tell 'tpl:…/v2' + 'x:y' from 'tpl:…/v2:x' + 'y'."""
    conn.execute("""INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template, manifest_digest)
                    VALUES (%s, 'workflow', true, iu_core.fn_iu_piece_graph_digest(NULL))""", (WF_V2 + ":x",))
    event = uuid.uuid4()
    with gates_open(conn):
        first = call_auto(conn, event, WF_V2, "x:y", "collide-actor")
    assert first["status"] == "ok"
    before = fingerprint(conn)
    with pytest.raises(psycopg.Error) as caught, gates_open(conn):
        call_auto(conn, event, WF_V2 + ":x", "y", "collide-actor")
    assert caught.value.sqlstate == "IU004"
    assert first["idempotency_key"] in str(caught.value)
    assert fingerprint(conn) == before


def test_compose_claim_refuses_what_is_not_a_template(conn: psycopg.Connection) -> None:
    instance = collection_id(conn, "tpl-inst:manual:onboarding-v2-acme")
    before = fingerprint(conn)
    for template_id, kind in ((None, "file"), (instance, "workflow"), (collection_id(conn, WF_V2), "file")):
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT * FROM iu_core.fn_iu_compose_claim(%s, %s, 'k-claim', 'a')", (template_id, kind))
        assert caught.value.sqlstate == "IU002"
    assert fingerprint(conn) == before


def test_first_closed_gate_of_no_gates_is_an_error(conn: psycopg.Connection) -> None:
    for keys in (None, []):
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT iu_core.fn_iu_first_closed_gate(%s::text[])", (keys,))
        assert caught.value.sqlstate == "IU001"


def test_a_second_concurrent_rollback_of_the_same_actor_finds_nothing(iu_db_factory: Callable[..., Database]) -> None:
    """The real rollback locks its targets: the one that waits sees them gone and answers noop."""
    database = iu_db_factory("after-25000x")
    with database.connect(autocommit=True) as first, database.connect(autocommit=True) as second:
        before = table_counts(first)
        second.execute("SET lock_timeout = '20s'")
        answers: dict[str, object] = {}
        with first.transaction():
            answers["first"] = rollback_by_actor(first, "iu-core-25000x-bulk", dry_run=False)
            waiter = threading.Thread(target=lambda: answers.setdefault(
                "second", rollback_by_actor(second, "iu-core-25000x-bulk", dry_run=False)))
            waiter.start()
            waiter.join(0.5)
            assert waiter.is_alive(), "the second rollback did not wait for the first one's locks"
        waiter.join(20)
        assert not waiter.is_alive()
        first_answer, second_answer = answers["first"], answers["second"]
        assert isinstance(first_answer, dict) and isinstance(second_answer, dict)
        assert first_answer["status"] == "ok" and first_answer["deleted_instance_collections"] == 12
        assert first_answer["deleted_membership_rows"] == 60
        assert second_answer["status"] == "noop"
        after = table_counts(first)
        assert before["iu_auto_instantiate_event_log"] - after["iu_auto_instantiate_event_log"] == 12
        assert before["iu_piece_membership"] - after["iu_piece_membership"] == 60
