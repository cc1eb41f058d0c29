"""Named invariants: small checks, each returning (passed, evidence), grouped by run phase.

`@invariant(...)` makes a function a check (an `Invariant`); harness/checks/registry.py lists the
modules of the built-in ones and takes others from the `iu_harness.invariants` entry point group or
`register(...)`. A check reads the run's facts (`ctx.facts`, harness/run/results.py) and queries the
database set-based; evidence is JSON-serializable: the numbers that prove it, and on failure the
offending rows. Each check carries its own presentation: what a held result proves (`proves`), and
for a probe, one line from its evidence (`summarize`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import sql

from harness.checks import conformance
from harness.databases import state as db_state
from harness.run.context import CheckNotRun, recorded
from harness.run.results import Evidence
from harness.spec import ANSWER_KEYS, INSTANCE_KEY_SQL

if TYPE_CHECKING:
    from harness.run.context import RunContext
    from harness.run.results import Snapshot

# "probe" runs on the run's session while the post-commit checks run on another (harness/run/runner.py):
# calls that must be refused, and a race, each leaving the run's database as it found it (a rolled-back
# transaction, or its own clone).
PHASES = ("in_tx", "post_commit", "probe", "replay", "rollback_dry_run", "rollback")
SAMPLE_ROWS = 5

Check = Callable[["RunContext"], tuple[bool, Evidence]]


@dataclass(frozen=True)
class Invariant:
    name: str
    phase: str
    description: str
    check: Check
    applies: Callable[[RunContext], bool] | None = None
    #: The contract clauses it exercises (ids of harness/docs/contract.md): the traceability matrix.
    covers: tuple[str, ...] = ()
    #: What a held result proves, for the report ("{n}" is the run's N); the description when empty.
    proves: str = ""
    #: One line of the report from its evidence (the probes' table); the compact evidence when None.
    summarize: Callable[[Evidence], str] | None = None

    def __call__(self, ctx: RunContext) -> tuple[bool, Evidence]:
        return self.check(ctx)


def invariant(name: str | None = None, *, phase: str, description: str,
              applies: Callable[[RunContext], bool] | None = None,
              covers: tuple[str, ...] = (), proves: str = "",
              summarize: Callable[[Evidence], str] | None = None) -> Callable[[Check], Invariant]:
    """Make the decorated function a check named `name` (by default, the function's name)."""
    if phase not in PHASES:
        raise ValueError(f"invariant {name!r}: phase {phase!r} is not one of {PHASES}")

    def define(check: Check) -> Invariant:
        return Invariant(name or check.__name__, phase, description, check, applies, covers, proves,
                         summarize)

    return define


def _pre(ctx: RunContext) -> Snapshot:
    return recorded(ctx.facts.pre, "the pre-run snapshot")


def _post(ctx: RunContext) -> Snapshot:
    return recorded(ctx.facts.post, "the post-commit snapshot")


def _rows(ctx: RunContext, query: str | sql.Composable, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    cur = ctx.conn.execute(query, params)  # type: ignore[arg-type]  # psycopg: SQL | Composed
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (v if isinstance(v, int | float | bool | str | dict | list | type(None)) else str(v))
             for k, v in row.items()} for row in rows]


# -- in the scenario's transaction, before COMMIT -----------------------------------------------

@invariant("calls_all_ok",
           proves="Every one of the {n} orchestrator calls returned status 'ok' in one transaction.",
           covers=("S1.orch.ok",),
           phase="in_tx",
           description="every orchestrator call of the run returned status 'ok'")
def calls_all_ok(ctx: RunContext) -> tuple[bool, Evidence]:
    by_status = {r["status"]: r["calls"] for r in _rows(ctx, """
        SELECT coalesce(result->>'status', '<none>') AS status, count(*)::int AS calls
          FROM pg_temp.iu_run_calls GROUP BY 1 ORDER BY 1""")}
    evidence: Evidence = {"calls": sum(by_status.values()), "by_status": by_status}
    passed = by_status == {"ok": ctx.n}
    if not passed:
        evidence["offending"] = _jsonable(_rows(ctx, """
            SELECT p.seq, p.template_key, p.suffix, c.result::text AS result
              FROM pg_temp.iu_run_plan p LEFT JOIN pg_temp.iu_run_calls c USING (seq)
             WHERE c.result->>'status' IS DISTINCT FROM 'ok' ORDER BY p.seq LIMIT %(k)s""",
            {"k": SAMPLE_ROWS}))
    return passed, evidence


