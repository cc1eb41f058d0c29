"""The floors: the orchestrator's rows written with no orchestration, and with the least of it.

Two measures of what per-event orchestration costs, each timed on its own
clone of the baseline, from the same plan as the run:

- `set-based INSERTs`: the run's rows written by plain INSERT ... SELECT
  statements in one transaction, one digest per template (SPEC's
  fn_iu_manifest_digest): no per-event work at all;
- `minimal orchestrator`: the leanest per-event PL/pgSQL function that still
  writes exactly the rows SPEC fixes, called exactly as the build's orchestrator
  is, into the same tables (same keys, constraints, indexes and column defaults)
  through SPEC columns only. It checks nothing the schema does not force beyond
  the idempotency key and the gates: no argument checks, no emit-mode or
  template checks, no concurrency handling (a racing caller gets a unique
  violation), and no digest computation: the instance row copies the template's
  stored manifest_digest (its pieces are the template's, so by SPEC's digest its
  digest is the template's; a drifted template is flagged by every digest audit
  either way). Two statements per event; the SQL's header says why each omission
  keeps the rows right. It is created in its own clone only (schema `iu_floor`),
  never in iu_core. It is what a user choosing between designs would call "the
  cost of orchestration" for this schema.

Both write only SPEC columns, so they run on any conforming build. When N is
large they are measured at a sample of `FLOOR_SAMPLE_N` instances and compared
per instance, so that they do not dominate a 1,000,000-instance run.

The build's rate is compared with the minimal orchestrator's side by side: the
build's own orchestrator is timed again at the same size, on its own clone,
in the order minimal, build, build, minimal (each side's time is the mean of
its two). The same size, because the cost per call grows with N; the same
positions, because on a fresh server the first large transaction pays 5-14 %
more than a later one, whichever orchestrator runs it (its writes into new
WAL segments and new relation pages land on fresh memory: PERFORMANCE.md),
and the run's own transaction always comes first.
Every timing here is one session's calls, whatever the scenario's workers: a
comparison of designs, not of the K-worker run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from harness.databases.pool import Database, DatabasePool
from harness.errors import db_error_text
from harness.run.plan import answered_ok, create_plan, scenario_transaction
from harness.scenarios.scenario import Scenario
from harness.spec import INSTANCE_KEY_SQL, ORCHESTRATOR

# Measured (2026-11-22, /tmp script timing measure_floors at 25k/50k/100k twice each): on a quiet
# machine the minimal orchestrator costs 112-115 us per instance at 25,000 vs 116-118 us at 100,000
# (2-4 % less), the set-based floor 67-69 vs 66-67 us; under load both move by 20-30 % run to run at
# any size. A 1,000,000-instance run then pays ~5 s for its floors instead of ~20 s.
FLOOR_SAMPLE_N = 25_000

# The build's own default for a collection id, so the floors write the ids the build would.
ID_DEFAULT_SQL = """
SELECT pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attrdef d
  JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
 WHERE d.adrelid = 'iu_core.iu_piece_collection'::regclass AND a.attname = 'id'
