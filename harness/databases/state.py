"""Set-based reads of database state: counts, fingerprints, gates, views, digests. One query each.

Everything here reads SPEC section 1 names only (its tables, required columns and
functions, and the columns SPEC names for v_iu_auto_instantiate_template_summary),
so it reads any conforming build. The build's own v_iu_digest_audit, whose columns
SPEC leaves open, is only cross-checked (`build_digest_view`), never relied on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from harness.spec import GATES, SPEC_COLUMNS, SPEC_TABLES


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Row count of every SPEC table, in one statement."""
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM iu_core.{}").format(sql.Literal(t), sql.Identifier(t))
        for t in SPEC_TABLES)
    return {name: int(count) for name, count in conn.execute(query).fetchall()}


def fingerprint(conn: psycopg.Connection, tables: Sequence[str] = SPEC_TABLES) -> dict[str, str]:
    """Per SPEC table (or those of `tables`): row count and an order-independent hash of every row's SPEC columns.

    Each row's md5 is read as a 60-bit number and the numbers are summed: a
    multiset hash, so equal fingerprints mean the same rows, column for column,
    without sorting or concatenating the table (linear in rows, constant memory).
    Only SPEC's tables and their SPEC columns: what else a build keeps (an updated_at its own
    trigger bumps when the harness toggles a gate, caches, audit trails) is its own business.
    """
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {name}, count(*) || ':' || coalesce(sum(('x' || left(md5(row({columns})::text), 15))"
                "::bit(60)::bigint), 0) FROM iu_core.{table} t").format(
            name=sql.Literal(name), table=sql.Identifier(name),
            columns=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in SPEC_COLUMNS[name]))
        for name in tables)
    return {name: digest for name, digest in conn.execute(query).fetchall()}


def writes(conn: psycopg.Connection) -> dict[str, tuple[int, int, int]]:
    """Rows inserted, updated and deleted so far by the current transaction, per SPEC table.

    PostgreSQL's own per-transaction counters (pg_stat_xact_user_tables), which include
    subtransactions, released or rolled back: compared before and after one call, they say
    whether the call wrote anything, without scanning a table (cheap at any N).
    """
    rows = conn.execute("""
        SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables
         WHERE schemaname = 'iu_core' AND relname = ANY (%s)""", (list(SPEC_TABLES),)).fetchall()
    return {name: (int(i), int(u), int(d)) for name, i, u, d in rows}