@invariant("in_tx_rows_added",
           proves="Inside the transaction, lineage and the auto log grew by exactly {n}, all for the actor.",
           covers=("S1.orch.ok",),
           phase="in_tx",
           description="inside the transaction, lineage and auto log grew by exactly N, all for the actor")
def in_tx_rows_added(ctx: RunContext) -> tuple[bool, Evidence]:
    pre = recorded(ctx.facts.pre, "the pre-run snapshot").counts
    now = db_state.table_counts(ctx.conn)
    actor = _rows(ctx, """
        SELECT (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage
                 WHERE actor = %(a)s AND origin = 'auto')::int AS lineage,
               (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = %(a)s)::int AS log""",
                  {"a": ctx.scenario.actor})[0]
    lineage_t, log_t = "iu_collection_template_instance_lineage", "iu_auto_instantiate_event_log"
    evidence = {
        "lineage": {"before": pre[lineage_t], "in_tx": now[lineage_t], "added": now[lineage_t] - pre[lineage_t]},
        "auto_log": {"before": pre[log_t], "in_tx": now[log_t], "added": now[log_t] - pre[log_t]},
        "actor": {"name": ctx.scenario.actor, "lineage_rows": actor["lineage"], "log_rows": actor["log"]},
    }
    passed = (evidence["lineage"]["added"] == ctx.n and evidence["auto_log"]["added"] == ctx.n
              and actor["lineage"] == ctx.n and actor["log"] == ctx.n)
    return passed, evidence


@invariant("gates_closed_in_tx",
           proves="The in-TX gate toggle closes both gates before COMMIT.",
           covers=("S1.gate.in-tx",),
           phase="in_tx",
           description="both gates read closed inside the transaction after the loop")
def gates_closed_in_tx(ctx: RunContext) -> tuple[bool, Evidence]:
    states = db_state.gate_states(ctx.conn)
    return all(v is False for v in states.values()), {"gates": states}


# -- after COMMIT --------------------------------------------------------------------------------

@invariant("digest_equality",
           proves=("Instance digest == template digest for all {n} instances across the mix (returned, logged, "
                   "stored, and recomputed by the harness through fn_iu_manifest_digest), with zero drift in the "
                   "database; templates with different piece graphs have different digests."),
           covers=("S1.digest.reuse", "S1.digest.graph", "S1.compose.instance"),
           phase="post_commit",
           description="instance digest == template digest: returned, logged, stored, and recomputed by "
                       "the harness through fn_iu_manifest_digest; distinct piece graphs, distinct digests")
def digest_equality(ctx: RunContext) -> tuple[bool, Evidence]:
    row = _rows(ctx, """
        SELECT count(*)::int AS instances,
               count(*) FILTER (WHERE (c.result->>'digest_match')::boolean IS TRUE)::int AS returned_match,
               count(*) FILTER (WHERE c.result->>'instance_digest' = c.result->>'template_digest'
                                  AND c.result->>'template_digest' = t.manifest_digest)::int AS returned_equal,
               count(*) FILTER (WHERE i.manifest_digest = t.manifest_digest)::int AS stored_equal
          FROM pg_temp.iu_run_calls c
          JOIN pg_temp.iu_run_plan p USING (seq)
          LEFT JOIN iu_core.iu_piece_collection i ON i.id = (c.result->>'instance_id')::uuid
          LEFT JOIN iu_core.iu_piece_collection t ON t.collection_key = p.template_key""")[0]
    audit = ctx.digest_audit()
    run_audit, db_audit = audit.actor(), audit.database()
    # A digest that ignores the graph (a constant, say) would pass every equality above: over
    # the mix's templates, piece graphs (compared here independently of the build's digest
    # function) and digests must map one to one.
    graphs = _rows(ctx, """
        SELECT count(DISTINCT graph)::int AS distinct_graphs, count(DISTINCT digest)::int AS distinct_digests,
               count(DISTINCT (graph, digest))::int AS distinct_pairs
          FROM (SELECT iu_core.fn_iu_manifest_digest(c.id) AS digest,
                       (SELECT string_agg(m.position || '/' || m.iu_id || '/' || i.content_hash, ','
                                          ORDER BY m.position)
                          FROM iu_core.iu_piece_membership m JOIN iu_core.iu i ON i.id = m.iu_id
                         WHERE m.collection_id = c.id) AS graph
                  FROM iu_core.iu_piece_collection c
                 WHERE c.collection_key = ANY (%(keys)s)) t""", {"keys": [m.template for m, _ in ctx.plan]})[0]
    evidence: Evidence = {**row, "audit_run": run_audit, "audit_database": db_audit, "templates": graphs}
    passed = (row["instances"] == row["returned_match"] == row["returned_equal"] == row["stored_equal"] == ctx.n
              and run_audit == {"drift": 0, "ok": ctx.n, "total": ctx.n} and db_audit["drift"] == 0
              and graphs["distinct_graphs"] == graphs["distinct_digests"] == graphs["distinct_pairs"])
    if not passed:
        evidence["offending"] = _jsonable(db_state.digest_drift_rows(ctx.conn, SAMPLE_ROWS))
    return passed, evidence


