"""Conformance of a build to SPEC section 1: what `iu-harness check` prints, and what a run requires.

Two parts. `catalog_rows` reads the catalogue: every SPEC table and required
column, the keys SPEC names, the gate rows, the five function signatures and
the views. `behaviour_rows` calls the functions on a tiny piece graph of its
own, written through SPEC tables only, inside one transaction that is always
rolled back: every status path and answer shape. A run refuses a build only
for what no invariant could be read without (`require_runnable`); everything
else is left to the invariants, which then fail with their evidence.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from harness.databases import state as db_state
from harness.errors import HarnessError, db_error_text
from harness.spec import ANSWER_KEYS, GATES, INSTANCE_KEY_PREFIX, SPEC_COLUMNS
from harness.spec_calls import call_orchestrator_once, set_gates

OK, MISSING, DIFFERENT = "ok", "missing", "different"

# table -> column sets that SPEC makes a primary key or unique.
SPEC_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "iu": (("id",), ("iu_key",)),
    "iu_piece_collection": (("id",), ("collection_key",)),
    "iu_piece_membership": (("collection_id", "position"),),
    "iu_collection_template_instance_lineage": (("instance_collection_id",),),
    "iu_auto_instantiate_event_log": (("idempotency_key",),),
    "iu_gate": (("gate_key",),),
}


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arguments: tuple[tuple[str, str], ...]  # (name, type)
    returns: str
    essential: bool  # no run can be checked without it


SPEC_FUNCTIONS = (
    FunctionSpec("fn_iu_manifest_digest", (("collection_id", "uuid"),), "text", True),
    FunctionSpec("fn_iu_compose", (("template_key", "text"), ("instance_key", "text"), ("actor", "text")),
                 "uuid", False),
    FunctionSpec("fn_iu_collection_record_template_instance",
                 (("template_id", "uuid"), ("instance_id", "uuid"), ("actor", "text"), ("origin", "text")),
                 "bigint", False),
    FunctionSpec("fn_iu_auto_instantiate_from_event",
                 (("event_id", "uuid"), ("event_type", "text"), ("template_key", "text"), ("suffix", "text"),
                  ("actor", "text"), ("emit_mode", "text")), "jsonb", True),
    FunctionSpec("fn_iu_auto_instantiate_rollback_by_actor", (("actor", "text"), ("dry_run", "boolean")),
                 "jsonb", True),
)
SPEC_VIEWS: dict[str, tuple[str, ...]] = {
    "v_iu_auto_instantiate_events": (),  # SPEC names its role, not its columns
    "v_iu_auto_instantiate_template_summary": ("template_collection_key", "emit_mode", "instance_count",
                                               "instances_last_hour"),
    "v_iu_digest_audit": (),
}
DRY_RUN_KEYS = ("status", "target_instance_ids", "would_delete_instance_collections", "would_delete_lineage_rows",
                "would_delete_log_rows", "would_delete_membership_rows")
DELETED_KEYS = ("status", "deleted_instance_collections", "deleted_lineage_rows", "deleted_log_rows",
                "deleted_membership_rows")


@dataclass(frozen=True)
class Row:
    """One line of the conformance table."""

    area: str
    item: str
    status: str  # ok / missing / different
    detail: str = ""
    fix: str = ""
    essential: bool = False

    @property
    def ok(self) -> bool:
        return self.status == OK


# -- the catalogue -------------------------------------------------------------------------------

def catalog_rows(conn: psycopg.Connection) -> list[Row]:
    rows: list[Row] = []
    columns: dict[str, dict[str, str]] = {}
    for table, column, kind in conn.execute("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'iu_core' AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0
               AND NOT a.attisdropped""").fetchall():
        columns.setdefault(table, {})[column] = kind
    for table, required in SPEC_COLUMNS.items():
        if table not in columns:
            rows.append(Row("table", f"iu_core.{table}", MISSING, fix=f"create table iu_core.{table}",
                            essential=True))
            continue
        for column, kinds in required.items():
            got = columns[table].get(column)
            item = f"iu_core.{table}.{column}"
            if got is None:
                rows.append(Row("column", item, MISSING, fix=f"add column {column} ({kinds[0]})", essential=True))
            elif not any(got == k or got.startswith(k + "(") for k in kinds):
                rows.append(Row("column", item, DIFFERENT, f"type {got}, SPEC: {kinds[0]}",
                                f"alter column {column} type {kinds[0]}"))
            else:
                rows.append(Row("column", item, OK, got))
    rows += _key_rows(conn, columns)
    rows += _gate_rows(conn, columns)
    rows += _function_rows(conn)
    for view, view_columns in SPEC_VIEWS.items():
        if view not in columns:
            rows.append(Row("view", f"iu_core.{view}", MISSING, fix=f"create view iu_core.{view} (SPEC section 1)"))
            continue
        lacking = [c for c in view_columns if c not in columns[view]]
        rows.append(Row("view", f"iu_core.{view}", DIFFERENT if lacking else OK,
                        f"lacks column(s) {', '.join(lacking)}" if lacking
                        else ", ".join(view_columns) or "exists (columns are the build's choice)",
                        "add the columns SPEC names" if lacking else ""))
    return rows