"""

FLOOR_SQL = (
    """
    CREATE TEMP TABLE iu_floor AS
    WITH templates AS MATERIALIZED (
        SELECT t.id, t.kind, t.collection_key, iu_core.fn_iu_manifest_digest(t.id) AS manifest_digest
          FROM iu_core.iu_piece_collection t
         WHERE t.collection_key IN (SELECT DISTINCT template_key FROM pg_temp.iu_run_plan)
    )
    SELECT p.seq, {id_default} AS instance_id, t.id AS template_id, t.kind, t.manifest_digest,
           p.template_key, p.suffix, p.event_id
      FROM pg_temp.iu_run_plan p JOIN templates t ON t.collection_key = p.template_key
     ORDER BY p.seq
    """,
    f"""
    INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest)
    SELECT instance_id, {INSTANCE_KEY_SQL} || suffix, kind, false, manifest_digest FROM iu_floor
    """,
    """
    INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
    SELECT f.instance_id, m.iu_id, m.position
      FROM iu_floor f JOIN iu_core.iu_piece_membership m ON m.collection_id = f.template_id
    """,
    """
    INSERT INTO iu_core.iu_collection_template_instance_lineage
        (template_collection_id, instance_collection_id, origin, actor)
    SELECT template_id, instance_id, 'auto', %(actor)s FROM iu_floor
    """,
    """
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode,
         idempotency_key, template_digest, instance_digest)
    SELECT event_id, %(event_type)s, template_key, instance_id, %(actor)s, %(emit_mode)s,
           md5(event_id::text || ':' || template_key || ':' || suffix), manifest_digest, manifest_digest
      FROM iu_floor
    """,
)

MINIMAL_FUNCTION = "iu_floor.minimal_orchestrator"
# The leanest per-event orchestrator that still writes exactly the rows SPEC fixes, with their keys:
# two statements per event, one read (the key in the log, the gates, the template with its stored
# digest) and one write (collection, memberships, lineage, log row). The header says what it leaves
# out and why each omission keeps its rows right.
MINIMAL_ORCHESTRATOR_SQL = f"""
CREATE SCHEMA iu_floor;
-- The minimal orchestrator: the same rows as SPEC's orchestrator, nothing checked that the schema
-- does not force. What it leaves out, and why its rows stay right without it:
-- * The instance's digest is the template's STORED manifest_digest, copied (no recomputation): the
--   instance's pieces are the template's, so by SPEC's digest (the piece graph alone) its digest is
--   the template's. A template whose stored digest had drifted would hand it on, but that drift is
--   the template's own and every digest audit flags it (the stored template digest is one of the
--   values it compares), so nothing it would miss is hidden.
-- * No argument checks: a NULL in a NOT NULL column fails on the schema's constraint; empty or
--   blank text is a caller's error SPEC names, not a row SPEC fixes.
-- * No emit-mode or is-template check: the rows written for a valid call are the same; a build
--   whose schema forces either (a foreign key, a check) still forces it here.
-- * No concurrency handling: the unique collection_key and idempotency_key are the claim; a racing
--   caller of the same event gets a unique violation instead of 'duplicate', and no row is doubled.
-- * A missing gate row counts as open (min() over the closed ones): the harness's runs open both.
-- Planner settings: those any per-event function on this schema needs. On a freshly ANALYZEd small
-- database the cached generic plans would otherwise be seq scans of tables that grow with every
-- call (harness/sql/PERFORMANCE.md); foreign-key checks fired inside the function plan with them too.
CREATE FUNCTION iu_floor.minimal_orchestrator(
    p_event_id uuid, p_event_type text, p_template_key text, p_suffix text, p_actor text, p_emit_mode text
) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_key          text := md5(p_event_id::text || ':' || p_template_key || ':' || p_suffix);
    v_instance_key text := {INSTANCE_KEY_SQL} || p_suffix;
    v_seen         uuid;
    v_gate         text;
    v_template_id  uuid;
    v_kind         text;
    v_digest       text;
    v_instance_id  uuid;
BEGIN
    SELECT (SELECT l.instance_collection_id FROM iu_core.iu_auto_instantiate_event_log l
             WHERE l.idempotency_key = v_key),
           (SELECT min(g.gate_key) FROM iu_core.iu_gate g
             WHERE g.gate_key IN ('iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled')
               AND NOT g.enabled),
           t.id, t.kind, t.manifest_digest
      INTO v_seen, v_gate, v_template_id, v_kind, v_digest
      FROM iu_core.iu_piece_collection t WHERE t.collection_key = p_template_key;
    IF v_seen IS NOT NULL THEN
        RETURN jsonb_build_object('status', 'duplicate', 'instance_id', v_seen, 'idempotency_key', v_key);
    ELSIF v_gate IS NOT NULL THEN
        RETURN jsonb_build_object('status', 'gated', 'gate', v_gate, 'idempotency_key', v_key);
    END IF;
    WITH claimed AS (
        INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template, manifest_digest)
        VALUES (v_instance_key, v_kind, false, v_digest)
        RETURNING id
    ), members AS (
        INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
        SELECT c.id, m.iu_id, m.position
          FROM claimed c CROSS JOIN iu_core.iu_piece_membership m
         WHERE m.collection_id = v_template_id
    ), lineage AS (
        INSERT INTO iu_core.iu_collection_template_instance_lineage
            (template_collection_id, instance_collection_id, origin, actor)
        SELECT v_template_id, c.id, 'auto', p_actor FROM claimed c
    ), logged AS (
        INSERT INTO iu_core.iu_auto_instantiate_event_log
            (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode,
             idempotency_key, template_digest, instance_digest)
        SELECT p_event_id, p_event_type, p_template_key, c.id, p_actor, p_emit_mode, v_key, v_digest, v_digest
          FROM claimed c
    )
    SELECT c.id INTO v_instance_id FROM claimed c;
    RETURN jsonb_build_object(
        'status', 'ok', 'instance_id', v_instance_id, 'instance_key', v_instance_key,
        'idempotency_key', v_key, 'template_digest', v_digest, 'instance_digest', v_digest,
        'digest_match', true);