@invariant("digest_audit_view_agrees",
           proves="The build's own v_iu_digest_audit reports no less drift than the harness finds.",
           covers=("S1.view.audit",),
           phase="post_commit",
           description="the build's own v_iu_digest_audit reports no less drift, and no fewer rows, than the "
                       "harness recomputes")
def digest_audit_view_agrees(ctx: RunContext) -> tuple[bool, Evidence]:
    view = db_state.build_digest_view(ctx.conn)
    if not view["understood"]:
        raise CheckNotRun(f"not in this build: {view['reason']}")
    harness = ctx.digest_audit().database()
    passed = view["drift"] >= harness["drift"] and view["total"] >= harness["total"]
    return passed, {"view": view, "harness": harness}


@invariant("instances_reuse_template_pieces",
           proves="Every instance's memberships are exactly its template's pieces, in the template's positions.",
           covers=("S1.compose.instance",),
           phase="post_commit",
           description="each instance's memberships are exactly its template's (position, iu) rows")
def instances_reuse_template_pieces(ctx: RunContext) -> tuple[bool, Evidence]:
    # One pass over the memberships: per collection, its row count and a multiset hash of its
    # (position, iu) rows (the sum of a 64-bit hash of each row, seeded by its position); an
    # instance holds when both equal its template's. Only on failure the exact row differences.
    row = _rows(ctx, """
        WITH run AS (
            SELECT (c.result->>'instance_id')::uuid AS instance_id, t.id AS template_id
              FROM pg_temp.iu_run_calls c JOIN pg_temp.iu_run_plan p USING (seq)
              JOIN iu_core.iu_piece_collection t ON t.collection_key = p.template_key),
        graphs AS (
            SELECT m.collection_id, count(*) AS pieces, sum(uuid_hash_extended(m.iu_id, m.position)) AS graph
              FROM iu_core.iu_piece_membership m GROUP BY m.collection_id),
        templates AS MATERIALIZED (
            SELECT g.* FROM graphs g WHERE g.collection_id IN (SELECT DISTINCT template_id FROM run))
        SELECT count(*)::int AS instances, coalesce(sum(i.pieces), 0)::int AS instance_rows,
               count(*) FILTER (WHERE (i.pieces, i.graph) IS DISTINCT FROM (t.pieces, t.graph))::int
                   AS instances_differing
          FROM run r LEFT JOIN graphs i ON i.collection_id = r.instance_id
          LEFT JOIN templates t ON t.collection_id = r.template_id""")[0]
    passed = (row["instances"] == ctx.n and row["instance_rows"] == ctx.expected_memberships
              and row["instances_differing"] == 0)
    evidence: Evidence = {**row, "expected_rows": ctx.expected_memberships}
    if not passed:
        evidence.update(_rows(ctx, """
            WITH run AS (
                SELECT (c.result->>'instance_id')::uuid AS instance_id, t.id AS template_id
                  FROM pg_temp.iu_run_calls c JOIN pg_temp.iu_run_plan p USING (seq)
                  JOIN iu_core.iu_piece_collection t ON t.collection_key = p.template_key),
            instance_rows AS (
                SELECT r.instance_id, m.position, m.iu_id
                  FROM run r JOIN iu_core.iu_piece_membership m ON m.collection_id = r.instance_id),
            template_rows AS (
                SELECT r.instance_id, m.position, m.iu_id
                  FROM run r JOIN iu_core.iu_piece_membership m ON m.collection_id = r.template_id)
            SELECT (SELECT count(*) FROM (SELECT * FROM instance_rows EXCEPT ALL SELECT * FROM template_rows) x)::int
                       AS not_in_template,
                   (SELECT count(*) FROM (SELECT * FROM template_rows EXCEPT ALL SELECT * FROM instance_rows) x)::int
                       AS missing_from_instance""")[0])
    return passed, evidence


