"""The floor: the same rows the orchestrator writes, written by plain set-based INSERTs.

orchestrator time / floor time is what per-event orchestration (validation,
idempotency, gates, per-row digests, JSON results) costs over the raw write.
The floor runs on its own clone, in one transaction, from the same plan.
"""

from __future__ import annotations

import time

from harness.databases import Database
from harness.run_context import RunContext
from harness.runner import create_plan
from harness.scenario import Scenario

FLOOR_SQL = (
    """
    CREATE TEMP TABLE iu_floor AS
    SELECT p.seq, gen_random_uuid() AS instance_id, t.id AS template_id, t.kind, t.manifest_digest,
           p.template_key, p.suffix, p.event_id
      FROM pg_temp.iu_run_plan p JOIN iu_core.iu_piece_collection t ON t.collection_key = p.template_key
    """,
    """
    INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest)
    SELECT instance_id, 'tpl-inst:auto:' || suffix, kind, false, manifest_digest FROM iu_floor
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


def time_floor(database: Database, scenario: Scenario, n: int) -> float:
    """Seconds to write the run's rows set-based, in one committed transaction (database is changed).

    Writes only SPEC columns, so it works on any conforming build.
    """
    with database.connect(autocommit=True) as conn:
        ctx = RunContext(conn, database, scenario, n, scenario.counts_at(n))
        create_plan(ctx)
        params = {"actor": scenario.actor, "event_type": scenario.event_type, "emit_mode": scenario.emit_mode}
        began = time.perf_counter()
        with conn.transaction():
            for statement in FLOOR_SQL:
                conn.execute(statement, params)  # type: ignore[arg-type]
        return time.perf_counter() - began