def _key_rows(conn: psycopg.Connection, columns: dict[str, dict[str, str]]) -> list[Row]:
    unique_sets: dict[str, list[set[str]]] = {}
    for table, cols in conn.execute("""
            SELECT c.relname, array_agg(a.attname::text)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid
                   AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])  -- key columns, not INCLUDE
             WHERE n.nspname = 'iu_core' AND i.indisunique AND i.indpred IS NULL
             GROUP BY c.relname, i.indexrelid""").fetchall():
        unique_sets.setdefault(table, []).append(set(cols))
    rows = []
    for table, keys in SPEC_KEYS.items():
        if table not in columns:
            continue
        for key in keys:
            item = f"unique ({', '.join(key)}) on iu_core.{table}"
            # A unique index on exactly these columns (a wider one would allow duplicates of them).
            found = any(s == set(key) for s in unique_sets.get(table, []))
            rows.append(Row("key", item, OK if found else MISSING,
                            fix="" if found else f"add a primary key or UNIQUE ({', '.join(key)})"))
    return rows


def _gate_rows(conn: psycopg.Connection, columns: dict[str, dict[str, str]]) -> list[Row]:
    if "iu_gate" not in columns:
        return []
    states = db_state.gate_states(conn)
    rows = []
    for gate, enabled in states.items():
        if enabled is None:
            rows.append(Row("gate", gate, MISSING, fix=f"INSERT INTO iu_core.iu_gate VALUES ('{gate}', false)",
                            essential=True))
        else:
            rows.append(Row("gate", gate, OK if enabled is False else DIFFERENT,
                            "closed at rest" if enabled is False else "OPEN at rest",
                            "" if enabled is False else "gates are false at rest (SPEC section 1)"))
    return rows


def _function_rows(conn: psycopg.Connection) -> list[Row]:
    found: dict[str, list[tuple[list[str], list[str], str]]] = {}
    for name, arg_names, arg_types, returns in conn.execute("""
            SELECT p.proname, coalesce(p.proargnames[1:p.pronargs], '{}'::text[]),
                   array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) AS t),
                   format_type(p.prorettype, NULL)
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'iu_core'""").fetchall():
        found.setdefault(name, []).append((list(arg_names), list(arg_types), returns))
    rows = []
    for spec in SPEC_FUNCTIONS:
        want_types = [t for _, t in spec.arguments]
        signature = f"iu_core.{spec.name}({', '.join(f'{n} {t}' for n, t in spec.arguments)}) returns {spec.returns}"
        candidates = found.get(spec.name, [])
        match = next((c for c in candidates if c[1] == want_types), None)
        if match is None:
            got = "; ".join(f"({', '.join(t)}) returns {r}" for _, t, r in candidates) or "no such function"
            rows.append(Row("function", signature, MISSING, got, f"create {signature}", spec.essential))
            continue
        names, _, returns = match
        want_names = [n for n, _ in spec.arguments]
        # PostgreSQL identifies a function by name and argument types; other parameter names are
        # noted (callers that pass arguments by name need SPEC's), not counted as a difference.
        note = f"parameter names ({', '.join(names)}) differ from SPEC's" if names and names != want_names else ""
        if returns != spec.returns:
            rows.append(Row("function", signature, DIFFERENT, f"returns {returns}" + (f"; {note}" if note else ""),
                            f"return {spec.returns}", spec.essential))
        else:
            rows.append(Row("function", signature, OK, note))
    return rows