@invariant("answers_as_spec_derives",
           proves="Every 'ok' answer carries SPEC's keys, with the instance and idempotency keys SPEC derives.",
           covers=("S1.orch.keys", "S1.orch.answer"),
           phase="post_commit",
           description=f"every 'ok' answer carries SPEC's keys: instance_key = {INSTANCE_KEY_SQL} || suffix, "
                       "idempotency_key = md5(event_id:template_key:suffix), digest_match = (digests equal), "
                       "instance_id = the collection of that key")
def answers_as_spec_derives(ctx: RunContext) -> tuple[bool, Evidence]:
    row = _rows(ctx, f"""
        SELECT count(*)::int AS answers,
               count(*) FILTER (WHERE NOT (c.result ?& %(keys)s))::int AS lacking_keys,
               count(*) FILTER (WHERE c.result->>'instance_key' IS DISTINCT FROM {INSTANCE_KEY_SQL} || p.suffix)::int
                   AS wrong_instance_key,
               count(*) FILTER (WHERE c.result->>'idempotency_key' IS DISTINCT FROM
                                      md5(p.event_id::text || ':' || p.template_key || ':' || p.suffix))::int
                   AS wrong_idempotency_key,
               count(*) FILTER (WHERE c.result->'digest_match' IS DISTINCT FROM
                                      to_jsonb(c.result->>'template_digest' = c.result->>'instance_digest'))::int
                   AS wrong_digest_match,
               count(*) FILTER (WHERE c.result->>'instance_id' IS DISTINCT FROM i.id::text)::int AS wrong_instance_id
          FROM pg_temp.iu_run_calls c JOIN pg_temp.iu_run_plan p USING (seq)
          LEFT JOIN iu_core.iu_piece_collection i ON i.collection_key = {INSTANCE_KEY_SQL} || p.suffix""",
                {"keys": list(ANSWER_KEYS)})[0]
    wrong = {k: v for k, v in row.items() if k != "answers" and v}
    return row["answers"] == ctx.n and not wrong, {**row, "keys": list(ANSWER_KEYS)}


@invariant("rows_match_calls",
           proves="Every call's log and lineage rows hold exactly that call's event, template, instance and actor.",
           covers=("S1.orch.ok", "S1.orch.keys"),
           phase="post_commit",
           description="each call's log and lineage rows hold its event, template, instance, actor, emit mode and "
                       "SPEC's idempotency key (origin 'auto')")
