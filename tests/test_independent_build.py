"""SPEC section 1 and 2, checked directly on the second build, tests/builds/independent.

That build was written apart from ours (harness/sql) and differs from it in
everything SPEC leaves open; `pytest -k scaleout --iu-sql-dir tests/builds/independent`
verifies it through the harness. These tests check its SPEC contract path by path:
every status and its answer's keys, bad input raising one SQLSTATE per kind and
writing nothing, digests keyed on the piece graph, the rollback's dry_run / ok /
noop counts, two sessions racing on the same events, and the bundled baselines
loading on it with SPEC section 2's counts.

They test that one build, so they load it themselves and skip when the run
verifies another build (--iu-sql-dir). Gates are toggled on iu_core.iu_gate
itself (the build has no gate helper), rows taken in gate_key order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sql_helpers import (
    AUTO_GATE,
    COMPOSER_GATE,
    GATES,
    call_auto,
    collection_id,
    event_uuid,
    expected_idempotency_key,
    fingerprint,
    manifest_digest,
    pieces,
    rollback_by_actor,
    table_counts,
    wait_until_blocked,
)

from harness.databases.pool import Database, DatabasePool

BUILD = Path(__file__).resolve().parent / "builds" / "independent"
TEMPLATE_PIECES = {"tpl:file:status-report/v1": 5, "tpl:file:status-report/v2": 5,
                   "tpl:wf:onboarding/v1": 6, "tpl:wf:onboarding/v2": 5}
WF_V2 = "tpl:wf:onboarding/v2"
MANUAL_INSTANCE = "tpl-inst:manual:onboarding-v2-acme"
DURABLE_SUFFIX = "24000x-durable-wf-v2-01"
ANSWER_KEYS = {"status", "instance_id", "instance_key", "idempotency_key", "template_digest",
               "instance_digest", "digest_match"}
HEX16 = re.compile(r"[0-9a-f]{16}")
WAIT_S = 20.0

# The build's own SQLSTATE per kind of bad input (01_namespace.sql).
CODES = {"missing argument": "XBNUL", "too long": "XBLEN", "undefined emit mode": "XBMOD",
         "unknown template": "XBTPL", "instance used as template": "XBINS", "key taken": "XBDUP",
         "idempotency key of another call": "XBIDK", "composer gate closed": "XBGAT",
         "bad origin": "XBORG", "unknown collection": "XBCOL", "lineage endpoints": "XBLNK",
         "lineage exists": "XBLN2"}

# SPEC section 2
COUNTS = {
    "before-25000x": {"iu": 175, "iu_lifecycle_log": 146, "iu_vector_sync_point": 152, "iu_piece_collection": 12,
                      "iu_piece_membership": 58, "iu_collection_template_instance_lineage": 5,
                      "iu_auto_instantiate_event_log": 1, "iu_gate": 2},
    "after-25000x": {"iu": 175, "iu_lifecycle_log": 146, "iu_vector_sync_point": 152, "iu_piece_collection": 24,
                     "iu_piece_membership": 118, "iu_collection_template_instance_lineage": 17,
                     "iu_auto_instantiate_event_log": 13, "iu_gate": 2},
}


# -- the build's own pool ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build_pool(iu_pool: DatabasePool) -> Iterator[DatabasePool]:
    if not iu_pool.config.sql_dir_is_bundled:
        pytest.skip(f"tests the independent build itself; this run verifies {iu_pool.config.sql_dir}")
    pool = DatabasePool(iu_pool.server, dataclasses.replace(iu_pool.config, sql_dir=BUILD, extra_sql=()))
    yield pool
    pool.close()


@pytest.fixture
def make_db(build_pool: DatabasePool) -> Iterator[Callable[[str | None], Database]]:
    made: list[Database] = []

    def make(baseline: str | None = "after-25000x") -> Database:
        made.append(build_pool.clone(baseline))
        return made[-1]

    yield make
    for db in made:
        build_pool.drop(db.name)


@pytest.fixture
def conn(make_db: Callable[[str | None], Database]) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh after-25000x clone of the independent build."""
    with make_db("after-25000x").connect(autocommit=True) as connection:
        yield connection