def written(before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    """What changed between two `writes` readings: {table: {inserted, updated, deleted}}, empty if nothing."""
    changed: dict[str, Any] = {}
    for table, counts in after.items():
        delta = [a - b for a, b in zip(counts, before.get(table, (0, 0, 0)), strict=True)]
        if any(delta):
            changed[table] = dict(zip(("inserted", "updated", "deleted"), delta, strict=True))
    return changed


@dataclass(frozen=True)
class WriteWatch:
    """What a step wrote, read the cheapest way this server allows (see `watch_writes`)."""

    method: str  # "write counters" or "fingerprint"
    before: Any


def watch_writes(conn: psycopg.Connection) -> WriteWatch:
    """Start watching what the SPEC tables get written: PostgreSQL's per-transaction write counters
    (no scan, so cheap at any N; the caller keeps the step and `writes_since` in one transaction), or,
    where track_counts is off and the counters stay at zero, a whole fingerprint before and after.
    """
    row = conn.execute("SELECT current_setting('track_counts')::boolean").fetchone()
    if row and row[0]:
        return WriteWatch("write counters", writes(conn))
    return WriteWatch("fingerprint", fingerprint(conn))


def writes_since(conn: psycopg.Connection, watch: WriteWatch) -> dict[str, Any]:
    """What was written since `watch`: {table: {inserted, updated, deleted}} from the counters (an
    UPDATE that changes no value counts: SPEC's "writes nothing"), or {table: "rows differ"} from
    fingerprints; empty if nothing."""
    if watch.method == "write counters":
        return written(watch.before, writes(conn))
    after = fingerprint(conn)
    return {t: "rows differ" for t in sorted(set(watch.before) | set(after)) if watch.before.get(t) != after.get(t)}


def gate_states(conn: psycopg.Connection) -> dict[str, bool | None]:
    rows: dict[str, bool | None] = dict(conn.execute("SELECT gate_key, enabled FROM iu_core.iu_gate").fetchall())
    return {gate: rows.get(gate) for gate in GATES}


def template_summary(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """template key -> {instance_count, instances_last_hour}, summed over emit modes."""
    rows = conn.execute("""
        SELECT template_collection_key, sum(instance_count)::bigint, sum(instances_last_hour)::bigint
          FROM iu_core.v_iu_auto_instantiate_template_summary
         GROUP BY 1 ORDER BY 1""").fetchall()
    return {key: {"instance_count": int(c), "instances_last_hour": int(h)} for key, c, h in rows}


# The harness's own digest audit (the seeds' `digest_drift / digest_ok / total` line): for every
# auto log row, the log's template and instance digests, the stored instance and template
# digests, and fn_iu_manifest_digest() of the instance and of its template must all be one
# value of 16 lowercase hex characters. Each template is recomputed once (materialized CTE).
_AUDIT_ROWS = """
WITH templates AS MATERIALIZED (
    SELECT t.collection_key, t.manifest_digest AS stored, iu_core.fn_iu_manifest_digest(t.id) AS recomputed
      FROM iu_core.iu_piece_collection t
     WHERE t.is_template
), audit AS (
    SELECT l.actor, i.collection_key AS instance_key, l.template_collection_key AS template_key,
           l.instance_digest AS logged_instance, i.manifest_digest AS stored_instance,
           iu_core.fn_iu_manifest_digest(i.id) AS recomputed_instance,
           l.template_digest AS logged_template, t.stored AS stored_template, t.recomputed AS recomputed_template
      FROM iu_core.iu_auto_instantiate_event_log l
      LEFT JOIN iu_core.iu_piece_collection i ON i.id = l.instance_collection_id
      LEFT JOIN templates t ON t.collection_key = l.template_collection_key
), judged AS (
    SELECT audit.*,
           (recomputed_template ~ '^[0-9a-f]{16}$'
            AND logged_instance = recomputed_template AND stored_instance = recomputed_template
            AND recomputed_instance = recomputed_template AND logged_template = recomputed_template
            AND stored_template = recomputed_template) IS TRUE AS ok
      FROM audit
)
"""


def digest_audit(conn: psycopg.Connection, actor: str | None = None) -> dict[str, int]:
    """The `digest_drift / digest_ok / total` line for the whole database, recomputed by the harness.

    With `actor`, also `actor_drift / actor_ok / actor_total` from the same single pass.
    """
    # Grouped, not six FILTERed counts: the inlined `ok` (and with it each recomputation through
    # fn_iu_manifest_digest) would be evaluated once per FILTER that reads it.
    groups = conn.execute(_AUDIT_ROWS + """
        SELECT actor IS NOT DISTINCT FROM %(actor)s, ok, count(*) FROM judged GROUP BY 1, 2""",
                          {"actor": actor}).fetchall()
    def count(mine: bool | None, ok: bool | None) -> int:
        return sum(int(n) for m, o, n in groups if mine in (None, m) and ok in (None, o))

    audit = {"drift": count(None, False), "ok": count(None, True), "total": count(None, None)}
    if actor is not None:
        audit.update(actor_drift=count(True, False), actor_ok=count(True, True), actor_total=count(True, None))
    return audit


def digest_drift_rows(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """The first `limit` auto instances (by key) whose digests disagree, with all six values."""
    cur = conn.execute(_AUDIT_ROWS + """
        SELECT instance_key, template_key, logged_instance, stored_instance, recomputed_instance,
               logged_template, stored_template, recomputed_template
          FROM judged WHERE NOT ok ORDER BY instance_key LIMIT %(limit)s""", {"limit": limit})
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# Names that say which way a boolean audit column points.
_DRIFT_WORDS = ("drift", "mismatch", "differ", "stale", "broken", "bad")


def build_digest_view(conn: psycopg.Connection) -> dict[str, Any]:
    """The build's own v_iu_digest_audit, read where its columns can be understood.

    SPEC fixes the view's role (one row per auto instance, whether its digests match), not its
    columns: it is understood when it has exactly one boolean column; a name such as
    `digest_drift` or `mismatch` means true = drift, any other name true = the digests agree.
    Otherwise `understood` is false with the reason, and nothing is counted.
    """
    columns = conn.execute("""
        SELECT a.attname, format_type(a.atttypid, a.atttypmod)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'iu_core' AND c.relname = 'v_iu_digest_audit' AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum""").fetchall()
    if not columns:
        return {"understood": False, "reason": "no view iu_core.v_iu_digest_audit in this build"}
    flags = [name for name, kind in columns if kind == "boolean"]
    if len(flags) != 1:
        return {"understood": False,
                "reason": f"v_iu_digest_audit has {len(flags)} boolean columns ({', '.join(flags) or 'none'}); "
                          "the harness reads a view with exactly one (whether the digests match)"}
    column = flags[0]
    drift_when = any(word in column.lower() for word in _DRIFT_WORDS)
    row = conn.execute(sql.SQL(
        "SELECT count(*) FILTER (WHERE {c} IS DISTINCT FROM {ok}), count(*) FILTER (WHERE {c} IS NOT DISTINCT FROM "
        "{ok}), count(*) FROM iu_core.v_iu_digest_audit").format(
            c=sql.Identifier(column), ok=sql.Literal(not drift_when))).fetchone()
    assert row is not None
    return {"understood": True, "column": column, "true_means": "drift" if drift_when else "match",
            "drift": int(row[0]), "ok": int(row[1]), "total": int(row[2])}


def actor_rows(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """Per actor: auto log rows and lineage rows (origin/actor), to show who was touched."""
    rows = conn.execute("""
        SELECT actor, sum(log)::bigint, sum(lineage)::bigint FROM (
            SELECT actor, 1 AS log, 0 AS lineage FROM iu_core.iu_auto_instantiate_event_log
            UNION ALL
            SELECT actor || ' (' || origin || ')', 0, 1 FROM iu_core.iu_collection_template_instance_lineage
        ) x GROUP BY actor ORDER BY actor""").fetchall()
    return {actor: {"log": int(log), "lineage": int(lin)} for actor, log, lin in rows}