def rows_match_calls(ctx: RunContext) -> tuple[bool, Evidence]:
    row = _rows(ctx, f"""
        WITH run AS (
            SELECT p.*, (c.result->>'instance_id')::uuid AS instance_id, t.id AS template_id,
                   md5(p.event_id::text || ':' || p.template_key || ':' || p.suffix) AS key
              FROM pg_temp.iu_run_plan p JOIN pg_temp.iu_run_calls c USING (seq)
              JOIN iu_core.iu_piece_collection t ON t.collection_key = p.template_key)
        SELECT (SELECT count(*) FROM run r JOIN iu_core.iu_auto_instantiate_event_log l
                   ON l.idempotency_key = r.key AND l.event_id = r.event_id AND l.event_type = %(event_type)s
                  AND l.template_collection_key = r.template_key AND l.instance_collection_id = r.instance_id
                  AND l.actor = %(actor)s AND l.emit_mode = %(emit_mode)s)::int AS log_rows_matching,
               (SELECT count(*) FROM run r JOIN iu_core.iu_collection_template_instance_lineage g
                   ON g.instance_collection_id = r.instance_id AND g.template_collection_id = r.template_id
                  AND g.origin = 'auto' AND g.actor = %(actor)s)::int AS lineage_rows_matching,
               (SELECT count(*) FROM run r JOIN iu_core.iu_piece_collection i
                   ON i.id = r.instance_id AND i.collection_key = {INSTANCE_KEY_SQL} || r.suffix
                  AND NOT i.is_template)::int AS instances_matching,
               -- SPEC does not say an instance takes its template's kind: evidence only
               (SELECT count(*) FROM run r JOIN iu_core.iu_piece_collection i ON i.id = r.instance_id
                  JOIN iu_core.iu_piece_collection t ON t.id = r.template_id WHERE i.kind = t.kind)::int
                   AS instances_of_their_templates_kind""",
                {"event_type": ctx.scenario.event_type, "actor": ctx.scenario.actor,
                 "emit_mode": ctx.scenario.emit_mode})[0]
    judged = ("log_rows_matching", "lineage_rows_matching", "instances_matching")
    return all(row[k] == ctx.n for k in judged), {**row, "expected_each": ctx.n}


@invariant("spec_catalog",
           proves="SPEC section 1's tables, columns, unique keys, gate rows, signatures and views are all there.",
           covers=("S1.schema", "S1.tbl.iu", "S1.tbl.lifecycle", "S1.tbl.vector", "S1.tbl.collection",
                   "S1.tbl.membership", "S1.tbl.lineage", "S1.tbl.log", "S1.tbl.gate", "S1.gate.rows"),
           phase="post_commit",
           description="SPEC section 1's tables, required columns and types, unique keys, gate rows, function "
                       "signatures and views are all there (the catalogue half of `iu-harness check`)")
def spec_catalog(ctx: RunContext) -> tuple[bool, Evidence]:
    rows = conformance.catalog_rows(ctx.conn)
    wrong = [{"item": r.item, "status": r.status, "detail": r.detail} for r in rows if not r.ok]
    evidence: Evidence = {"checked": len(rows), "ok": len(rows) - len(wrong)}
    if wrong:
        evidence["missing_or_different"] = wrong
    return not wrong, evidence


@invariant("row_count_deltas",
           proves=("Every SPEC table changed by exactly the expected delta; instances reuse template pieces (no new "
                   "iu rows)."),
           covers=("S1.orch.ok", "S1.compose.instance"),
           phase="post_commit",
           description="every SPEC table changed by exactly the expected delta; iu, lifecycle, vector unchanged")
def row_count_deltas(ctx: RunContext) -> tuple[bool, Evidence]:
    pre, post = _pre(ctx).counts, _post(ctx).counts
    expected = ctx.expected_deltas()
    table = {t: {"before": pre[t], "after": post[t], "delta": post[t] - pre[t], "expected": expected[t]}
             for t in pre}
    wrong = sorted(t for t, v in table.items() if v["delta"] != v["expected"])
    return not wrong, {"tables": table, "wrong": wrong}


@invariant("unchanged_tables_identical",
           proves="iu, lifecycle and vector tables are identical row for row, not just by count.",
           covers=("S1.compose.instance",),
           phase="post_commit",
           description="iu, iu_lifecycle_log and iu_vector_sync_point are identical row for row")
def unchanged_tables_identical(ctx: RunContext) -> tuple[bool, Evidence]:
    pre, post = _pre(ctx).fingerprint, _post(ctx).fingerprint
    tables = ("iu", "iu_lifecycle_log", "iu_vector_sync_point")
    missing = [t for t in tables if t not in pre or t not in post]
    changed = [t for t in tables if t not in missing and pre[t] != post[t]]
    return not changed and not missing, {"compared": list(tables), "changed": changed, "missing": missing}


@invariant("gates_closed_after_commit",
           proves="A new session sees both gates closed after COMMIT.",
           covers=("S1.gate.in-tx", "S1.gate.rows"),
           phase="post_commit",
           description="a new session sees both gates closed after COMMIT")