def set_gates(conn: psycopg.Connection, enabled: bool, gates: Sequence[str] = GATES) -> None:
    """SPEC's in-TX toggle on iu_gate itself: lock the rows in gate_key order, then update them."""
    conn.execute("SELECT 1 FROM iu_core.iu_gate WHERE gate_key = ANY (%s) ORDER BY gate_key FOR UPDATE",
                 (list(gates),))
    conn.execute("UPDATE iu_core.iu_gate SET enabled = %s WHERE gate_key = ANY (%s)", (enabled, list(gates)))


def gates_closed(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT bool_and(NOT enabled) FROM iu_core.iu_gate").fetchone() == (True,)


def scalar(conn: psycopg.Connection, query: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def scaleout(conn: psycopg.Connection, actor: str, count: int, tag: str = "") -> list[str]:
    """`count` ok calls for `actor` over the four templates in one gated, committed transaction."""
    ids = []
    templates = sorted(TEMPLATE_PIECES)
    with conn.transaction():
        set_gates(conn, True)
        for i in range(count):
            result = call_auto(conn, event_uuid(actor + tag, i), templates[i % 4], f"{actor}{tag}-{i:04d}", actor)
            assert result["status"] == "ok", result
            ids.append(result["instance_id"])
        set_gates(conn, False)
    return ids


# -- SPEC section 2: the bundled baselines load on this build ---------------------------------------
@pytest.mark.parametrize("baseline", sorted(COUNTS))
def test_bundled_baselines_load_with_spec_counts(make_db: Callable[[str | None], Database], baseline: str) -> None:
    with make_db(baseline).connect(autocommit=True) as connection:
        assert table_counts(connection) == COUNTS[baseline]
        assert gates_closed(connection)
        assert scalar(connection, "SELECT count(*) FILTER (WHERE NOT in_sync) FROM iu_core.v_iu_digest_audit") == 0


def test_gate_rows_closed_at_rest(make_db: Callable[[str | None], Database]) -> None:
    with make_db(None).connect(autocommit=True) as connection:
        assert dict(connection.execute("SELECT gate_key, enabled FROM iu_core.iu_gate").fetchall()) == \
            dict.fromkeys(GATES, False)


# -- status ok / duplicate / gated --------------------------------------------------------------------
@pytest.mark.parametrize("template_key", sorted(TEMPLATE_PIECES))
def test_ok_composes_one_instance_of_the_templates_own_pieces(conn: psycopg.Connection, template_key: str) -> None:
    before = table_counts(conn)
    event, suffix = event_uuid("ok", 1), "ind-ok-1"
    with conn.transaction():
        set_gates(conn, True)
        result = call_auto(conn, event, template_key, suffix, "ind-actor", "replay")
        set_gates(conn, False)
    assert result.keys() >= ANSWER_KEYS
    assert result["status"] == "ok"
    assert result["instance_key"] == "tpl-inst:auto:" + suffix
    assert result["idempotency_key"] == expected_idempotency_key(event, template_key, suffix)
    template, instance = collection_id(conn, template_key), uuid.UUID(result["instance_id"])
    assert collection_id(conn, result["instance_key"]) == instance
    digest = manifest_digest(conn, template)
    assert HEX16.fullmatch(digest)
    assert result["template_digest"] == result["instance_digest"] == digest == manifest_digest(conn, instance)
    assert result["digest_match"] is True
    assert pieces(conn, instance) == pieces(conn, template)
    pieces_n = TEMPLATE_PIECES[template_key]
    assert {t: n - before[t] for t, n in table_counts(conn).items() if n != before[t]} == {
        "iu_piece_collection": 1, "iu_piece_membership": pieces_n,
        "iu_collection_template_instance_lineage": 1, "iu_auto_instantiate_event_log": 1}
    assert conn.execute(
        "SELECT template_collection_id, origin, actor FROM iu_core.iu_collection_template_instance_lineage"
        " WHERE instance_collection_id = %s", (instance,)).fetchall() == [(template, "auto", "ind-actor")]
    assert conn.execute(
        "SELECT event_id, template_collection_key, actor, emit_mode, template_digest, instance_digest"
        " FROM iu_core.iu_auto_instantiate_event_log WHERE idempotency_key = %s",
        (result["idempotency_key"],)).fetchall() == [(event, template_key, "ind-actor", "replay", digest, digest)]
    assert scalar(conn, "SELECT manifest_digest FROM iu_core.iu_piece_collection WHERE id = %s", (instance,)) == digest
    assert gates_closed(conn)


@pytest.mark.parametrize("gates_open", [True, False], ids=["gates-open", "gates-closed"])
def test_duplicate_returns_the_original_and_writes_nothing(conn: psycopg.Connection, gates_open: bool) -> None:
    event, suffix = event_uuid("dup", 1), "ind-dup-1"
    with conn.transaction():
        set_gates(conn, True)
        first = call_auto(conn, event, WF_V2, suffix, "ind-actor")
        set_gates(conn, False)
    before = fingerprint(conn)
    with conn.transaction():
        if gates_open:
            set_gates(conn, True)
        again = call_auto(conn, event, WF_V2, suffix, "ind-actor")
        if gates_open:
            set_gates(conn, False)
    assert again.keys() >= ANSWER_KEYS
    assert again["status"] == "duplicate"
    assert {k: again[k] for k in ANSWER_KEYS - {"status"}} == {k: first[k] for k in ANSWER_KEYS - {"status"}}
    assert fingerprint(conn) == before


@pytest.mark.parametrize("closed", [(AUTO_GATE,), (COMPOSER_GATE,), GATES], ids=["auto", "composer", "both"])
def test_gated_names_a_closed_gate_and_writes_nothing(conn: psycopg.Connection, closed: tuple[str, ...]) -> None:
    before = fingerprint(conn)
    with conn.transaction():
        set_gates(conn, True, [g for g in GATES if g not in closed])
        result = call_auto(conn, event_uuid("gated", 1), WF_V2, "ind-gated-1", "ind-actor")
        set_gates(conn, False)
    assert ANSWER_KEYS | {"gate"} <= result.keys()
    assert result["status"] == "gated"
    assert result["gate"] in closed
    assert result["instance_id"] is None
    assert fingerprint(conn) == before
    assert gates_closed(conn)


# -- bad input: raises, its own SQLSTATE per kind, names the value, writes nothing ---------------------
def _auto(*args: Any) -> Callable[[psycopg.Connection], object]:
    return lambda c: call_auto(c, *args)


def _sql(query: str, *params: Any) -> Callable[[psycopg.Connection], object]:
    return lambda c: c.execute(query, params).fetchall()


E1 = event_uuid("bad", 1)
BAD_INPUT: dict[str, tuple[str, Callable[[psycopg.Connection], object], str]] = {
    # case id: (kind, call, text the message must contain)
    "null-event-id": ("missing argument", _auto(None, WF_V2, "ind-b", "a"), "event_id"),
    "empty-template": ("missing argument", _auto(E1, "", "ind-b", "a"), "template_key"),
    "blank-suffix": ("missing argument", _auto(E1, WF_V2, " \t", "a"), "suffix"),
    "ideographic-space-actor": ("missing argument", _auto(E1, WF_V2, "ind-b", "\u3000\u00a0"), "actor"),
    "null-emit-mode": ("missing argument", _auto(E1, WF_V2, "ind-b", "a", None), "emit_mode"),
    "null-event-type": ("missing argument", lambda c: call_auto(c, E1, WF_V2, "ind-b", "a", event_type=None),
                        "event_type"),
    "long-suffix": ("too long", _auto(E1, WF_V2, "s" * 1001, "a"), "1000"),
    "undefined-emit-mode": ("undefined emit mode", _auto(E1, WF_V2, "ind-b", "a", "backfill"), "'backfill'"),
    "unknown-template": ("unknown template", _auto(E1, "tpl:nope/v9", "ind-b", "a"), "'tpl:nope/v9'"),
    "instance-as-template": ("instance used as template", _auto(E1, MANUAL_INSTANCE, "ind-b", "a"),
                             repr(MANUAL_INSTANCE)),
    "suffix-of-another-event": ("key taken", _auto(E1, WF_V2, DURABLE_SUFFIX, "a"), repr(DURABLE_SUFFIX)),
    "compose-gate-closed": ("composer gate closed",
                            _sql("SELECT iu_core.fn_iu_compose('tpl:wf:onboarding/v2', 'ind-c', 'a')"),
                            "iu_core.composer_enabled"),
    "compose-null-instance": ("missing argument",
                              _sql("SELECT iu_core.fn_iu_compose('tpl:wf:onboarding/v2', NULL, 'a')"),
                              "instance_key"),
    "compose-unknown-template": ("unknown template", _sql("SELECT iu_core.fn_iu_compose('tpl:x', 'ind-c', 'a')"),
                                 "'tpl:x'"),
    "compose-key-taken": ("key taken", _sql("SELECT iu_core.fn_iu_compose(%s, %s, 'a')", WF_V2, MANUAL_INSTANCE),
                          repr(MANUAL_INSTANCE)),
    "lineage-bad-origin": ("bad origin", _sql(
        "SELECT iu_core.fn_iu_collection_record_template_instance(t.id, i.id, 'a', 'robot')"
        " FROM iu_core.iu_piece_collection t, iu_core.iu_piece_collection i"
        " WHERE t.collection_key = %s AND i.collection_key = 'col:file:handbook'", WF_V2), "'robot'"),
    "lineage-unknown-collection": ("unknown collection", _sql(
        "SELECT iu_core.fn_iu_collection_record_template_instance(t.id, '00000000-0000-0000-0000-0000000000ff',"
        " 'a', 'manual') FROM iu_core.iu_piece_collection t WHERE t.collection_key = %s", WF_V2),
        "00000000-0000-0000-0000-0000000000ff"),
    "lineage-reversed": ("lineage endpoints", _sql(
        "SELECT iu_core.fn_iu_collection_record_template_instance(i.id, t.id, 'a', 'manual')"
        " FROM iu_core.iu_piece_collection t, iu_core.iu_piece_collection i"
        " WHERE t.collection_key = %s AND i.collection_key = 'col:file:handbook'", WF_V2), "must be a template"),
    "lineage-exists": ("lineage exists", _sql(
        "SELECT iu_core.fn_iu_collection_record_template_instance(t.id, i.id, 'a', 'manual')"
        " FROM iu_core.iu_piece_collection t, iu_core.iu_piece_collection i"
        " WHERE t.collection_key = %s AND i.collection_key = %s", WF_V2, MANUAL_INSTANCE), "already has"),
    "digest-unknown-collection": ("unknown collection", _sql(
        "SELECT iu_core.fn_iu_manifest_digest('00000000-0000-0000-0000-0000000000ee')"),
        "00000000-0000-0000-0000-0000000000ee"),
    "rollback-null-dry-run": ("missing argument", _sql(
        "SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('a', NULL)"), "dry_run"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_raises_its_own_sqlstate_and_writes_nothing(conn: psycopg.Connection, case: str) -> None:
    kind, call, named = BAD_INPUT[case]
    before = fingerprint(conn)
    with pytest.raises(psycopg.Error) as info, conn.transaction():
        if kind != "composer gate closed":
            set_gates(conn, True)
        else:
            set_gates(conn, True, [AUTO_GATE])
        call(conn)
    assert info.value.sqlstate == CODES[kind], f"{case}: {info.value}"
    assert named in (info.value.diag.message_primary or ""), info.value.diag.message_primary
    assert fingerprint(conn) == before
    assert gates_closed(conn)


def test_each_kind_of_bad_input_has_its_own_sqlstate_not_ours() -> None:
    assert len(set(CODES.values())) == len(CODES)
    assert {kind for kind, _, _ in BAD_INPUT.values()} <= CODES.keys()
    assert not any(code.startswith("IU") for code in CODES.values())
    catalogue = (BUILD / "01_namespace.sql").read_text()
    assert all(f"--   {code}" in catalogue for code in CODES.values())


def test_idempotency_key_of_another_call_raises(conn: psycopg.Connection) -> None:
    """md5(event:template:suffix) can spell one key for two calls when keys contain ':'."""
    event = event_uuid("collide", 1)
    with conn.transaction():
        set_gates(conn, True)
        conn.execute("INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template)"
                     " VALUES ('tpl:wf', 'workflow', true)")
        first = call_auto(conn, event, WF_V2, "ind-x", "a")
        set_gates(conn, False)
    assert expected_idempotency_key(event, "tpl:wf", "onboarding/v2:ind-x") == first["idempotency_key"]
    before = fingerprint(conn)
    with pytest.raises(psycopg.Error) as info, conn.transaction():
        set_gates(conn, True)
        call_auto(conn, event, "tpl:wf", "onboarding/v2:ind-x", "a")
    assert info.value.sqlstate == CODES["idempotency key of another call"]
    assert first["idempotency_key"] in (info.value.diag.message_primary or "")
    assert fingerprint(conn) == before


# -- digests ------------------------------------------------------------------------------------------
def _graph(conn: psycopg.Connection, collection: uuid.UUID) -> list[tuple[int, uuid.UUID, str]]:
    return [(int(p), uuid.UUID(str(i)), str(h)) for p, i, h in conn.execute(
        "SELECT m.position, m.iu_id, u.content_hash FROM iu_core.iu_piece_membership m"
        " JOIN iu_core.iu u ON u.id = m.iu_id WHERE m.collection_id = %s ORDER BY m.position",
        (collection,)).fetchall()]


def test_digest_is_this_builds_encoding_not_ours(conn: psycopg.Connection) -> None:
    """sha256 over "position TAB iu TAB content_hash LF" lines, left 16 hex (03_piece_graph.sql)."""
    digests = set()
    for key in TEMPLATE_PIECES:
        graph = _graph(conn, collection_id(conn, key))
        text = "".join(f"{p}\t{i}\t{h}\n" for p, i, h in graph)
        ours = hashlib.md5("|".join(f"{p}:{i}:{h}" for p, i, h in graph).encode()).hexdigest()[:16]
        digest = manifest_digest(conn, collection_id(conn, key))
        assert digest == hashlib.sha256(text.encode()).hexdigest()[:16] != ours
        digests.add(digest)
    assert len(digests) == len(TEMPLATE_PIECES)


def test_digest_is_keyed_on_the_piece_graph_only(conn: psycopg.Connection) -> None:
    template = collection_id(conn, WF_V2)
    graph = _graph(conn, template)
    with conn.transaction():
        for key, order, kind in (("ind:same", graph, "file"), ("ind:reversed", graph[::-1], "workflow")):
            conn.execute("INSERT INTO iu_core.iu_piece_collection (collection_key, kind) VALUES (%s, %s)", (key, kind))
            for position, (_, iu_id, _) in enumerate(order, start=1):
                conn.execute("INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)"
                             " SELECT id, %s, %s FROM iu_core.iu_piece_collection WHERE collection_key = %s",
                             (iu_id, position, key))
        assert manifest_digest(conn, collection_id(conn, "ind:same")) == manifest_digest(conn, template)
        assert manifest_digest(conn, collection_id(conn, "ind:reversed")) != manifest_digest(conn, template)
        conn.execute("INSERT INTO iu_core.iu_piece_collection (collection_key, kind) VALUES ('ind:empty', 'file')")
        assert manifest_digest(conn, collection_id(conn, "ind:empty")) == hashlib.sha256(b"").hexdigest()[:16]
        raise psycopg.Rollback()  # leave the clone as it was


def test_digest_audit_has_one_boolean_that_can_fail(conn: psycopg.Connection) -> None:
    booleans = [name for name, in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'iu_core'"
        " AND table_name = 'v_iu_digest_audit' AND data_type = 'boolean'").fetchall()]
    assert booleans == ["in_sync"]
    assert conn.execute("SELECT count(*), count(*) FILTER (WHERE in_sync) FROM iu_core.v_iu_digest_audit"
                        ).fetchone() == (13, 13)
    with conn.transaction():
        conn.execute("UPDATE iu_core.iu_piece_collection SET manifest_digest = '0000000000000000'"
                     " WHERE collection_key = 'tpl-inst:auto:' || %s", (DURABLE_SUFFIX,))
        assert conn.execute("SELECT instance_collection_key FROM iu_core.v_iu_digest_audit WHERE NOT in_sync"
                            ).fetchall() == [("tpl-inst:auto:" + DURABLE_SUFFIX,)]
        raise psycopg.Rollback()


def test_views_summary_columns_and_events(conn: psycopg.Connection) -> None:
    columns = [name for name, in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'iu_core'"
        " AND table_name = 'v_iu_auto_instantiate_template_summary' ORDER BY ordinal_position").fetchall()]
    assert columns == ["template_collection_key", "emit_mode", "instance_count", "instances_last_hour"]
    summary = dict(conn.execute("SELECT template_collection_key, instance_count"
                                " FROM iu_core.v_iu_auto_instantiate_template_summary").fetchall())
    assert summary == {"tpl:file:status-report/v2": 4, WF_V2: 9}
    assert scalar(conn, "SELECT count(*) FROM iu_core.v_iu_auto_instantiate_events") == 13


# -- rollback -----------------------------------------------------------------------------------------
def test_rollback_dry_run_ok_noop(conn: psycopg.Connection) -> None:
    pre = fingerprint(conn)
    ids = scaleout(conn, "ind-roller", 8)
    scaleout(conn, "ind-bystander", 3)
    expected = {"instance_collections": 8, "lineage_rows": 8, "log_rows": 8, "membership_rows": 2 * 21}
    before = fingerprint(conn)

    dry = rollback_by_actor(conn, "ind-roller")
    assert dry["status"] == "dry_run"
    assert dry["target_instance_ids"] == sorted(ids)
    assert {k: dry[f"would_delete_{k}"] for k in expected} == expected
    assert fingerprint(conn) == before

    done = rollback_by_actor(conn, "ind-roller", dry_run=False)
    assert done["status"] == "ok"
    assert done["target_instance_ids"] == sorted(ids)
    assert {k: done[f"deleted_{k}"] for k in expected} == expected
    assert rollback_by_actor(conn, "ind-bystander", dry_run=True)["would_delete_instance_collections"] == 3
    assert rollback_by_actor(conn, "ind-bystander", dry_run=False)["status"] == "ok"
    assert fingerprint(conn) == pre  # both actors gone: row for row the state before either

    again = rollback_by_actor(conn, "ind-roller", dry_run=False)
    assert again["status"] == "noop"
    assert again["target_instance_ids"] == []
    assert all(again[f"deleted_{k}"] == 0 for k in expected)
    nothing = rollback_by_actor(conn, "ind-roller")
    assert nothing["status"] == "dry_run"
    assert nothing["target_instance_ids"] == []
    assert all(nothing[f"would_delete_{k}"] == 0 for k in expected)


def test_rollback_never_touches_manual_lineage_or_another_actors_rows(conn: psycopg.Connection) -> None:
    """A log row of the intruder naming the manual instance must not make it a target."""
    conn.execute(
        "INSERT INTO iu_core.iu_auto_instantiate_event_log (event_id, event_type, template_collection_key,"
        " instance_collection_id, actor, emit_mode, idempotency_key, template_digest, instance_digest)"
        " SELECT gen_random_uuid(), 'x', %s, c.id, 'ind-intruder', 'live', 'intruder-key', c.manifest_digest,"
        " c.manifest_digest FROM iu_core.iu_piece_collection c WHERE c.collection_key = %s",
        (WF_V2, MANUAL_INSTANCE))
    before = fingerprint(conn)
    assert rollback_by_actor(conn, "ind-intruder")["target_instance_ids"] == []
    assert rollback_by_actor(conn, "ind-intruder", dry_run=False)["status"] == "noop"
    assert rollback_by_actor(conn, "iu-core-ops-manual", dry_run=False)["status"] == "noop"
    assert fingerprint(conn) == before


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, queue.Queue[Any]]:
    out: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            out.put(work())
        except BaseException as exc:  # handed to the test thread, which raises or inspects it
            out.put(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_concurrent_rollbacks_of_one_actor_one_ok_one_noop(make_db: Callable[[str | None], Database]) -> None:
    db = make_db("after-25000x")
    with db.connect(autocommit=True) as first, db.connect(autocommit=True) as second, \
            db.connect(autocommit=True) as watcher:
        second.execute("SET statement_timeout = '30s'")
        scaleout(first, "ind-twice", 6)
        with first.transaction():
            done = rollback_by_actor(first, "ind-twice", dry_run=False)
            thread, out = _in_thread(lambda: rollback_by_actor(second, "ind-twice", dry_run=False))
            wait_until_blocked(watcher, second.info.backend_pid, first.info.backend_pid, WAIT_S)
        late = out.get(timeout=WAIT_S)
        thread.join(WAIT_S)
        assert done["status"] == "ok" and done["deleted_instance_collections"] == 6
        assert not isinstance(late, BaseException), late
        assert late["status"] == "noop"
        assert table_counts(watcher) == COUNTS["after-25000x"]


# -- concurrency of the orchestrator -------------------------------------------------------------------
@pytest.mark.parametrize("first_outcome", ["commit", "rollback"])
@pytest.mark.parametrize("second_event", ["same", "other"])
def test_a_second_caller_waits_for_the_first_then_answers_by_its_outcome(
        make_db: Callable[[str | None], Database], first_outcome: str, second_event: str) -> None:
    """Same event: blocks on the first's claim, then duplicate (same instance) or ok after its rollback.
    Another event with the same suffix: blocks on the instance key, then XBDUP or ok."""
    db = make_db("after-25000x")
    suffix, first_event = "ind-race-1", event_uuid("race", 1)
    other_event = first_event if second_event == "same" else event_uuid("race", 2)
    with db.connect(autocommit=True) as first, db.connect(autocommit=True) as second, \
            db.connect(autocommit=True) as watcher:
        second.execute("SET statement_timeout = '30s'")
        with watcher.transaction():
            set_gates(watcher, True)  # committed open: the two sessions must not queue on the gate rows
        try:
            with first.transaction():
                mine = call_auto(first, first_event, WF_V2, suffix, "ind-racer")
                assert mine["status"] == "ok"
                thread, out = _in_thread(lambda: call_auto(second, other_event, WF_V2, suffix, "ind-racer"))
                wait_until_blocked(watcher, second.info.backend_pid, first.info.backend_pid, WAIT_S)
                if first_outcome == "rollback":
                    raise psycopg.Rollback()
            theirs = out.get(timeout=WAIT_S)
            thread.join(WAIT_S)
        finally:
            with watcher.transaction():
                set_gates(watcher, False)
        if first_outcome == "commit" and second_event == "other":
            assert isinstance(theirs, psycopg.Error) and theirs.sqlstate == CODES["key taken"], theirs
        else:
            assert not isinstance(theirs, BaseException), theirs
            assert theirs["status"] == ("duplicate" if first_outcome == "commit" else "ok")
            assert (theirs["instance_id"] == mine["instance_id"]) == (first_outcome == "commit")
        assert scalar(watcher, "SELECT count(*) FROM iu_core.iu_piece_collection WHERE collection_key = %s",
                      ("tpl-inst:auto:" + suffix,)) == 1


def test_two_sessions_racing_on_the_same_events(make_db: Callable[[str | None], Database]) -> None:
    """Each call its own transaction, opposite orders, started together: one ok per key, the other
    duplicate with the same instance, no error, exact counts."""
    db = make_db("after-25000x")
    events = [(event_uuid("swarm", i), sorted(TEMPLATE_PIECES)[i % 4], f"ind-swarm-{i:03d}") for i in range(60)]
    start = threading.Barrier(2)

    def session(order: list[tuple[uuid.UUID, str, str]]) -> list[dict[str, Any]]:
        with db.connect(autocommit=True) as c:
            c.execute("SET statement_timeout = '30s'")
            start.wait(WAIT_S)
            return [call_auto(c, e, t, s, "ind-swarm") for e, t, s in order]

    with db.connect(autocommit=True) as watcher:
        with watcher.transaction():
            set_gates(watcher, True)
        before = table_counts(watcher)
        try:
            runs = [_in_thread(lambda o=order: session(o)) for order in (events, events[::-1])]  # type: ignore[misc]
            answers = [out.get(timeout=60) for _, out in runs]
        finally:
            with watcher.transaction():
                set_gates(watcher, False)
        for answer in answers:
            assert not isinstance(answer, BaseException), answer
        for mine, theirs in zip(answers[0], reversed(answers[1]), strict=True):
            assert sorted((mine["status"], theirs["status"])) == ["duplicate", "ok"]
            assert mine["instance_id"] == theirs["instance_id"]
        after = table_counts(watcher)
        pieces_total = sum(TEMPLATE_PIECES[t] for _, t, _ in events)
        assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {
            "iu_piece_collection": 60, "iu_piece_membership": pieces_total,
            "iu_collection_template_instance_lineage": 60, "iu_auto_instantiate_event_log": 60}


def test_calls_take_no_lock_per_call(conn: psycopg.Connection) -> None:
    """SPEC: 100,000+ calls in one transaction with stock lock settings. The lock table must not
    grow with the calls (no advisory or other per-call heavyweight lock)."""
    batch = ("SELECT count(iu_core.fn_iu_auto_instantiate_from_event(md5('locks:' || i)::uuid, 'x', %s,"
             " 'ind-locks-' || i, 'ind-locks')) FROM generate_series(%s::int, %s::int) AS i")
    own_locks = "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
    with conn.transaction():
        set_gates(conn, True)
        conn.execute(batch, (WF_V2, 1, 50))
        early = scalar(conn, own_locks)
        conn.execute(batch, (WF_V2, 51, 3000))
        late = scalar(conn, own_locks)
        assert scalar(conn, "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                            " AND locktype = 'advisory'") == 0
        raise psycopg.Rollback()
    assert late == early, f"{early} locks after 50 calls, {late} after 3,000"