END;
$fn$;
"""

FLOOR_KINDS = ("set-based INSERTs", "minimal orchestrator")
# The build's orchestrator timed at the floors' size, side by side with the minimal one.
BUILD_AT_SAMPLE = "build's orchestrator"
SIDE_BY_SIDE_ORDER = (FLOOR_KINDS[1], BUILD_AT_SAMPLE, BUILD_AT_SAMPLE, FLOOR_KINDS[1])


@dataclass(frozen=True)
class FloorTiming:
    """One floor, measured at `n` instances (a sample of the run's N when N is large)."""

    kind: str
    n: int
    seconds: float
    runs: tuple[float, ...] = ()  # each timing when `seconds` is a mean

    @property
    def per_instance_us(self) -> float:
        return self.seconds / self.n * 1e6


def _id_default(conn: psycopg.Connection) -> str:
    row = conn.execute(ID_DEFAULT_SQL).fetchone()
    return str(row[0]) if row and row[0] else "gen_random_uuid()"


def time_floor(database: Database, scenario: Scenario, n: int) -> float:
    """Seconds to write the run's rows set-based, in one committed transaction (database is changed)."""
    with database.connect(autocommit=True) as conn:
        create_plan(conn, scenario, n)
        id_default = _id_default(conn)
        params = {"actor": scenario.actor, "event_type": scenario.event_type, "emit_mode": scenario.emit_mode}
        began = time.perf_counter()
        with conn.transaction():
            for statement in FLOOR_SQL:
                conn.execute(statement.replace("{id_default}", id_default), params)
        return time.perf_counter() - began


def time_orchestrator(database: Database, scenario: Scenario, n: int, function: str = ORCHESTRATOR,
                      setup_sql: str | None = None) -> float:
    """Seconds `function` spends on the run's N events, timed as the run times the build's calls
    (one transaction, gates opened inside it); the database is changed. Every call must compose."""
    with database.connect(autocommit=True) as conn:
        if setup_sql:
            conn.execute(setup_sql)
        create_plan(conn, scenario, n)
        spent = scenario_transaction(conn, scenario, n, function=function)
        composed = answered_ok(conn)
        if composed != n:  # a floor of nothing would flatter the build
            raise psycopg.DataError(f"{function} composed {composed} of {n} events")
        return spent


def time_minimal_orchestrator(database: Database, scenario: Scenario, n: int) -> float:
    """Seconds the minimal orchestrator spends on the run's N events (the database gets schema iu_floor)."""
    return time_orchestrator(database, scenario, n, MINIMAL_FUNCTION, MINIMAL_ORCHESTRATOR_SQL)


def measure_floors(pool: DatabasePool, scenario: Scenario, n: int,
                   sample_n: int = FLOOR_SAMPLE_N) -> tuple[dict[str, FloorTiming], dict[str, str]]:
    """Both floors, and the build's orchestrator beside the minimal one, at min(n, sample_n) instances,
    each timing on a fresh clone of the baseline (SIDE_BY_SIDE_ORDER; a side's time is its mean).

    Returns the timings, and for a floor that could not run on this build, the reason.
    """
    size = min(n, sample_n)
    timers: dict[str, Callable[[Database, Scenario, int], float]] = {
        FLOOR_KINDS[0]: time_floor, FLOOR_KINDS[1]: time_minimal_orchestrator, BUILD_AT_SAMPLE: time_orchestrator}
    spent: dict[str, list[float]] = {}
    failures: dict[str, str] = {}
    for kind in (FLOOR_KINDS[0], *SIDE_BY_SIDE_ORDER):
        if kind in failures:
            continue
        database = pool.clone(scenario.baseline)
        try:
            spent.setdefault(kind, []).append(timers[kind](database, scenario, size))
        except psycopg.Error as exc:
            failures[kind] = db_error_text(exc)
            spent.pop(kind, None)
        finally:
            pool.drop(database.name)
    timings = {kind: FloorTiming(kind, size, sum(times) / len(times), tuple(times)) for kind, times in spent.items()}
    return timings, failures