def gates_closed_after_commit(ctx: RunContext) -> tuple[bool, Evidence]:
    # ctx.conn is the post-commit stream's session: begun after COMMIT, and in the snapshot COMMIT left
    # (a session opened now would see what the probes, the replay and the rollback commit meanwhile).
    states = db_state.gate_states(ctx.conn)
    return all(v is False for v in states.values()), {"gates": states}


@invariant("template_summary_counts",
           proves="The per-template observability view counts every instance of the run.",
           covers=("S1.view.summary",),
           phase="post_commit",
           description="v_iu_auto_instantiate_template_summary grew per template by the mix's counts")
def template_summary_counts(ctx: RunContext) -> tuple[bool, Evidence]:
    pre, post = _pre(ctx).summary, _post(ctx).summary
    rows, passed = {}, True
    for item, count in ctx.plan:
        before = pre.get(item.template, {"instance_count": 0, "instances_last_hour": 0})
        after = post.get(item.template, {"instance_count": 0, "instances_last_hour": 0})
        delta = after["instance_count"] - before["instance_count"]
        hour_delta = after["instances_last_hour"] - before["instances_last_hour"]
        rows[item.template] = {"before": before["instance_count"], "after": after["instance_count"],
                               "delta": delta, "expected": count, "last_hour_delta": hour_delta}
        passed &= delta == count and hour_delta == count
    return passed, {"templates": rows}


ALLOWED_EXTENSIONS = ("plpgsql", "pgcrypto")  # plpgsql is in every database; SPEC allows pgcrypto alone


@invariant("build_extensions",
           proves="The build uses no extension but pgcrypto.",
           covers=("S1.server",),
           phase="post_commit",
           description="the loaded build uses no extension but pgcrypto")
def build_extensions(ctx: RunContext) -> tuple[bool, Evidence]:
    others = [name for (name,) in ctx.conn.execute(
        "SELECT extname FROM pg_extension WHERE extname <> ALL (%s) ORDER BY extname",
        (list(ALLOWED_EXTENSIONS),)).fetchall()]
    return not others, {"allowed": list(ALLOWED_EXTENSIONS), "others": others}


@invariant("events_view_rows",
           proves="The events view shows one row per sidecar log row, each of the run's events among them.",
           covers=("S1.view.events",),
           phase="post_commit",
           description="v_iu_auto_instantiate_events has one row per sidecar log row, and a row naming each of the "
                       "run's events")
def events_view_rows(ctx: RunContext) -> tuple[bool, Evidence]:
    # SPEC names the view's role, not its columns: a run's event is found in whichever column holds it.
    # Each column is read as text in one pass over the view (json scalars unquoted, as jsonb_each_text
    # would): turning every row into jsonb first cost 427 s of a 1,000,000-event run.
    columns = ctx.conn.execute("""
        SELECT a.attname, format_type(a.atttypid, NULL) IN ('json', 'jsonb')
          FROM pg_attribute a
         WHERE a.attrelid = 'iu_core.v_iu_auto_instantiate_events'::regclass AND a.attnum > 0
           AND NOT a.attisdropped
         ORDER BY a.attnum""").fetchall()
    as_text = sql.SQL(", ").join(
        sql.SQL("({} #>> '{{}}')" if is_json else "({}::text)").format(sql.Identifier("v", name))
        for name, is_json in columns)
    row = _rows(ctx, sql.SQL("""
        SELECT (SELECT count(*) FROM iu_core.v_iu_auto_instantiate_events)::int AS view_rows,
               (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log)::int AS log_rows,
               (SELECT count(DISTINCT p.event_id) FROM iu_core.v_iu_auto_instantiate_events v
                  CROSS JOIN LATERAL (VALUES {as_text}) e(value)
                  JOIN pg_temp.iu_run_plan p ON e.value = p.event_id::text)::int AS run_events_shown""")
              .format(as_text=as_text))[0]
    passed = row["view_rows"] == row["log_rows"] and row["run_events_shown"] == ctx.n
    return passed, {**row, "run_events": ctx.n}


def _pins_apply(ctx: RunContext) -> bool:
    return ctx.scenario.expect is not None and ctx.scenario.expect.n == ctx.n


@invariant("pinned_seed_numbers",
           proves="The absolute numbers of the seed report are reproduced exactly.",
           covers=("S2.templates", "S2.before", "S2.after", "S2.seed-25000x", "S2.seed-50000x"),
           phase="post_commit", applies=_pins_apply,
           description="the absolute numbers the scenario pins (the seed report's) hold after COMMIT")