def require_runnable(conn: psycopg.Connection) -> None:
    """Refuse, with the list of what is missing, a build no invariant could be read on."""
    missing = [row for row in catalog_rows(conn) if row.essential and not row.ok]
    if missing:
        raise HarnessError(
            "the iu_core build under test lacks what every check reads: "
            + "; ".join(f"{row.item} ({row.status}{': ' + row.detail if row.detail else ''})" for row in missing),
            checked="SPEC section 1 tables, required columns, gate rows and the orchestrator, rollback and "
                    "digest functions in schema iu_core",
            fix="run `iu-harness check --iu-sql-dir DIR` for the whole conformance table, and add what is missing")


# -- behaviour -----------------------------------------------------------------------------------

CHECK_ACTOR = "iu-harness-check"
CHECK_EVENT_TYPE = "iu.harness.check"


def _uuid(text: str) -> str:
    return str(uuid.UUID(hashlib.md5(text.encode()).hexdigest()))


class _Behaviour:
    """Calls on a piece graph of its own, each recorded as a Row; any error is the row's detail."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.rows: list[Row] = []

    def step(self, item: str, fix: str, check: Callable[[], tuple[bool, str]]) -> bool:
        try:
            with self.conn.transaction():
                passed, detail = check()
        except psycopg.Error as exc:
            passed, detail = False, f"raised {exc.sqlstate}: {db_error_text(exc)[:200]}"
        self.rows.append(Row("behaviour", item, OK if passed else DIFFERENT, detail, "" if passed else fix))
        return passed

    def raises(self, call: Callable[[], Any]) -> tuple[bool, str]:
        """(raised, detail): a call that must raise, in its own savepoint."""
        try:
            with self.conn.transaction():
                answer = call()
        except psycopg.Error as exc:
            return True, str(exc.sqlstate)
        return False, f"answered {answer!r:.120}"

    def write_template(self) -> tuple[str, str]:
        """A template of three pieces through SPEC tables only; returns (template key, template id)."""
        conn = self.conn
        ius = [_uuid(f"{CHECK_ACTOR}:iu:{k}") for k in range(3)]
        for k, iu in enumerate(ius):
            conn.execute("INSERT INTO iu_core.iu (id, iu_key, content_hash) VALUES (%s, %s, md5(%s))",
                         (iu, f"{CHECK_ACTOR}:iu:{k}", f"piece {k}"))
        key, template_id = f"tpl:{CHECK_ACTOR}/v1", _uuid(f"{CHECK_ACTOR}:template")
        # A placeholder digest first (a build may keep manifest_digest NOT NULL), the real one below.
        conn.execute("INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, "
                     "manifest_digest) VALUES (%s, %s, 'file', true, repeat('0', 16))", (template_id, key))
        for position, iu in enumerate(ius, start=1):
            conn.execute("INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position) "
                         "VALUES (%s, %s, %s)", (template_id, iu, position))
        conn.execute("UPDATE iu_core.iu_piece_collection SET manifest_digest = iu_core.fn_iu_manifest_digest(id) "
                     "WHERE id = %s", (template_id,))
        return key, template_id


def behaviour_rows(conn: psycopg.Connection) -> list[Row]:
    """Every SPEC status path on the build, in one transaction that is rolled back."""
    b = _Behaviour(conn)
    with conn.transaction(force_rollback=True):
        made: dict[str, str] = {}

        def setup() -> tuple[bool, str]:
            made["key"], made["id"] = b.write_template()
            return True, "a 3-piece template written through SPEC columns only"

        if not b.step("a template of SPEC columns only can be written", "give non-SPEC columns defaults", setup):
            return b.rows
        key, template_id = made["key"], made["id"]
        _digest_steps(b, template_id)
        _orchestrator_steps(b, key)
        _compose_steps(b, key)
        _rollback_steps(b)
    return b.rows


def _digest_steps(b: _Behaviour, template_id: str) -> None:
    def digest() -> tuple[bool, str]:
        (value,) = b.conn.execute("SELECT iu_core.fn_iu_manifest_digest(%s)", (template_id,)).fetchone()  # type: ignore[misc]
        well_formed = isinstance(value, str) and len(value) == 16 and value == value.lower() and all(
            ch in "0123456789abcdef" for ch in value)
        return well_formed, f"{value!r}"

    b.step("fn_iu_manifest_digest: 16 lowercase hex characters", "return left(<hex digest>, 16)", digest)


def _orchestrator_steps(b: _Behaviour, key: str) -> None:
    conn = b.conn
    event, suffix = _uuid(f"{CHECK_ACTOR}:event:1"), f"{CHECK_ACTOR}-1"
    answers: dict[str, Any] = {}

    def call(event_id: str = event, template: str | None = key, sfx: str | None = suffix,
             mode: str | None = "live") -> Any:
        return call_orchestrator_once(conn, event_id, CHECK_EVENT_TYPE, template, sfx, CHECK_ACTOR, mode)

    def gated() -> tuple[bool, str]:
        set_gates(conn, False)
        before = db_state.table_counts(conn)
        answer = call()
        wrote = db_state.table_counts(conn) != before
        ok = isinstance(answer, dict) and answer.get("status") == "gated" and answer.get("gate") in GATES
        return ok and not wrote, f"status={_get(answer, 'status')} gate={_get(answer, 'gate')} wrote={wrote}"

    b.step("orchestrator: status 'gated' naming a closed gate, nothing written", "check both gates first", gated)

    def ok() -> tuple[bool, str]:
        set_gates(conn, True)
        answer = answers["ok"] = call()
        if not isinstance(answer, dict):
            return False, f"answered {answer!r:.120}"
        lacking = [k for k in ANSWER_KEYS if k not in answer]
        expected_key = hashlib.md5(f"{event}:{key}:{suffix}".encode()).hexdigest()
        problems = (lacking and [f"lacks {', '.join(lacking)}"]) or []
        if answer.get("status") != "ok":
            problems.append(f"status {answer.get('status')!r}")
        if answer.get("instance_key") != f"{INSTANCE_KEY_PREFIX}{suffix}":
            problems.append(f"instance_key {answer.get('instance_key')!r}")
        if answer.get("idempotency_key") != expected_key:
            problems.append(f"idempotency_key {answer.get('idempotency_key')!r}, SPEC: {expected_key}")
        if answer.get("digest_match") is not True or answer.get("instance_digest") != answer.get("template_digest"):
            problems.append("digests differ")
        return not problems, "; ".join(problems) or "every SPEC key; instance and idempotency keys as SPEC derives"

    b.step("orchestrator: status 'ok' with every SPEC key", "see SPEC section 1", ok)

    def duplicate() -> tuple[bool, str]:
        before = db_state.table_counts(conn)
        answer = call()
        wrote = db_state.table_counts(conn) != before
        same = isinstance(answer, dict) and answer.get("instance_id") == _get(answers.get("ok"), "instance_id")
        return (_get(answer, "status") == "duplicate" and same and not wrote,
                f"status={_get(answer, 'status')} same_instance={same} wrote={wrote}")

    b.step("orchestrator: replay answers 'duplicate' with the original instance, nothing written",
           "look the idempotency key up first", duplicate)

    cases = {"null event_id": lambda: call(event_id=None),  # type: ignore[arg-type]
             "empty suffix": lambda: call(event_id=_uuid("e2"), sfx=""),
             "null template_key": lambda: call(event_id=_uuid("e3"), template=None),
             "unknown template": lambda: call(event_id=_uuid("e4"), template=f"tpl:{CHECK_ACTOR}/none"),
             "instance used as template": lambda: call(event_id=_uuid("e5"), template=f"{INSTANCE_KEY_PREFIX}{suffix}"),
             "undefined emit_mode": lambda: call(event_id=_uuid("e6"), sfx=f"{CHECK_ACTOR}-6", mode="undefined"),
             "suffix of another event": lambda: call(event_id=_uuid("e7"))}
    states: dict[str, str] = {}
    for label, case in cases.items():
        def bad(case: Callable[[], Any] = case, label: str = label) -> tuple[bool, str]:
            raised, detail = b.raises(case)
            if raised:
                states[label] = detail
            return raised, ("raised " if raised else "") + detail

        b.step(f"orchestrator: bad input raises ({label})", "raise an error with its own SQLSTATE", bad)

    def distinct() -> tuple[bool, str]:
        return len(set(states.values())) >= 2, ", ".join(f"{k}={v}" for k, v in states.items())

    b.step("orchestrator: bad input kinds are not all one SQLSTATE", "one SQLSTATE per kind of error", distinct)


def _compose_steps(b: _Behaviour, key: str) -> None:
    conn = b.conn

    def compose_gated() -> tuple[bool, str]:
        set_gates(conn, False, ["iu_core.composer_enabled"])
        return b.raises(lambda: conn.execute("SELECT iu_core.fn_iu_compose(%s, %s, %s)",
                                             (key, f"tpl-inst:{CHECK_ACTOR}:manual", CHECK_ACTOR)).fetchone())

    b.step("fn_iu_compose: refuses while iu_core.composer_enabled is closed", "check the gate", compose_gated)

    def compose() -> tuple[bool, str]:
        set_gates(conn, True)
        ius = db_state.table_counts(conn)["iu"]
        (instance,) = conn.execute("SELECT iu_core.fn_iu_compose(%s, %s, %s)",  # type: ignore[misc]
                                   (key, f"tpl-inst:{CHECK_ACTOR}:manual", CHECK_ACTOR)).fetchone()
        (lineage,) = conn.execute(  # type: ignore[misc]
            "SELECT iu_core.fn_iu_collection_record_template_instance(t.id, %s, %s, 'manual') "
            "FROM iu_core.iu_piece_collection t WHERE t.collection_key = %s", (instance, CHECK_ACTOR, key)).fetchone()
        (same,) = conn.execute("""
            SELECT NOT EXISTS (SELECT position, iu_id FROM iu_core.iu_piece_membership WHERE collection_id = %(i)s
                               EXCEPT SELECT m.position, m.iu_id FROM iu_core.iu_piece_membership m
                                 JOIN iu_core.iu_piece_collection t ON t.id = m.collection_id
                                WHERE t.collection_key = %(k)s)""", {"i": instance, "k": key}).fetchone()  # type: ignore[misc]
        no_new_iu = db_state.table_counts(conn)["iu"] == ius
        return bool(same) and no_new_iu and isinstance(lineage, int), \
            f"reuses template pieces={same}; no new iu={no_new_iu}; lineage id={lineage}"

    b.step("fn_iu_compose + fn_iu_collection_record_template_instance: instance of the template's own pieces",
           "compose memberships from the template's iu rows", compose)


def _rollback_steps(b: _Behaviour) -> None:
    conn = b.conn
    sql = "SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s, %s)"

    def dry() -> tuple[bool, str]:
        before = db_state.fingerprint(conn)
        (answer,) = conn.execute(sql, (CHECK_ACTOR, True)).fetchone()  # type: ignore[misc]
        lacking = [k for k in DRY_RUN_KEYS if k not in (answer or {})]
        unchanged = db_state.fingerprint(conn) == before
        return (not lacking and answer.get("status") == "dry_run" and answer.get("would_delete_log_rows") == 1
                and unchanged, f"status={_get(answer, 'status')} lacks={lacking} unchanged={unchanged}")

    b.step("rollback: dry run answers 'dry_run' with every SPEC key and changes nothing", "see SPEC section 1", dry)

    def real() -> tuple[bool, str]:
        (answer,) = conn.execute(sql, (CHECK_ACTOR, False)).fetchone()  # type: ignore[misc]
        lacking = [k for k in DELETED_KEYS if k not in (answer or {})]
        (again,) = conn.execute(sql, (CHECK_ACTOR, False)).fetchone()  # type: ignore[misc]
        return (not lacking and _get(answer, "status") == "ok" and _get(answer, "deleted_log_rows") == 1
                and _get(again, "status") == "noop",
                f"status={_get(answer, 'status')} lacks={lacking} then {_get(again, 'status')}")

    b.step("rollback: real run answers 'ok' with deleted_* counts, then 'noop'", "see SPEC section 1", real)


def _get(answer: Any, key: str) -> Any:
    return answer.get(key) if isinstance(answer, dict) else None


def conformance_rows(conn: psycopg.Connection) -> list[Row]:
    """The whole table: the catalogue, then (when the essentials are there) the behaviour."""
    rows = catalog_rows(conn)
    if all(row.ok for row in rows if row.essential):
        rows += behaviour_rows(conn)
    return rows

