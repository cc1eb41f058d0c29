"""Set-based reads of database state: counts, fingerprints, gates, views. One query each."""

from __future__ import annotations

import psycopg
from psycopg import sql

from harness.scenario import SPEC_TABLES

GATES = ("iu_core.auto_instantiate_enabled", "iu_core.composer_enabled")


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Row count of every SPEC table, in one statement."""
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM iu_core.{}").format(sql.Literal(t), sql.Identifier(t))
        for t in SPEC_TABLES)
    return {name: int(count) for name, count in conn.execute(query).fetchall()}


def fingerprint(conn: psycopg.Connection) -> dict[str, str]:
    """Per iu_core table: row count and an order-independent hash of every row's full text.

    Each row's md5 is read as a 60-bit number and the numbers are summed: a
    multiset hash, so equal fingerprints mean the same rows, column for column,
    without sorting or concatenating the table (linear in rows, constant memory).
    """
    tables = [name for (name,) in conn.execute("""
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'iu_core' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         ORDER BY c.relname""").fetchall()]
    if not tables:
        return {}
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {name}, count(*) || ':' || coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0) "
                "FROM iu_core.{table} t").format(name=sql.Literal(name), table=sql.Identifier(name))
        for name in tables)
    return {name: digest for name, digest in conn.execute(query).fetchall()}


def gate_states(conn: psycopg.Connection) -> dict[str, bool | None]:
    rows = dict(conn.execute("SELECT gate_key, enabled FROM iu_core.iu_gate").fetchall())
    return {gate: rows.get(gate) for gate in GATES}


def template_summary(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """template key -> {instance_count, instances_last_hour}, summed over emit modes."""
    rows = conn.execute("""
        SELECT template_collection_key, sum(instance_count)::bigint, sum(instances_last_hour)::bigint
          FROM iu_core.v_iu_auto_instantiate_template_summary
         GROUP BY 1 ORDER BY 1""").fetchall()
    return {key: {"instance_count": int(c), "instances_last_hour": int(h)} for key, c, h in rows}


def digest_audit(conn: psycopg.Connection, actor: str | None = None) -> dict[str, int]:
    """The seeds' `digest_drift / digest_ok / total` line for the whole database.

    With `actor`, also `actor_drift / actor_ok / actor_total` from the same single pass
    over v_iu_digest_audit (each row's digests are recomputed once).
    """
    row = conn.execute("""
        SELECT count(*) FILTER (WHERE NOT digest_ok), count(*) FILTER (WHERE digest_ok), count(*),
               count(*) FILTER (WHERE actor = %(actor)s AND NOT digest_ok),
               count(*) FILTER (WHERE actor = %(actor)s AND digest_ok),
               count(*) FILTER (WHERE actor = %(actor)s)
          FROM iu_core.v_iu_digest_audit""", {"actor": actor}).fetchone()
    assert row is not None
    audit = {"drift": int(row[0]), "ok": int(row[1]), "total": int(row[2])}
    if actor is not None:
        audit.update(actor_drift=int(row[3]), actor_ok=int(row[4]), actor_total=int(row[5]))
    return audit


def actor_rows(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """Per actor: auto log rows and lineage rows (origin/actor), to show who was touched."""
    rows = conn.execute("""
        SELECT actor, sum(log)::bigint, sum(lineage)::bigint FROM (
            SELECT actor, 1 AS log, 0 AS lineage FROM iu_core.iu_auto_instantiate_event_log
            UNION ALL
            SELECT actor || ' (' || origin || ')', 0, 1 FROM iu_core.iu_collection_template_instance_lineage
        ) x GROUP BY actor ORDER BY actor""").fetchall()
    return {actor: {"log": int(log), "lineage": int(lin)} for actor, log, lin in rows}