def pinned_seed_numbers(ctx: RunContext) -> tuple[bool, Evidence]:
    expect = ctx.scenario.expect
    assert expect is not None
    post, audit = _post(ctx), ctx.digest_audit().to_dict()
    mismatches: dict[str, Any] = {}
    for table, want in expect.counts.items():
        if post.counts[table] != want:
            mismatches[f"counts.{table}"] = {"expected": want, "actual": post.counts[table]}
    for template, want in expect.template_summary.items():
        got = post.summary.get(template, {}).get("instance_count", 0)
        if got != want:
            mismatches[f"template_summary.{template}"] = {"expected": want, "actual": got}
    for key, want in expect.digest_audit.items():  # the pinned figures, by the scenario file's names
        if audit[key] != want:
            mismatches[f"digest_audit.{key}"] = {"expected": want, "actual": audit[key]}
    checked = len(expect.counts) + len(expect.template_summary) + len(expect.digest_audit)
    return not mismatches, {"pins_checked": checked, "mismatches": mismatches}


# -- replaying every event -----------------------------------------------------------------------

@invariant("idempotent_replay",
           proves="Replaying all {n} events writes nothing and returns the original instances.",
           covers=("S1.orch.duplicate",),
           phase="replay",
           description="replaying every event returns 'duplicate' with SPEC's keys, the original instance and "
                       "its instance and idempotency keys, and adds nothing")
def idempotent_replay(ctx: RunContext) -> tuple[bool, Evidence]:
    row = _rows(ctx, """
        SELECT count(*)::int AS replayed,
               count(*) FILTER (WHERE r.result->>'status' = 'duplicate')::int AS duplicate,
               count(*) FILTER (WHERE r.result->>'instance_id' = c.result->>'instance_id')::int AS same_instance,
               count(*) FILTER (WHERE r.result ?& %(keys)s
                                  AND r.result->'instance_key' = c.result->'instance_key'
                                  AND r.result->'idempotency_key' = c.result->'idempotency_key')::int
                   AS same_keys,
               -- SPEC does not fix a duplicate's digests: evidence only
               count(*) FILTER (WHERE r.result->'template_digest' = c.result->'template_digest'
                                  AND r.result->'instance_digest' = c.result->'instance_digest'
                                  AND r.result->'digest_match' = c.result->'digest_match')::int AS same_digests
          FROM pg_temp.iu_run_replay r JOIN pg_temp.iu_run_calls c USING (seq)""", {"keys": list(ANSWER_KEYS)})[0]
    post, replay = _post(ctx), recorded(ctx.facts.after_replay, "the replay's counts")
    counts_unchanged = post.counts == replay.counts
    # SPEC: a duplicate "writes nothing": no row of a SPEC table inserted, updated (even to the same
    # values) or deleted by the replay's calls, read from PostgreSQL's per-transaction counters.
    written = replay.written
    evidence: Evidence = {**row, "counts_unchanged": counts_unchanged, "nothing_written": not written,
                          "written_read_by": replay.written_read_by}
    passed = row["replayed"] == row["duplicate"] == row["same_instance"] == row["same_keys"] == ctx.n \
        and counts_unchanged and not written
    if written:
        evidence["written"] = written
    if not passed:
        evidence["offending"] = _jsonable(_rows(ctx, """
            SELECT p.seq, p.suffix, r.result::text AS replay_result
              FROM pg_temp.iu_run_replay r JOIN pg_temp.iu_run_calls c USING (seq)
              JOIN pg_temp.iu_run_plan p USING (seq)
             WHERE r.result->>'status' IS DISTINCT FROM 'duplicate'
                OR r.result - 'status' IS DISTINCT FROM c.result - 'status'
             ORDER BY p.seq LIMIT %(k)s""", {"k": SAMPLE_ROWS}))
        evidence["count_changes"] = {t: {"before": v, "after": replay.counts[t]}
                                     for t, v in post.counts.items() if v != replay.counts[t]}
    return passed, evidence


# -- rollback ------------------------------------------------------------------------------------

