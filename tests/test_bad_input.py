"""Bad input, table-driven and fuzzed, for the four public iu_core entry points.

fn_iu_auto_instantiate_from_event, fn_iu_compose, fn_iu_collection_record_template_instance
and fn_iu_auto_instantiate_rollback_by_actor, against a real PostgreSQL (SPEC section 1):

* bad input raises its own SQLSTATE (the IU001..IU011 catalogue of 000_schema.sql), exactly the
  one of its kind, with a message that names the offending argument or value; the caller's
  transaction aborts, nothing is written (whole-database fingerprint before == after) and the
  gates the transaction opened are closed again afterwards;
* valid but unusual input (unicode, quotes, backslashes, control characters, SQL-looking text)
  is stored verbatim: the instance key is exactly 'tpl-inst:auto:' || suffix, which proves the
  values are never spliced into SQL or normalised on the way. Those calls are rolled back.

Every check lives in `check_case`, which returns a list of problems instead of asserting, so the
same table also runs over a deliberately broken build (tests/broken/orchestrator_swallows_errors.sql)
and must find problems there: these tests can fail.

What counts as "blank" (IU001) -- a decision, fixed in harness/sql/035_arguments.sql:
a value made only of Unicode White_Space characters (`WHITESPACE` below: the ASCII six plus
U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) is blank, like
one of plain spaces: the catalogue says "whitespace only", and a key of no-break or ideographic
spaces is as unreadable in a report as an empty one. fn_iu_require_text used to trim only
' \\t\\r\\n\\f\\v', so a suffix of U+00A0 or U+3000 composed 'tpl-inst:auto:\\u3000'.
Not blank, and so accepted verbatim: zero-width and format characters (U+200B, U+2060, U+FEFF),
which Unicode does not call whitespace, and the ASCII separators U+001C..U+001F, which Python's
str.isspace() does but Unicode's White_Space does not. Values are never trimmed: ' padded ' is
the suffix ' padded '. (PostgreSQL text cannot hold NUL; psycopg refuses it client-side, see
test_nul_is_refused_by_the_client_before_reaching_the_server.)
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg import pq
from sql_helpers import (
    AUTO_GATE,
    COMPOSER_GATE,
    EVENT_TYPE,
    GATES,
    call_auto,
    event_uuid,
    expected_idempotency_key,
    fingerprint,
    gate_states,
    set_gates,
)

from harness.databases.pool import Database, DatabasePool

# About our own build: skipped (one line) when --iu-sql-dir names another one.
pytestmark = pytest.mark.bundled_build("the SQLSTATE catalogue (IU001..IU011) and internal helpers")

BASELINE = "before-25000x"
LIMIT = 512
AUTO_PREFIX = "tpl-inst:auto:"
WF_V2 = "tpl:wf:onboarding/v2"
FILE_V1 = "tpl:file:status-report/v1"
TEMPLATES = ("tpl:file:status-report/v1", "tpl:file:status-report/v2", "tpl:wf:onboarding/v1", WF_V2)
DURABLE_SUFFIX = "24000x-durable-wf-v2-01"
DURABLE_INSTANCE = AUTO_PREFIX + DURABLE_SUFFIX
MANUAL_INSTANCE = "tpl-inst:manual:onboarding-v2-acme"
PLAIN_COLLECTION = "col:file:handbook"
EMIT_MODES = ("live", "backfill")
ALL_CLOSED = dict.fromkeys(GATES, False)
BROKEN_BUILD = Path(__file__).parent / "broken" / "orchestrator_swallows_errors.sql"

# Unicode's White_Space property, all 25 characters (checked against Python below).
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
              + "\u2028\u2029\u202f\u205f\u3000")
# Look blank, or are blank to Python, but are not Unicode whitespace: accepted as values.
NOT_WHITESPACE = ("\u200b", "\u2060", "\ufeff", "\x1c", "\x1f")
INJECTIONS = (
    "x'); DROP TABLE iu_core.iu; --",
    "'; DELETE FROM iu_core.iu_gate; --",
    "\\'; SELECT pg_sleep(10); --",
    "$$; DROP SCHEMA iu_core CASCADE; $$",
    "' OR '1'='1",
    "%s %L %I %% $1 :name",
    "tpl:wf:onboarding/v2' --",
    "E'\\x41'",
    "iu-core-%",
)
ODD_VALUES = {
    "unicode": "ünïcödé-✓-日本語-Ελληνικά-🚀",
    "quotes": "it's \"quoted\" ''twice''",
    "backslashes": "back\\slash\\\\end\\",
    "control-chars": "ctl\x01\x07\x08\x1b\x7f-\x9f-end",
    "padded": " padded ",
    "tab-newline-inside": "tab\tinside\nand newline",
    "zero-width-space": "\u200b",
    "bom": "\ufeff",
    "file-separator": "\x1c",
    "ideographic-space-then-x": "\u3000x",
    "percent": "%",
}


def pg_quote(value: str | None) -> str:
    """How quote_nullable / quote_literal render a value in a message (E'' when it holds a backslash)."""
    if value is None:
        return "NULL"
    quoted = "'" + value.replace("'", "''").replace("\\", "\\\\") + "'"
    return "E" + quoted if "\\" in value else quoted


def is_blank(value: str | None) -> bool:
    return value is None or value.strip(WHITESPACE) == ""


# -- the four entry points ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Key:
    """An argument that is the id of the collection with this key, looked up when the case runs."""

    key: str


def _one(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _call_auto(conn: psycopg.Connection, a: dict[str, Any]) -> Any:
    return call_auto(conn, a["event_id"], a["template_key"], a["suffix"], a["actor"], a["emit_mode"],
                     a["event_type"])


def _call_compose(conn: psycopg.Connection, a: dict[str, Any]) -> Any:
    return _one(conn, "SELECT iu_core.fn_iu_compose(%s::text, %s::text, %s::text)",
                (a["template_key"], a["instance_key"], a["actor"]))


def _call_lineage(conn: psycopg.Connection, a: dict[str, Any]) -> Any:
    return _one(conn, "SELECT iu_core.fn_iu_collection_record_template_instance(%s::uuid, %s::uuid, %s::text,"
                      " %s::text)", (a["template_id"], a["instance_id"], a["actor"], a["origin"]))


def _call_rollback(conn: psycopg.Connection, a: dict[str, Any]) -> Any:
    return _one(conn, "SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s::text, dry_run => %s::boolean)",
                (a["actor"], a["dry_run"]))


CALLS: dict[str, Callable[[psycopg.Connection, dict[str, Any]], Any]] = {
    "auto": _call_auto, "compose": _call_compose, "lineage": _call_lineage, "rollback": _call_rollback}
DEFAULTS: dict[str, dict[str, Any]] = {
    "auto": {"event_id": event_uuid("bad-input", 1), "event_type": EVENT_TYPE, "template_key": WF_V2,
             "suffix": "bad-input-ok", "actor": "iu-bad-input", "emit_mode": "live"},
    "compose": {"template_key": WF_V2, "instance_key": "tpl-inst:manual:bad-input-ok", "actor": "iu-bad-input"},
    "lineage": {"template_id": Key(FILE_V1), "instance_id": Key(PLAIN_COLLECTION), "actor": "iu-bad-input",
                "origin": "manual"},
    # a real (not dry) run: an actor that owns nothing must still change nothing
    "rollback": {"actor": "iu-bad-input-owns-nothing", "dry_run": False},
}
# (function, text argument) pairs that go through fn_iu_require_text
TEXT_ARGS = (*(("auto", a) for a in ("event_type", "template_key", "suffix", "actor", "emit_mode")),
             *(("compose", a) for a in ("template_key", "instance_key", "actor")),
             ("lineage", "actor"), ("rollback", "actor"))


def _valid_auto(conn: psycopg.Connection, a: dict[str, Any], result: Any) -> list[str]:
    expected_key = AUTO_PREFIX + a["suffix"]
    problems = []
    if result.get("status") != "ok":
        return [f"status {result.get('status')!r}, expected 'ok': {result!r}"]
    if result.get("instance_key") != expected_key:
        problems.append(f"instance_key {result.get('instance_key')!r} != {expected_key!r}")
    if result.get("idempotency_key") != expected_idempotency_key(a["event_id"], a["template_key"], a["suffix"]):
        problems.append(f"idempotency_key {result.get('idempotency_key')!r} is not the SPEC's md5")
    if result.get("digest_match") is not True:
        problems.append(f"digest_match {result.get('digest_match')!r}")
    stored = conn.execute(
        "SELECT c.collection_key, l.actor, l.event_type, l.template_collection_key, l.emit_mode"
        "  FROM iu_core.iu_piece_collection c JOIN iu_core.iu_auto_instantiate_event_log l"
        "    ON l.instance_collection_id = c.id WHERE c.id = %s::uuid", (result.get("instance_id"),)).fetchall()
    wanted = [(expected_key, a["actor"], a["event_type"], a["template_key"], a["emit_mode"])]
    if stored != wanted:
        problems.append(f"stored {stored!r}, expected {wanted!r}")
    return problems


def _valid_compose(conn: psycopg.Connection, a: dict[str, Any], result: Any) -> list[str]:
    stored = conn.execute("SELECT collection_key, created_by, is_template FROM iu_core.iu_piece_collection"
                          " WHERE id = %s", (result,)).fetchall()
    wanted = [(a["instance_key"], a["actor"], False)]
    return [] if stored == wanted else [f"stored {stored!r}, expected {wanted!r}"]


def _valid_lineage(conn: psycopg.Connection, a: dict[str, Any], result: Any) -> list[str]:
    stored = conn.execute("SELECT template_collection_id, instance_collection_id, actor, origin"
                          "  FROM iu_core.iu_collection_template_instance_lineage WHERE id = %s",
                          (result,)).fetchall()
    wanted = [(a["template_id"], a["instance_id"], a["actor"], a["origin"])]
    return [] if stored == wanted else [f"stored {stored!r}, expected {wanted!r}"]


def _valid_rollback(conn: psycopg.Connection, a: dict[str, Any], result: Any) -> list[str]:
    # No trimming, no LIKE, no injection: an actor that owns nothing addresses nothing.
    if result.get("status") != "noop" or result.get("target_instance_ids") != []:
        return [f"expected a noop addressing nothing, got {result!r}"]
    return []


VALID_CHECKS: dict[str, Callable[[psycopg.Connection, dict[str, Any], Any], list[str]]] = {
    "auto": _valid_auto, "compose": _valid_compose, "lineage": _valid_lineage, "rollback": _valid_rollback}
WRITES = {"auto": True, "compose": True, "lineage": True, "rollback": False}


# -- the shared check --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Case:
    """One call: `sqlstate` None means valid input; `fragments` must all be in the error message."""

    function: str
    name: str
    overrides: dict[str, Any]
    sqlstate: str | None
    fragments: tuple[str, ...] = ()
    open_gates: tuple[str, ...] = GATES

    @property
    def id(self) -> str:
        return f"{self.function}:{self.name}"


def _resolve(conn: psycopg.Connection, args: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, Key):
            return _one(conn, "SELECT id FROM iu_core.iu_piece_collection WHERE collection_key = %s", (value.key,))
        return value
    return {name: one(value) for name, value in args.items()}


def check_case(conn: psycopg.Connection, case: Case, before: str | None = None) -> list[str]:
    """Run one case in its own transaction (gates opened in it); return what is wrong, [] when all holds.

    Bad input: the exact SQLSTATE, the fragments in the message, an aborted transaction.
    Valid input: the function's result and the rows it wrote are exactly the input (then rolled back).
    Both: the database afterwards is row for row what it was, and every gate is closed.
    `before` is the database's fingerprint when the caller already knows it.
    """
    problems: list[str] = []
    args = _resolve(conn, {**DEFAULTS[case.function], **case.overrides})
    before = before or fingerprint(conn)
    error: psycopg.Error | None = None
    try:
        with conn.transaction():
            if case.open_gates:
                set_gates(conn, True, case.open_gates)
            opened = fingerprint(conn)
            try:
                result = CALLS[case.function](conn, args)
            except psycopg.Error as exc:
                error = exc
                if conn.info.transaction_status != pq.TransactionStatus.INERROR:
                    problems.append(f"the transaction was not aborted by {exc.sqlstate} {exc}")
                raise
            wrote = fingerprint(conn) != opened
            if case.sqlstate is not None:
                problems.append(f"expected {case.sqlstate}, the call returned {result!r}")
                if wrote:
                    problems.append("bad input wrote rows inside the transaction")
            else:
                problems.extend(VALID_CHECKS[case.function](conn, args, result))
                if wrote != WRITES[case.function]:
                    problems.append(f"valid input {'wrote' if wrote else 'did not write'} rows")
            raise psycopg.Rollback()
    except psycopg.Error as exc:
        if exc is not error:
            raise
    if error is not None:
        message = error.diag.message_primary or ""
        if case.sqlstate is None:
            problems.append(f"valid input raised {error.sqlstate}: {message}")
        elif error.sqlstate != case.sqlstate:
            problems.append(f"expected {case.sqlstate}, got {error.sqlstate}: {message}")
        problems.extend(f"message {message!r} does not name {fragment!r}"
                        for fragment in case.fragments if fragment not in message)
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        problems.append(f"connection left in {conn.info.transaction_status.name}")
    if fingerprint(conn) != before:
        problems.append("the database changed")
    if (gates := gate_states(conn)) != ALL_CLOSED:
        problems.append(f"gates not closed afterwards: {gates}")
    return [f"{case.id}: {problem}" for problem in problems]


def check_cases(conn: psycopg.Connection, cases: list[Case]) -> list[str]:
    """`check_case` for each case; the database is unchanged between cases unless a problem says so."""
    problems: list[str] = []
    before = fingerprint(conn)
    for case in cases:
        found = check_case(conn, case, before)
        if found:
            problems.extend(found)
            before = fingerprint(conn)
    return problems


# -- the table ------------------------------------------------------------------------------------
BLANKS = {"null": None, "empty": "", "ascii-whitespace": " \t\r\n\x0b\x0c", "nbsp": "\u00a0",
          "unicode-whitespace": "\u3000\u2028 \u202f\u2003\x85"}
TOO_LONG = ("L-é'\\" * 103)[:LIMIT + 1]  # 513 characters, with a quote and a backslash in its first 40


def blank_case(function: str, arg: str, label: str, value: str | None) -> Case:
    return Case(function, f"{arg}-{label}", {arg: value}, "IU001", (f"argument {arg}", f"got {pg_quote(value)}"))


def too_long_case(function: str, arg: str, value: str, label: str = "too-long") -> Case:
    return Case(function, f"{arg}-{label}", {arg: value}, "IU009",
                (f"argument {arg}", f"is {len(value)} characters long", f"limit is {LIMIT}", pg_quote(value[:40])))


def valid_case(function: str, arg: str, label: str, value: str, **more: Any) -> Case:
    return Case(function, f"{arg}-{label}", {arg: value, **more}, None)


def _table() -> list[Case]:
    cases: list[Case] = [Case("auto", "event_id-null", {"event_id": None}, "IU001", ("argument event_id", "NULL"))]
    for function, arg in TEXT_ARGS:
        cases += [blank_case(function, arg, label, value) for label, value in BLANKS.items()]
        cases.append(too_long_case(function, arg, TOO_LONG))
    injection = INJECTIONS[0]
    cases += [
        # fn_iu_auto_instantiate_from_event
        Case("auto", "unknown-template", {"template_key": "tpl:file:no-such/v9"}, "IU002",
             ("unknown template", "'tpl:file:no-such/v9'")),
        Case("auto", "injection-template", {"template_key": injection}, "IU002", (pg_quote(injection),)),
        Case("auto", "template-with-trailing-space", {"template_key": WF_V2 + " "}, "IU002",
             (pg_quote(WF_V2 + " "),)),
        Case("auto", "auto-instance-as-template", {"template_key": DURABLE_INSTANCE}, "IU002",
             (pg_quote(DURABLE_INSTANCE), "is an instance, not a template")),
        Case("auto", "manual-instance-as-template", {"template_key": MANUAL_INSTANCE}, "IU002",
             (pg_quote(MANUAL_INSTANCE), "is an instance, not a template")),
        Case("auto", "plain-collection-as-template", {"template_key": PLAIN_COLLECTION}, "IU002",
             (pg_quote(PLAIN_COLLECTION),)),
        Case("auto", "emit_mode-undefined", {"emit_mode": "bogus-mode"}, "IU003", ("'bogus-mode'",)),
        Case("auto", "emit_mode-wrong-case", {"emit_mode": "LIVE"}, "IU003", ("'LIVE'",)),
        Case("auto", "emit_mode-padded", {"emit_mode": " live"}, "IU003", ("' live'",)),
        Case("auto", "emit_mode-injection", {"emit_mode": "live'; --"}, "IU003", (pg_quote("live'; --"),)),
        Case("auto", "suffix-of-another-event", {"suffix": DURABLE_SUFFIX}, "IU004",
             (pg_quote(DURABLE_INSTANCE), str(DEFAULTS["auto"]["event_id"]))),
        # ... with the gates closed it is still bad input, not 'gated'
        Case("auto", "unknown-template-gates-closed", {"template_key": "tpl:x"}, "IU002", ("'tpl:x'",), ()),
        valid_case("auto", "emit_mode", "backfill", "backfill"),
        valid_case("auto", "suffix", "at-the-limit", "s" * LIMIT),
        *(valid_case("auto", "suffix", label, value) for label, value in ODD_VALUES.items()),
        *(valid_case("auto", "suffix", f"injection-{i}", value, actor=value, event_type=value)
          for i, value in enumerate(INJECTIONS)),
        # fn_iu_compose
        Case("compose", "unknown-template", {"template_key": "tpl:wf:no-such/v9"}, "IU002", ("'tpl:wf:no-such/v9'",)),
        Case("compose", "injection-template", {"template_key": injection}, "IU002", (pg_quote(injection),)),
        Case("compose", "instance-as-template", {"template_key": MANUAL_INSTANCE}, "IU002",
             (pg_quote(MANUAL_INSTANCE), "is an instance, not a template")),
        Case("compose", "instance-key-taken", {"instance_key": MANUAL_INSTANCE}, "IU004", (pg_quote(MANUAL_INSTANCE),)),
        Case("compose", "template-key-as-instance-key", {"instance_key": FILE_V1}, "IU004", (pg_quote(FILE_V1),)),
        Case("compose", "gates-closed", {}, "IU005", (COMPOSER_GATE,), ()),
        Case("compose", "only-auto-gate-open", {}, "IU005", (COMPOSER_GATE,), (AUTO_GATE,)),
        valid_case("compose", "instance_key", "injection", "tpl-inst:manual:" + injection, actor=injection),
        *(valid_case("compose", "instance_key", label, "tpl-inst:manual:" + value, actor=value)
          for label, value in ODD_VALUES.items()),
        # fn_iu_collection_record_template_instance
        Case("lineage", "template_id-null", {"template_id": None}, "IU001", ("template_id and instance_id", "NULL")),
        Case("lineage", "instance_id-null", {"instance_id": None}, "IU001", ("template_id and instance_id", "NULL")),
        Case("lineage", "origin-null", {"origin": None}, "IU007", ("got NULL",)),
        Case("lineage", "origin-empty", {"origin": ""}, "IU007", ("got ''",)),
        Case("lineage", "origin-wrong-case", {"origin": "Manual"}, "IU007", ("'Manual'",)),
        Case("lineage", "origin-injection", {"origin": "auto'); --"}, "IU007", (pg_quote("auto'); --"),)),
        Case("lineage", "unknown-template-id", {"template_id": uuid.UUID(int=1)}, "IU008",
             (str(uuid.UUID(int=1)), "as template")),
        Case("lineage", "unknown-instance-id", {"instance_id": uuid.UUID(int=2)}, "IU008",
             (str(uuid.UUID(int=2)), "as instance")),
        Case("lineage", "instance-as-template",
             {"template_id": Key(PLAIN_COLLECTION), "instance_id": Key(MANUAL_INSTANCE)}, "IU010", ("is_template=f",)),
        Case("lineage", "template-as-instance", {"instance_id": Key(WF_V2)}, "IU010", ("is_template=t",)),
        Case("lineage", "instance-already-linked", {"instance_id": Key(MANUAL_INSTANCE)}, "IU011",
             ("already has a lineage row",)),
        *(valid_case("lineage", "actor", label, value) for label, value in ODD_VALUES.items()),
        *(valid_case("lineage", "actor", f"injection-{i}", value) for i, value in enumerate(INJECTIONS)),
        # fn_iu_auto_instantiate_rollback_by_actor
        Case("rollback", "dry_run-null", {"dry_run": None}, "IU001", ("argument dry_run", "NULL")),
        valid_case("rollback", "actor", "padded-real-actor", "iu-core-24000x-durable "),
        valid_case("rollback", "actor", "real-actor-other-case", "IU-CORE-24000X-DURABLE"),
        *(valid_case("rollback", "actor", label, value) for label, value in ODD_VALUES.items()),
        *(valid_case("rollback", "actor", f"injection-{i}", value) for i, value in enumerate(INJECTIONS)),
    ]
    return cases


TABLE = _table()


# -- fixtures -------------------------------------------------------------------------------------
def _connect(db: Database) -> Iterator[psycopg.Connection]:
    with db.connect(autocommit=True) as conn:
        yield conn


@pytest.fixture
def conn(iu_db_factory: Callable[..., Database]) -> Iterator[psycopg.Connection]:
    """A fresh before-25000x database per test function; Hypothesis examples share it."""
    yield from _connect(iu_db_factory(BASELINE))


def _existing_keys(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT collection_key FROM iu_core.iu_piece_collection").fetchall()}


# -- table-driven ---------------------------------------------------------------------------------
def test_table_covers_every_error_of_the_four_functions() -> None:
    # IU006 (unknown gate) belongs to fn_iu_set_gates, which is not one of the four.
    assert {c.sqlstate for c in TABLE} == {None, *(f"IU{n:03d}" for n in range(1, 12))} - {"IU006"}
    assert len({c.id for c in TABLE}) == len(TABLE), "case ids are unique"
    assert {c.function for c in TABLE if c.sqlstate is None} == set(CALLS), "every function has valid cases"


@pytest.mark.parametrize("function", list(CALLS))
def test_bad_input_table(conn: psycopg.Connection, function: str) -> None:
    assert check_cases(conn, [c for c in TABLE if c.function == function]) == []


def test_bad_input_checks_catch_an_orchestrator_that_swallows_errors(iu_pool: DatabasePool) -> None:
    """The orchestrator's rows of the table: nothing wrong on the real build, every bad input on a broken one.

    (The broken build changes only fn_iu_auto_instantiate_from_event; the other functions' rows run on
    the real build in test_bad_input_table.)
    """
    auto_cases = [c for c in TABLE if c.function == "auto"]
    broken_pool = DatabasePool(iu_pool.server,
                               dataclasses.replace(iu_pool.config, extra_sql=(*iu_pool.config.extra_sql,
                                                                              BROKEN_BUILD)))
    try:
        found: dict[str, list[str]] = {}
        for label, pool in (("real", iu_pool), ("broken", broken_pool)):
            database = pool.clone(BASELINE)
            try:
                with database.connect(autocommit=True) as connection:
                    found[label] = check_cases(connection, auto_cases)
            finally:
                pool.drop(database.name)
    finally:
        broken_pool.close()
    assert found["real"] == []
    flagged = {problem.split(": ", 1)[0] for problem in found["broken"]}
    # every bad input of the orchestrator, plus the valid ' padded ' suffix its btrim mangles; nothing else
    assert flagged == {c.id for c in auto_cases if c.sqlstate is not None} | {"auto:suffix-padded"}
    # the two shapes of the bug, each with the problem it must produce
    assert "auto:suffix-null: bad input wrote rows inside the transaction" in found["broken"]
    assert any(p.startswith("auto:unknown-template: expected IU002, the call returned {") and "'error'" in p
               for p in found["broken"])


def test_unicode_whitespace_is_blank_and_lookalikes_are_not(conn: psycopg.Connection) -> None:
    # WHITESPACE is exactly Unicode's White_Space: Python's isspace() minus the ASCII separators.
    python_space = {c for c in map(chr, range(0x110000)) if c.isspace()}
    assert set(WHITESPACE) == python_space - {"\x1c", "\x1d", "\x1e", "\x1f"}
    assert len(WHITESPACE) == 25
    def sqlstate(value: str) -> str | None:
        try:
            conn.execute("SELECT iu_core.fn_iu_require_text('f', 'a', %s)", (value,))
        except psycopg.Error as exc:
            return exc.sqlstate
        return None
    assert {c: sqlstate(c) for c in WHITESPACE} == dict.fromkeys(WHITESPACE, "IU001")
    assert sqlstate(WHITESPACE) == "IU001"
    assert {c: sqlstate(c) for c in NOT_WHITESPACE} == dict.fromkeys(NOT_WHITESPACE)
    assert sqlstate("\u3000x\u3000") is None


@pytest.mark.parametrize("function", list(CALLS))
def test_nul_is_refused_by_the_client_before_reaching_the_server(conn: psycopg.Connection, function: str) -> None:
    arg = next(a for f, a in TEXT_ARGS if f == function)
    args = _resolve(conn, {**DEFAULTS[function], arg: "nul\x00byte"})
    before = fingerprint(conn)
    with conn.transaction():
        set_gates(conn, True)
        with pytest.raises(psycopg.DataError, match="NUL") as info:
            CALLS[function](conn, args)
        assert info.value.sqlstate is None  # psycopg's own error: nothing was sent
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
        set_gates(conn, False)
    assert fingerprint(conn) == before
    assert gate_states(conn) == ALL_CLOSED


# -- fuzzed ---------------------------------------------------------------------------------------
CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
blanks = st.one_of(st.none(), st.text(st.sampled_from(WHITESPACE), max_size=12))


def nonblank(max_size: int = 60) -> st.SearchStrategy[str]:
    free = st.text(CHARS, min_size=1, max_size=max_size).filter(lambda s: not is_blank(s))
    tricky = st.sampled_from((*INJECTIONS, *ODD_VALUES.values())).filter(lambda s: not is_blank(s))
    mixed = st.builds(operator.add, st.text(CHARS, max_size=8), tricky)
    return st.one_of(free, tricky, mixed)


def too_long() -> st.SearchStrategy[str]:
    def build(head: str, length: int) -> str:
        return (head * (length // len(head) + 1))[:length]
    return st.builds(build, nonblank(40), st.integers(LIMIT + 1, 3 * LIMIT))


fuzz = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@fuzz
@given(target=st.sampled_from(TEXT_ARGS), value=blanks)
def test_fuzz_blank_arguments(conn: psycopg.Connection, target: tuple[str, str], value: str | None) -> None:
    function, arg = target
    assert check_case(conn, blank_case(function, arg, "fuzz", value)) == []


@fuzz
@given(target=st.sampled_from(TEXT_ARGS), value=too_long())
def test_fuzz_too_long_arguments(conn: psycopg.Connection, target: tuple[str, str], value: str) -> None:
    function, arg = target
    assert check_case(conn, too_long_case(function, arg, value, "fuzz")) == []


@fuzz
@given(event_id=st.uuids(), template=st.sampled_from(TEMPLATES), suffix=nonblank(), actor=nonblank(),
       event_type=nonblank(), emit_mode=st.sampled_from(EMIT_MODES))
def test_fuzz_valid_auto_input_is_kept_verbatim(conn: psycopg.Connection, event_id: uuid.UUID, template: str,
                                                suffix: str, actor: str, event_type: str, emit_mode: str) -> None:
    assume(AUTO_PREFIX + suffix not in _existing_keys(conn))
    case = Case("auto", "fuzz", {"event_id": event_id, "template_key": template, "suffix": suffix,
                                 "actor": actor, "event_type": event_type, "emit_mode": emit_mode}, None)
    assert check_case(conn, case) == []


@fuzz
@given(kind=st.sampled_from(("template", "instance-as-template", "emit_mode", "taken-suffix")),
       value=nonblank(), data=st.data())
def test_fuzz_auto_unknown_template_emit_mode_and_taken_suffix(conn: psycopg.Connection, kind: str, value: str,
                                                              data: st.DataObject) -> None:
    keys = _existing_keys(conn)
    if kind == "template":
        assume(value not in keys)
        case = Case("auto", kind, {"template_key": value}, "IU002", ("unknown template", pg_quote(value)))
    elif kind == "instance-as-template":
        key = data.draw(st.sampled_from(sorted(keys - set(TEMPLATES))), label="instance key")
        case = Case("auto", kind, {"template_key": key}, "IU002", (pg_quote(key),))
    elif kind == "emit_mode":
        assume(value not in EMIT_MODES)
        case = Case("auto", kind, {"emit_mode": value}, "IU003", ("undefined emit_mode", pg_quote(value)))
    else:  # another event (any template) with the suffix of an existing auto instance
        key = data.draw(st.sampled_from(sorted(k for k in keys if k.startswith(AUTO_PREFIX))), label="taken key")
        suffix = key.removeprefix(AUTO_PREFIX)
        template = data.draw(st.sampled_from(TEMPLATES), label="template")
        case = Case("auto", kind, {"suffix": suffix, "template_key": template, "event_id": uuid.uuid4()},
                    "IU004", (pg_quote(key), "already exists for another event"))
    assert check_case(conn, case) == []


@fuzz
@given(function=st.sampled_from(("compose", "lineage-origin", "lineage-actor", "rollback")),
       value=nonblank(), dry_run=st.booleans())
def test_fuzz_compose_lineage_and_rollback(conn: psycopg.Connection, function: str, value: str,
                                           dry_run: bool) -> None:
    if function == "compose":
        key = "tpl-inst:manual:" + value
        assume(key not in _existing_keys(conn))
        case = Case("compose", "fuzz", {"instance_key": key, "actor": value}, None)
    elif function == "lineage-origin":
        assume(value not in ("manual", "auto"))
        case = Case("lineage", "fuzz", {"origin": value}, "IU007", (pg_quote(value),))
    elif function == "lineage-actor":
        case = Case("lineage", "fuzz", {"actor": value, "origin": "auto" if dry_run else "manual"}, None)
    else:
        owners = {r[0] for r in conn.execute("SELECT actor FROM iu_core.iu_auto_instantiate_event_log").fetchall()}
        assume(value not in owners)
        case = Case("rollback", "fuzz", {"actor": value, "dry_run": dry_run}, None)
    assert check_case(conn, case) == []