@invariant("rollback_dry_run_addressable",
           proves=("The actor-scoped rollback addresses exactly this run's {n} instances in one call, and its dry "
                   "run changes nothing."),
           covers=("S1.rollback.dry-answer", "S1.rollback.dry-nothing"),
           phase="rollback_dry_run",
           description="the actor's dry-run rollback names exactly the run's instances, counts N, changes nothing")
def rollback_dry_run_addressable(ctx: RunContext) -> tuple[bool, Evidence]:
    dry = recorded(ctx.facts.dry_run, "the dry run's answer")
    result = dry.result
    sets = _rows(ctx, """
        WITH run AS (SELECT (result->>'instance_id')::uuid AS id FROM pg_temp.iu_run_calls),
             named AS (SELECT id FROM pg_temp.iu_run_dry_targets)
        SELECT (SELECT count(*) FROM named)::int AS named,
               (SELECT count(*) FROM (SELECT id FROM named EXCEPT SELECT id FROM run) x)::int AS named_not_in_run,
               (SELECT count(*) FROM (SELECT id FROM run EXCEPT SELECT id FROM named) x)::int AS run_not_named,
               (SELECT bool_and(a.id < b.id) FROM pg_temp.iu_run_dry_targets a
                  JOIN pg_temp.iu_run_dry_targets b ON b.ord = a.ord + 1) AS sorted""")[0]
    would = {k: result.get(k) for k in ("would_delete_instance_collections", "would_delete_lineage_rows",
                                        "would_delete_log_rows", "would_delete_membership_rows")}
    expected = {"would_delete_instance_collections": ctx.n, "would_delete_lineage_rows": ctx.n,
                "would_delete_log_rows": ctx.n, "would_delete_membership_rows": ctx.expected_memberships}
    # "Changes nothing": no SPEC row inserted, updated or deleted by the dry run (write counters), same counts.
    unchanged = not dry.written and dry.counts_unchanged
    evidence = {"status": result.get("status"), **would, "expected": expected,
                "targets": {**sets, "sorted": sets["sorted"] is not False},
                "database_unchanged": unchanged, "written_read_by": dry.written_read_by,
                **({"written": dry.written} if dry.written else {})}
    passed = (result.get("status") == "dry_run" and would == expected and sets["named"] == ctx.n
              and sets["named_not_in_run"] == 0 and sets["run_not_named"] == 0
              and sets["sorted"] is not False and unchanged)
    return passed, evidence


@invariant("rollback_restores_pre_state",
           proves=("The real rollback restores the pre-run database row for row and leaves every other actor's rows "
                   "alone."),
           covers=("S1.rollback.real", "S1.rollback.spares"),
           phase="rollback",
           description="the real rollback deletes exactly the run's rows; the database equals its pre-run state")
def rollback_restores_pre_state(ctx: RunContext) -> tuple[bool, Evidence]:
    pre, rollback = _pre(ctx), recorded(ctx.facts.rollback, "the real rollback's answer")
    result = rollback.result
    deleted = {k: result.get(k) for k in ("deleted_instance_collections", "deleted_lineage_rows",
                                          "deleted_log_rows", "deleted_membership_rows")}
    expected = {"deleted_instance_collections": ctx.n, "deleted_lineage_rows": ctx.n,
                "deleted_log_rows": ctx.n, "deleted_membership_rows": ctx.expected_memberships}
    pre_fp, after_fp = pre.fingerprint, rollback.after.fingerprint
    differing = sorted(t for t in set(pre_fp) | set(after_fp) if pre_fp.get(t) != after_fp.get(t))
    def others(actors: dict[str, Any]) -> dict[str, Any]:
        own = (ctx.scenario.actor, f"{ctx.scenario.actor} (auto)")  # log rows, auto lineage rows
        return {a: v for a, v in actors.items() if a not in own}

    other_before, other_after = others(pre.actors), others(rollback.after.actors)
    evidence = {"status": result.get("status"), **deleted, "expected": expected,
                "tables_differing_from_pre_run": differing,
                "counts_equal_pre_run": pre.counts == rollback.after.counts,
                "other_actors_untouched": other_before == other_after}
    passed = bool(result.get("status") == "ok" and deleted == expected and not differing
                  and evidence["counts_equal_pre_run"] and evidence["other_actors_untouched"])
    return passed, evidence
