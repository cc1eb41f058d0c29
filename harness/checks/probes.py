"""Probes: calls a correct build must refuse or serialize, made in every scaleout run.

Each probe is a named invariant of the "probe" phase (on the run's session, while
the post-commit checks run on another) that leaves the run's database as it found it: the refused calls run in
a transaction that is always rolled back, and the race runs on a throwaway
clone of the scenario's baseline. They use SPEC section 1 names only, and judge
errors by "raised, and nothing written", never by one build's SQLSTATEs.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from harness.checks.invariants import Evidence, invariant
from harness.databases import state as db_state
from harness.databases.pool import Database
from harness.errors import db_error_text
from harness.run.context import CheckNotRun
from harness.spec import ANSWER_KEYS, GATES, INSTANCE_KEY_PREFIX
from harness.spec_calls import call_orchestrator_once, restore_gates, set_gates
from harness.text import fmt

if TYPE_CHECKING:
    from harness.run.context import RunContext

PROBE_SUFFIX = "iu-harness-probe"
# Collections the probes compose by hand live in the instance key namespace, as any caller's would.
PROBE_KEY = f"tpl-inst:manual:{PROBE_SUFFIX}"
RACE_EVENTS = 8
# A second session that waits this long on a lock has certainly entered the race.
RACE_LOCK_WAIT_S = 10.0
RACE_STATEMENT_TIMEOUT = "60s"


def probe_event_id(ctx: RunContext, purpose: str, k: int) -> str:
    """A deterministic event id no scenario event shares (its own namespace)."""
    return str(uuid.UUID(hashlib.md5(f"{PROBE_SUFFIX}:{ctx.scenario.name}:{purpose}:{k}".encode()).hexdigest()))


def probe_actor(ctx: RunContext, purpose: str) -> str:
    return f"{ctx.scenario.actor}:{purpose}-probe"


def _first_run_instance(ctx: RunContext) -> tuple[str, str]:
    """(template key, suffix) of the run's first call: a template and a suffix that are now taken."""
    row = ctx.conn.execute("SELECT template_key, suffix FROM pg_temp.iu_run_plan ORDER BY seq LIMIT 1").fetchone()
    if row is None:
        raise CheckNotRun("the run made no call (N = 0)")
    return str(row[0]), str(row[1])


def _require_write_counters(conn: psycopg.Connection) -> None:
    """"Writes nothing" is read from PostgreSQL's per-transaction counters, which track_counts feeds."""
    row = conn.execute("SELECT current_setting('track_counts')::boolean").fetchone()
    if not row or not row[0]:
        raise CheckNotRun("track_counts is off on this server, so what a call wrote cannot be read; "
                          "set track_counts = on (the default)")


def _outcome(exc: psycopg.Error) -> dict[str, Any]:
    return {"raised": exc.sqlstate, "message": db_error_text(exc)[:160]}


# -- gated ---------------------------------------------------------------------------------------

def _summarize_gated(ev: Evidence) -> str:
    cases = "; ".join(f"{label} → {c.get('status') or c.get('raised')} ({c.get('gate') or c.get('message')})"
                      for label, c in ev["cases"].items())
    return f"{cases}; database unchanged: {fmt(ev['database_unchanged'])}"


@invariant("probe_gated",
           summarize=_summarize_gated,
           proves="With either gate closed, a call answers 'gated' naming a closed gate and writes nothing.",
           covers=("S1.orch.gated",),
           phase="probe",
           description="with a gate closed, a call returns status 'gated' naming a closed gate, with SPEC's answer "
                       "keys, and writes nothing")
def probe_gated(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
    _require_write_counters(conn)
    template, _ = _first_run_instance(ctx)
    at_rest = db_state.gate_states(conn)
    cases: dict[str, Any] = {}
    with conn.transaction(force_rollback=True):
        for k, open_gates in enumerate([(), (GATES[0],), (GATES[1],)]):
            closed = [g for g in GATES if g not in open_gates]
            set_gates(conn, False, closed)
            if open_gates:
                set_gates(conn, True, open_gates)
            suffix = f"{PROBE_SUFFIX}-gated-{k}"
            label = "open: " + (", ".join(open_gates) or "none")
            before = db_state.writes(conn)
            try:
                with conn.transaction():
                    answer = call_orchestrator_once(conn, probe_event_id(ctx, "gated", k), ctx.scenario.event_type,
                                                    template, suffix, probe_actor(ctx, "gated"),
                                                    ctx.scenario.emit_mode)
            except psycopg.Error as exc:
                cases[label] = {**_outcome(exc), "passed": False}
                continue
            wrote = db_state.written(before, db_state.writes(conn))
            answer = answer if isinstance(answer, dict) else {"answer": answer}
            lacking = [k for k in ANSWER_KEYS if k not in answer]
            passed = answer.get("status") == "gated" and answer.get("gate") in closed and not lacking and not wrote
            cases[label] = {"status": answer.get("status"), "gate": answer.get("gate"), "closed": closed,
                            "passed": passed, **({"lacking_keys": lacking} if lacking else {}),
                            **({"wrote": wrote} if wrote else {})}
        restore_gates(conn, at_rest)
    unchanged = not any("wrote" in c for c in cases.values())
    passed = unchanged and all(c["passed"] for c in cases.values())
    return passed, {"cases": cases, "database_unchanged": unchanged}


# -- bad input -----------------------------------------------------------------------------------

def _argument_names(argument: str, value: str | None) -> tuple[str, ...]:
    """How a clear message may point at a null or empty argument: its name, however spelled
    (event_type, event type, eventtype, any case), or the value itself (NULL, '', empty, blank)."""
    value_words = ("null",) if value is None else ("''", '""', "empty", "blank")
    return (argument, argument.replace("_", " "), argument.replace("_", ""), *value_words)


def _bad_inputs(ctx: RunContext) -> list[tuple[str, str, dict[str, Any], tuple[str, ...]]]:
    """(kind, label, arguments changed from a valid call, what its message may name: any one of them) for
    every kind of bad input SPEC names: the argument or its value for a null or empty one, else the
    offending value."""
    template, taken_suffix = _first_run_instance(ctx)
    cases: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = [
        ("null argument", "event_id=NULL", {"event_id": None}, _argument_names("event_id", None))]
    for argument in ("event_type", "template_key", "suffix", "actor", "emit_mode"):
        cases.append(("null argument", f"{argument}=NULL", {argument: None}, _argument_names(argument, None)))
        cases.append(("empty argument", f"{argument}=''", {argument: ""}, _argument_names(argument, "")))
    unknown, undefined = f"{PROBE_SUFFIX}:no-such-template", f"{PROBE_SUFFIX}-undefined-mode"
    instance_key = f"{INSTANCE_KEY_PREFIX}{taken_suffix}"
    cases += [
        ("unknown template", "template_key=unknown", {"template_key": unknown}, _quoted_forms(unknown)),
        ("instance used as template", "template_key=a run instance", {"template_key": instance_key},
         _quoted_forms(instance_key)),
        ("undefined emit_mode", "emit_mode=undefined", {"emit_mode": undefined}, _quoted_forms(undefined)),
        ("suffix of another event", "suffix=a run suffix, new event", {"template_key": template,
                                                                       "suffix": taken_suffix},
         _quoted_forms(taken_suffix)),
    ]
    return cases


def _quoted_forms(value: str) -> tuple[str, ...]:
    """A value as a message may quote it: as is, or escaped the way quote_literal / quote_ident /
    format('%L') escape it (quotes and backslashes doubled)."""
    doubled_backslash = value.replace("\\", "\\\\")
    return tuple(dict.fromkeys((value, value.replace("'", "''"), doubled_backslash,
                                doubled_backslash.replace("'", "''"), value.replace('"', '""'))))


def _error_text(exc: psycopg.Error) -> str:
    """Everything an error tells its reader: message, detail and hint, lower-cased."""
    diag = exc.diag
    return " ".join(part for part in (diag.message_primary, diag.message_detail, diag.message_hint) if part).lower()


def _summarize_bad_input(ev: Evidence) -> str:
    kinds = ", ".join(f"{kind} {'/'.join(states)}" for kind, states in ev["sqlstates_by_kind"].items())
    answered = ", ".join(ev.get("answered_instead_of_raising", {}))
    unclear = ", ".join(ev.get("unclear_messages", {}))
    return (f"{ev['raised']} of {ev['cases']} calls raised ({kinds}), {ev['messages_name_it']} naming the "
            f"argument or value; database unchanged: {fmt(ev['database_unchanged'])}"
            + (f"; answered instead: {answered}" if answered else "")
            + (f"; unclear messages: {unclear}" if unclear else ""))


@invariant("probe_bad_input",
           summarize=_summarize_bad_input,
           proves=("Every kind of bad input SPEC names raises an error whose message names the argument or value "
                   "(not one SQLSTATE for all kinds) and writes nothing."),
           covers=("S1.orch.bad-input", "S1.orch.bad-input-message", "S1.orch.bad-input-sqlstate",
                   "S1.orch.bad-input-atomic"),
           phase="probe",
           description="every kind of bad input SPEC names raises, with a message (or its detail or hint) "
                       "that names the argument or its value (null, empty) or the offending value, and writes "
                       "nothing (the kinds not all one SQLSTATE); a call that answers instead of raising fails")
def probe_bad_input(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
    _require_write_counters(conn)
    template, _ = _first_run_instance(ctx)
    at_rest = db_state.gate_states(conn)
    cases: dict[str, Any] = {}
    states_by_kind: dict[str, set[str]] = {}
    with conn.transaction(force_rollback=True):
        set_gates(conn, True)  # open: the input alone must be the reason to refuse
        for k, (kind, label, changed, named) in enumerate(_bad_inputs(ctx)):
            args = {"event_id": probe_event_id(ctx, "bad-input", k), "event_type": ctx.scenario.event_type,
                    "template_key": template, "suffix": f"{PROBE_SUFFIX}-bad-input-{k}",
                    "actor": probe_actor(ctx, "bad-input"), "emit_mode": ctx.scenario.emit_mode, **changed}
            before = db_state.writes(conn)
            try:
                with conn.transaction():
                    answer = call_orchestrator_once(conn, **args)
                    wrote = db_state.written(before, db_state.writes(conn))
            except psycopg.Error as exc:
                # SPEC: "a clear message": one that says nowhere (message, detail, hint) which argument
                # or value is wrong is not, e.g. a constraint's message about a row the call built.
                text = _error_text(exc)
                clear = any(name.lower() in text for name in named)
                cases[label] = {"kind": kind, **_outcome(exc), "passed": clear}
                if not clear:
                    cases[label]["message_names_none_of"] = list(named)
                states_by_kind.setdefault(kind, set()).add(str(exc.sqlstate))
                continue
            status = answer.get("status") if isinstance(answer, dict) else answer
            cases[label] = {"kind": kind, "answered": status, "wrote": wrote, "passed": False}
        restore_gates(conn, at_rest)
    # A call that raised wrote nothing that survives; one that answered is judged with what it wrote.
    unchanged = not any(c.get("wrote") for c in cases.values())
    # SPEC: each kind of bad input raises "its own SQLSTATE": checked as "not one for all kinds". One
    # SQLSTATE per kind is only evidence: a build may meet a null emit_mode with its "undefined emit
    # mode" error, say, before its null check, and still conform.
    all_states = set().union(*states_by_kind.values()) if states_by_kind else set()
    distinct_kinds = len(states_by_kind) < 2 or len(all_states) >= 2
    one_per_kind = all(len(states) == 1 for states in states_by_kind.values())
    passed = all(c["passed"] for c in cases.values()) and distinct_kinds and unchanged
    raised = sum("raised" in c for c in cases.values())
    evidence: Evidence = {"cases": len(cases), "raised": raised,
                          "messages_name_it": sum(c["passed"] for c in cases.values()),
                          "sqlstates_by_kind": {k: sorted(v) for k, v in sorted(states_by_kind.items())},
                          "one_sqlstate_per_kind": one_per_kind, "kinds_not_all_one_sqlstate": distinct_kinds,
                          "database_unchanged": unchanged}
    answered = {label: c for label, c in cases.items() if "answered" in c}
    if answered:
        evidence["answered_instead_of_raising"] = answered
    vague = {label: c for label, c in cases.items() if "message_names_none_of" in c}
    if vague:
        evidence["unclear_messages"] = vague
    return passed, evidence


# -- race ----------------------------------------------------------------------------------------

def _race_calls(conn: psycopg.Connection, events: list[tuple[str, str, str]], ctx: RunContext,
                out: dict[str, Any]) -> None:
    """One session's side of the race: every event in one transaction (left open for the caller)."""
    answers: list[Any] = out.setdefault("answers", [])
    try:
        for event_id, template, suffix in events:
            answers.append(call_orchestrator_once(conn, event_id, ctx.scenario.event_type, template, suffix,
                                                  probe_actor(ctx, "race"), ctx.scenario.emit_mode))
    except psycopg.Error as exc:
        out["error"] = _outcome(exc)


def _wait_for_lock(admin: psycopg.Connection, pid: int, done: threading.Event) -> bool:
    """True once backend `pid` waits on a lock (it has entered the race), False if it finished first."""
    deadline = time.monotonic() + RACE_LOCK_WAIT_S
    while time.monotonic() < deadline and not done.is_set():
        row = admin.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row is not None and row[0] == "Lock":
            return True
        time.sleep(0.005)
    return False


@contextmanager
def _throwaway_clone(ctx: RunContext) -> Iterator[Database]:
    """A fresh clone of the scenario's baseline for a probe that must commit; dropped afterwards."""
    if ctx.clones is None:
        raise CheckNotRun("this probe needs a throwaway clone: run_scenario(..., pool=...) was not given one")
    database = ctx.clones.clone()
    try:
        yield database
    finally:
        ctx.clones.drop(database)


def _second_meets_first(admin: psycopg.Connection, first: psycopg.Connection, second: psycopg.Connection,
                        work: Callable[[], None]) -> bool:
    """Run `work` (the second session's calls) while `first` holds its transaction open; commit `first`
    once the second session waits on a lock (or has finished). True if it was seen waiting."""
    done = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    thread = threading.Thread(target=run, name="iu-harness-race", daemon=True)
    thread.start()
    met = _wait_for_lock(admin, second.info.backend_pid, done)
    first.commit()
    thread.join(timeout=120)
    if thread.is_alive():  # stuck: cancel its statement so the connection is free before anyone touches it
        second.cancel()
        thread.join(timeout=30)
        if thread.is_alive():
            raise RuntimeError("the second session did not finish within 150 s after the first committed")
    return met


def _summarize_race(ev: Evidence) -> str:
    error = f"; second session error: {ev['second_session_error']}" if "second_session_error" in ev else ""
    return (f"{ev['events']} events, 2 sessions: {ev['one_ok_one_duplicate_same_instance']} with one ok + one "
            f"duplicate of the same instance; the second waited on the first's lock: "
            f"{fmt(ev['second_session_waited_on_a_lock'])}; counts exact: {fmt(ev['counts_exact'])}{error}")


@invariant("probe_race",
           summarize=_summarize_race,
           proves=("Two sessions calling for the same fresh events at once get exactly one 'ok' and one 'duplicate' "
                   "per idempotency key, with the same instance and no error."),
           covers=("S1.orch.duplicate-race",),
           phase="probe",
           description="two sessions calling the orchestrator for the same fresh events at once: exactly one "
                       "'ok' per idempotency key, the other 'duplicate' with the same instance, no error")
def probe_race(ctx: RunContext) -> tuple[bool, Evidence]:
    templates = [item.template for item, count in ctx.plan if count] or [ctx.plan[0][0].template]
    events = [(probe_event_id(ctx, "race", k), templates[k % len(templates)], f"{PROBE_SUFFIX}-race-{k}")
              for k in range(RACE_EVENTS)]
    with _throwaway_clone(ctx) as database, database.connect(autocommit=True) as admin, \
            database.connect() as first, database.connect() as second:
        for conn in (first, second):
            conn.execute(f"SET statement_timeout = '{RACE_STATEMENT_TIMEOUT}'")
            conn.commit()
        with admin.transaction():
            set_gates(admin, True)  # committed open: only then can two callers be inside at once
        before = db_state.table_counts(admin)
        pieces: dict[str, int] = dict(admin.execute(
            "SELECT c.collection_key, count(m.*)::int FROM iu_core.iu_piece_collection c "
            "LEFT JOIN iu_core.iu_piece_membership m ON m.collection_id = c.id "
            "WHERE c.collection_key = ANY (%s) GROUP BY 1", (templates,)).fetchall())
        a: dict[str, Any] = {}
        b: dict[str, Any] = {}
        # The first session calls every event and holds its transaction open; the second calls
        # the same events and so meets the first's uncommitted work. Only once the second waits
        # on a lock (or has finished) does the first commit.
        _race_calls(first, events, ctx, a)
        if "error" in a:
            first.rollback()
            raise CheckNotRun(f"the first session's calls failed alone, before any race: {a['error']}")
        met = _second_meets_first(admin, first, second, lambda: _race_calls(second, events, ctx, b))
        if "error" in b:
            second.rollback()
        else:
            second.commit()
        after = db_state.table_counts(admin)
        per_key = admin.execute("SELECT count(*)::int FROM iu_core.iu_auto_instantiate_event_log "
                                "WHERE actor = %s", (probe_actor(ctx, "race"),)).fetchone()
    answers_a, answers_b = a.get("answers", []), b.get("answers", [])
    pairs = list(zip(answers_a, answers_b, strict=False))
    one_ok_one_duplicate = sum(
        1 for x, y in pairs if isinstance(x, dict) and isinstance(y, dict)
        and sorted([str(x.get("status")), str(y.get("status"))]) == ["duplicate", "ok"]
        and x.get("instance_id") == y.get("instance_id") and x.get("instance_id") is not None)
    memberships = sum(pieces.get(template, 0) for _, template, _ in events)
    deltas = {t: after[t] - before[t] for t in after}
    expected = {"iu_piece_collection": RACE_EVENTS, "iu_collection_template_instance_lineage": RACE_EVENTS,
                "iu_auto_instantiate_event_log": RACE_EVENTS, "iu_piece_membership": memberships}
    exact = all(deltas[t] == expected.get(t, 0) for t in deltas)
    evidence: Evidence = {"events": RACE_EVENTS, "second_session_waited_on_a_lock": met,
                          "one_ok_one_duplicate_same_instance": one_ok_one_duplicate,
                          "log_rows_for_probe_actor": per_key[0] if per_key else None,
                          "deltas": deltas, "expected_deltas": expected, "counts_exact": exact}
    statuses = {"first": sorted({str(x.get("status")) for x in answers_a if isinstance(x, dict)}),
                "second": sorted({str(y.get("status")) for y in answers_b if isinstance(y, dict)})}
    evidence["statuses"] = statuses
    if "error" in b:
        evidence["second_session_error"] = b["error"]
    passed = (one_ok_one_duplicate == RACE_EVENTS and "error" not in b and len(answers_b) == RACE_EVENTS
              and exact)
    return passed, evidence


# -- digest keyed on the piece graph only --------------------------------------------------------

DIGEST_SQL = "SELECT iu_core.fn_iu_manifest_digest(%s)"
# (label, is_template, same kind?, the piece each position takes, the position it is written at, equal digest?)
# "rotated": each position takes the next position's piece (the last, the first's), another order whenever
# the template has two distinct pieces; "moved": every position one further, the same order.
ROTATED = "coalesce(lead(m.iu_id) OVER w, first_value(m.iu_id) OVER w)"
DIGEST_COPIES = (
    ("instance: same pieces, other key and kind", False, False, "m.iu_id", "m.position", True),
    ("instance: same pieces, rotated order", False, True, ROTATED, "m.position", False),
    ("instance: same pieces and order, positions moved", False, True, "m.iu_id", "m.position + 1", False),
    ("template: same pieces, other key and kind", True, False, "m.iu_id", "m.position", True),
    ("template: same pieces, rotated order", True, True, ROTATED, "m.position", False),
    ("template: same pieces and order, positions moved", True, True, "m.iu_id", "m.position + 1", False),
)


def _digest(conn: psycopg.Connection, collection_id: Any) -> Any:
    (digest,) = conn.execute(DIGEST_SQL, (collection_id,)).fetchone()  # type: ignore[misc]
    return digest


def _copy_collection(conn: psycopg.Connection, template_id: Any, key: str, kind: str, is_template: bool,
                     piece: str, position: str, digest: str) -> Any:
    """A collection written directly (SPEC columns) with the template's members, re-arranged; its id."""
    (new_id,) = conn.execute("""
        INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest)
        VALUES (gen_random_uuid(), %s, %s, %s, %s) RETURNING id""",
                             (key, kind, is_template, digest)).fetchone()  # type: ignore[misc]
    conn.execute(f"""
        INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
        SELECT %s, {piece}, {position} FROM iu_core.iu_piece_membership m WHERE m.collection_id = %s
        WINDOW w AS (ORDER BY m.position ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)""",
                 (new_id, template_id))
    return new_id


def _summarize_digest_keyed_on_graph(ev: Evidence) -> str:
    verdicts = {True: "yes", False: "NO", None: "not writable"}
    cases = "; ".join(f"{label}: {verdicts[c['passed']]}" for label, c in ev["cases"].items())
    return f"{ev['template']} ({ev['pieces']} pieces) {ev['template_digest']}; {cases}"


@invariant("probe_digest_keyed_on_graph",
           summarize=_summarize_digest_keyed_on_graph,
           proves=("fn_iu_manifest_digest is keyed on the piece graph only, for instances and templates: another key "
                   "and kind with the same pieces share the digest; another order, other positions or a changed "
                   "content hash do not."),
           covers=("S1.digest.shape", "S1.digest.graph", "S1.digest.not-labels", "S1.digest.reuse", "S1.orch.answer"),
           phase="probe",
           description="fn_iu_manifest_digest is 16 lowercase hex, keyed on the ordered (position, iu id, content "
                       "hash) alone, for instances and templates: the template's pieces under another key and kind "
                       "give its digest; rotated, or at moved positions, another; a piece's new content hash changes "
                       "the template's digest and its copy's alike; the orchestrator's answer on that template has "
                       "digest_match = (template_digest = instance_digest), whichever template digest it reports")
def probe_digest_keyed_on_graph(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
    row = conn.execute("""
        SELECT c.id, c.collection_key, c.kind, count(m.*)::int
          FROM iu_core.iu_piece_collection c JOIN iu_core.iu_piece_membership m ON m.collection_id = c.id
         WHERE c.collection_key = ANY (%s)
         GROUP BY c.id, c.collection_key, c.kind HAVING count(DISTINCT m.iu_id) >= 2
         ORDER BY c.collection_key LIMIT 1""", ([item.template for item, _ in ctx.plan],)).fetchone()
    if row is None:
        raise CheckNotRun("no template of the mix has two or more distinct pieces to reorder")
    template_id, template_key, kind, count = row
    other_kind = "workflow" if kind == "file" else "file"
    cases: dict[str, Any] = {}
    with conn.transaction(force_rollback=True):
        digest = _digest(conn, template_id)
        copies: dict[str, Any] = {}
        for label, is_template, same_kind, piece, position, equal in DIGEST_COPIES:
            # Templates in the template key namespace, instances in the instance one, as a build may require.
            prefix = f"tpl:{PROBE_SUFFIX}" if is_template else PROBE_KEY
            key = f"{prefix}-{label.replace(' ', '-').replace(',', '').replace(':', '')}"
            try:  # only the writes may be refused by a build's own rules; the digest calls may not
                with conn.transaction():
                    copies[label] = _copy_collection(conn, template_id, key, kind if same_kind else other_kind,
                                                     is_template, piece, position, digest)
            except psycopg.Error as exc:
                cases[label] = {"not_writable_on_this_build": _outcome(exc)["message"], "passed": None}
                continue
            got = _digest(conn, copies[label])
            cases[label] = {"digest": got, "expected": "the template's" if equal else "another",
                            "passed": (got == digest) if equal else (got != digest)}
        cases["a piece's content hash changed"] = _content_hash_case(conn, template_id, digest,
                                                                      copies.get(DIGEST_COPIES[0][0]))
        if cases["a piece's content hash changed"]["passed"] is not None:
            cases["orchestrator on the changed template"] = _answer_on_changed_template(ctx, template_key)
    judged = [c["passed"] for c in cases.values() if c["passed"] is not None]
    if not judged:
        raise CheckNotRun(f"could not write the probe's collections on this build: {cases}")
    well_formed = isinstance(digest, str) and len(digest) == 16 and all(ch in "0123456789abcdef" for ch in digest)
    passed = well_formed and all(judged)
    return passed, {"template": template_key, "template_digest": digest, "pieces": count,
                    "sixteen_lowercase_hex": well_formed, "cases": cases}


def _content_hash_case(conn: psycopg.Connection, template_id: Any, digest: str, copy_id: Any) -> dict[str, Any]:
    """The template's first piece gets another content_hash: its digest, and its copy's, must change alike."""
    try:
        with conn.transaction():
            conn.execute("""
                UPDATE iu_core.iu SET content_hash = content_hash || ':' || %s
                 WHERE id = (SELECT iu_id FROM iu_core.iu_piece_membership WHERE collection_id = %s
                              ORDER BY position LIMIT 1)""", (PROBE_SUFFIX, template_id))
    except psycopg.Error as exc:
        return {"not_writable_on_this_build": _outcome(exc)["message"], "passed": None}
    changed = _digest(conn, template_id)
    case: dict[str, Any] = {"template_digest": changed, "passed": changed != digest}
    if copy_id is not None:
        case["copy_digest"] = _digest(conn, copy_id)
        case["passed"] = case["passed"] and case["copy_digest"] == changed
    return case


def _answer_on_changed_template(ctx: RunContext, template_key: str) -> dict[str, Any]:
    """After a piece's content hash changed, the template's recorded digest and its graph's may differ (a
    build may report either as template_digest): the one state where digest_match can be wrong while the
    digests of every scaleout answer are equal. A refusal to compose from it is not judged."""
    conn = ctx.conn
    try:
        with conn.transaction():
            set_gates(conn, True)
            answer = call_orchestrator_once(conn, probe_event_id(ctx, "digest-drift", 0), ctx.scenario.event_type,
                                            template_key, f"{PROBE_SUFFIX}-digest-drift",
                                            probe_actor(ctx, "digest-drift"), ctx.scenario.emit_mode)
            set_gates(conn, False)
    except psycopg.Error as exc:
        return {"refused": _outcome(exc), "passed": None}
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        return {"answer": answer, "passed": False}
    template_digest, instance_digest = answer.get("template_digest"), answer.get("instance_digest")
    match = answer.get("digest_match")
    return {"template_digest": template_digest, "instance_digest": instance_digest, "digest_match": match,
            "passed": match is (template_digest == instance_digest)}


# -- fn_iu_compose and fn_iu_collection_record_template_instance -----------------------------------

def _template(ctx: RunContext) -> tuple[str, str, str]:
    """(key, id, kind) of the mix's first template."""
    row = ctx.conn.execute("SELECT collection_key, id::text, kind FROM iu_core.iu_piece_collection "
                           "WHERE collection_key = %s", (ctx.plan[0][0].template,)).fetchone()
    if row is None:
        raise CheckNotRun("the mix's first template is not in the database")
    return str(row[0]), str(row[1]), str(row[2])


def _raises(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> dict[str, Any]:
    """Run one statement that must raise, in its own savepoint; what happened."""
    before = db_state.writes(conn)
    try:
        with conn.transaction():
            row = conn.execute(query, params).fetchone()
            wrote = db_state.written(before, db_state.writes(conn))
    except psycopg.Error as exc:
        return {**_outcome(exc), "passed": True}
    return {"answered": None if row is None else str(row[0]), "wrote": wrote, "passed": False}


COMPOSE_SQL = "SELECT iu_core.fn_iu_compose(%s, %s, %s)"
LINEAGE_SQL = "SELECT iu_core.fn_iu_collection_record_template_instance(%s, %s, %s, %s)"


def _summarize_compose_and_lineage(ev: Evidence) -> str:
    return "; ".join(f"{label}: {'yes' if c['passed'] else 'NO'}" for label, c in ev["cases"].items())


@invariant("probe_compose_and_lineage",
           summarize=_summarize_compose_and_lineage,
           proves=("fn_iu_compose and fn_iu_collection_record_template_instance keep their gate, reuse the "
                   "template's pieces and refuse taken keys, second lineage and bad origins."),
           covers=("S1.compose.instance", "S1.compose.gate", "S1.lineage.record"),
           phase="probe",
           description="fn_iu_compose refuses while composer_enabled is closed, otherwise makes an instance of the "
                       "template's own pieces and digest (no new iu), refuses a taken key and an unknown template; "
                       "fn_iu_collection_record_template_instance writes one lineage row, refuses a second one "
                       "and a bad origin")
def probe_compose_and_lineage(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
    _require_write_counters(conn)
    key, template_id, kind = _template(ctx)
    actor = probe_actor(ctx, "compose")
    cases: dict[str, Any] = {}
    with conn.transaction(force_rollback=True):
        set_gates(conn, False, ["iu_core.composer_enabled"])
        set_gates(conn, True, ["iu_core.auto_instantiate_enabled"])
        cases["composer gate closed: refused"] = _raises(conn, COMPOSE_SQL, (key, f"{PROBE_KEY}-compose-0", actor))
        # The same gates, their rows updated in the other order (so the other row comes first in a scan):
        # a compose that reads whichever gate row it meets first refuses in one order, composes in the other.
        set_gates(conn, True, ["iu_core.auto_instantiate_enabled"])
        set_gates(conn, False, ["iu_core.composer_enabled"])
        cases["composer gate closed, rows updated in the other order: refused"] = _raises(
            conn, COMPOSE_SQL, (key, f"{PROBE_KEY}-compose-0b", actor))
        set_gates(conn, True)  # SPEC names only the composer gate for compose; both open asks nothing more
        ius = db_state.table_counts(conn)["iu"]
        instance_key = f"{PROBE_KEY}-compose-1"
        (instance_id,) = conn.execute(COMPOSE_SQL, (key, instance_key, actor)).fetchone()  # type: ignore[misc]
        made = _rows(conn, """
            SELECT i.collection_key = %(k)s AND NOT i.is_template AS collection_ok,
                   i.manifest_digest = iu_core.fn_iu_manifest_digest(t.id) AS digest_is_templates,
                   NOT EXISTS (SELECT position, iu_id FROM iu_core.iu_piece_membership WHERE collection_id = i.id
                               EXCEPT ALL SELECT position, iu_id FROM iu_core.iu_piece_membership
                                           WHERE collection_id = t.id)
                   AND NOT EXISTS (SELECT position, iu_id FROM iu_core.iu_piece_membership WHERE collection_id = t.id
                                   EXCEPT ALL SELECT position, iu_id FROM iu_core.iu_piece_membership
                                               WHERE collection_id = i.id) AS pieces_are_templates
              FROM iu_core.iu_piece_collection i, iu_core.iu_piece_collection t
             WHERE i.id = %(i)s AND t.id = %(t)s""", {"k": instance_key, "i": instance_id, "t": template_id})
        facts = made[0] if made else {"collection_ok": False}
        no_new_iu = db_state.table_counts(conn)["iu"] == ius
        cases["composed: an instance of the template's pieces and digest"] = {
            **facts, "no_new_iu": no_new_iu, "passed": bool(made) and all(facts.values()) and no_new_iu}
        cases["taken instance key: refused"] = _raises(conn, COMPOSE_SQL, (key, instance_key, actor))
        cases["unknown template: refused"] = _raises(conn, COMPOSE_SQL, (f"{PROBE_SUFFIX}:no-such-template",
                                                                          f"{PROBE_KEY}-compose-2", actor))
        (lineage_id,) = conn.execute(LINEAGE_SQL, (template_id, instance_id, actor, "manual")).fetchone()  # type: ignore[misc]
        (rows,) = conn.execute("""
            SELECT count(*)::int FROM iu_core.iu_collection_template_instance_lineage
             WHERE instance_collection_id = %s AND template_collection_id = %s AND origin = 'manual'
               AND actor = %s""", (instance_id, template_id, actor)).fetchone()  # type: ignore[misc]
        cases["lineage: one row, its id returned"] = {"id": lineage_id, "rows": rows,
                                                      "passed": isinstance(lineage_id, int) and rows == 1}
        cases["second lineage of the instance: refused"] = _raises(conn, LINEAGE_SQL,
                                                                   (template_id, instance_id, actor, "auto"))
        (other_id,) = conn.execute(COMPOSE_SQL, (key, f"{PROBE_KEY}-compose-3", actor)).fetchone()  # type: ignore[misc]
        cases["origin neither manual nor auto: refused"] = _raises(conn, LINEAGE_SQL,
                                                                   (template_id, other_id, actor, "other"))
    return all(c["passed"] for c in cases.values()), {"template": key, "kind": kind, "cases": cases}


def _rows(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# -- rollback: what it must spare, what it must count --------------------------------------------

ROLLBACK_SQL = "SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s, %s)"
WOULD_DELETE = ("instance_collections", "lineage_rows", "log_rows", "membership_rows")
COUNTED_TABLES = {"instance_collections": "iu_piece_collection",
                  "lineage_rows": "iu_collection_template_instance_lineage",
                  "log_rows": "iu_auto_instantiate_event_log", "membership_rows": "iu_piece_membership"}


def _log_row(conn: psycopg.Connection, ctx: RunContext, actor: str, instance_id: str, template: str,
             purpose: str) -> None:
    """A log row written directly, SPEC columns only (as another consumer of the table could)."""
    (digest,) = conn.execute("SELECT iu_core.fn_iu_manifest_digest(%s)", (instance_id,)).fetchone()  # type: ignore[misc]
    event_id = probe_event_id(ctx, purpose, 0)
    conn.execute("""
        INSERT INTO iu_core.iu_auto_instantiate_event_log
            (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode,
             idempotency_key, template_digest, instance_digest)
        VALUES (%s, %s, %s, %s, %s, %s, md5(%s), %s, %s)""",
                 (event_id, ctx.scenario.event_type, template, instance_id, actor, ctx.scenario.emit_mode,
                  f"{PROBE_SUFFIX}:{purpose}", digest, digest))


def look_alike_actors(actor: str) -> dict[str, str]:
    """Actors a rollback of `actor` must spare: equal to it under some comparison other than SPEC's exact text
    one (case, LIKE's `_` wildcard, a prefix). `actor` holds an underscore and a letter."""
    alikes = {"upper case": actor.upper(), "'_' read as a wildcard": actor.replace("_", "~", 1),
              "a prefix of it": actor + ":more"}
    return {why: name for why, name in alikes.items() if name != actor}


ROLLBACK_DEFAULT_SQL = "SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(%s)"
REFUSAL_ACCEPTED = ("refused on a state no SPEC function writes (the planted log rows) and changed nothing: "
                    "SPEC protects manual lineage and other actors' rows, and a refusal touches neither")


def _summarize_rollback_spares_others(ev: Evidence) -> str:
    spared = ", ".join(k for k, v in ev["spared"].items() if v)
    alone = f"actor alone → {ev['actor_alone']['status']}"
    if isinstance(ev["real"], dict):  # the build refused on the planted rows
        refused = ev["real"]["refused"]
        return (f"nothing to do → {ev['nothing_to_do']['status']}; {alone}; real run refused "
                f"({refused['raised']}: {refused['message']}), changed nothing: "
                f"{fmt(ev['real']['changed_nothing'])}; held: {spared}")
    counts = ", ".join(f"{k} {v['would']}/{v['deleted']}/{v['disappeared']}" for k, v in ev["counts"].items())
    return (f"nothing to do → {ev['nothing_to_do']['status']}; {alone}; dry run / deleted / disappeared: "
            f"{counts}; held: {spared}")


@invariant("probe_rollback_spares_others",
           summarize=_summarize_rollback_spares_others,
           proves=("The rollback spares other actors' rows (actors compared exactly), manual lineage and templates, "
                   "is a dry run when called with the actor alone, counts exactly what it deletes, and answers "
                   "'noop' when there is nothing."),
           covers=("S1.rollback.spares", "S1.rollback.noop", "S1.rollback.dry-default", "S1.rollback.dry-nothing",
                   "S1.rollback.real"),
           phase="probe",
           description="an actor's rollback spares an instance another actor's log row points at, one with manual "
                       "lineage, another actor's 'auto' lineage that no log row backs, a template its own log row "
                       "names (kept whole, pieces and all), and actors equal to it only under another comparison "
                       "than exact text; a call with the actor alone is a dry run that changes nothing; its dry run "
                       "counts what the real run deletes, which is what disappears; an actor with nothing gets "
                       "'noop' and no change. On the planted rows (a state no SPEC function writes) a refusal that "
                       "changes nothing is accepted")
def probe_rollback_spares_others(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
    _require_write_counters(conn)
    key, template_id, _ = _template(ctx)
    actor, other = probe_actor(ctx, "rollback_exact"), probe_actor(ctx, "rollback-other")
    look_alikes = look_alike_actors(actor)
    evidence: Evidence = {}
    with conn.transaction(force_rollback=True):
        set_gates(conn, True)
        answers = [call_orchestrator_once(conn, probe_event_id(ctx, "rollback", k), ctx.scenario.event_type, key,
                                          f"{PROBE_SUFFIX}-rollback-{k}", actor, ctx.scenario.emit_mode)
                   for k in range(3)]
        answers += [call_orchestrator_once(conn, probe_event_id(ctx, "rollback-look-alike", k),
                                           ctx.scenario.event_type, key, f"{PROBE_SUFFIX}-rollback-look-alike-{k}",
                                           name, ctx.scenario.emit_mode) for k, name in enumerate(look_alikes.values())]
        if not all(isinstance(a, dict) and a.get("status") == "ok" for a in answers):
            raise CheckNotRun(f"could not compose the probe's instances: {answers}")
        own, shared = answers[0]["instance_id"], answers[1]["instance_id"]
        # One of the actor's instances is also in another actor's log; one manual instance of the
        # actor's also has an auto log row of the actor's. Neither may go. The log rows are written
        # directly (SPEC columns): a build whose own constraints refuse such a row (one log row per
        # instance, say) cannot hold that conflict, and the probe says so instead of failing it.
        (manual,) = conn.execute(COMPOSE_SQL, (key, f"{PROBE_KEY}-rollback-manual", actor)).fetchone()  # type: ignore[misc]
        conn.execute(LINEAGE_SQL, (template_id, manual, actor, "manual"))
        # Another actor's 'auto' lineage with no log row, written by SPEC functions alone (compose, then
        # record with origin 'auto'): a rollback that finds its targets in the lineage must still match
        # the actor there.
        (lineage_only,) = conn.execute(COMPOSE_SQL, (key, f"{PROBE_KEY}-rollback-lineage-only",  # type: ignore[misc]
                                                     other)).fetchone()
        conn.execute(LINEAGE_SQL, (template_id, lineage_only, other, "auto"))
        # The actor's log row naming a template (planted): the rollback must leave the template and its
        # pieces whole, whatever it makes of the row.
        (template_pieces,) = conn.execute("SELECT count(*)::int FROM iu_core.iu_piece_membership "  # type: ignore[misc]
                                          "WHERE collection_id = %s", (template_id,)).fetchone()
        planted: dict[str, Any] = {}
        for name, row_actor, instance in (("other_actors_log_row", other, shared),
                                          ("manual_instance_log_row", actor, str(manual)),
                                          ("template_log_row", actor, str(template_id))):
            try:
                with conn.transaction():
                    _log_row(conn, ctx, row_actor, instance, key, f"rollback-{name}")
                planted[name] = True
            except psycopg.Error as exc:
                planted[name] = f"not plantable on this build: {_outcome(exc)['message']}"
        evidence["planted"] = planted
        set_gates(conn, False)

        before_noop = db_state.writes(conn)
        (noop,) = conn.execute(ROLLBACK_SQL, (f"{PROBE_SUFFIX}:nobody", False)).fetchone()  # type: ignore[misc]
        evidence["nothing_to_do"] = {"status": _get(noop, "status"),
                                     "unchanged": not db_state.written(before_noop, db_state.writes(conn))}
        before_default = db_state.writes(conn)
        (default,) = conn.execute(ROLLBACK_DEFAULT_SQL, (actor,)).fetchone()  # type: ignore[misc]
        evidence["actor_alone"] = {"status": _get(default, "status"),
                                   "unchanged": not db_state.written(before_default, db_state.writes(conn))}
        (dry,) = conn.execute(ROLLBACK_SQL, (actor, True)).fetchone()  # type: ignore[misc]
        # The whole database is fingerprinted (every row: seconds at 1,000,000 instances) only for a
        # build that refuses this call, the one case that reads it.
        before = db_state.table_counts(conn)
        before_rows = db_state.fingerprint(conn) if _refuses(conn, ROLLBACK_SQL, (actor, False)) else None
        refused: dict[str, Any] | None = None
        real: Any = None
        try:
            with conn.transaction():
                (real,) = conn.execute(ROLLBACK_SQL, (actor, False)).fetchone()  # type: ignore[misc]
        except psycopg.Error as exc:
            refused = _outcome(exc)
        after = db_state.table_counts(conn)
        spared = _rows(conn, """
            SELECT EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log
                            WHERE actor = %(o)s AND instance_collection_id = %(s)s) AS other_actors_log_row,
                   EXISTS (SELECT 1 FROM iu_core.iu_piece_collection WHERE id = %(s)s) AS shared_instance,
                   EXISTS (SELECT 1 FROM iu_core.iu_collection_template_instance_lineage
                            WHERE instance_collection_id = %(m)s AND origin = 'manual') AS manual_lineage,
                   EXISTS (SELECT 1 FROM iu_core.iu_piece_collection WHERE id = %(m)s) AS manual_instance,
                   NOT EXISTS (SELECT 1 FROM iu_core.iu_piece_collection WHERE id = %(i)s) AS own_instance_gone,
                   EXISTS (SELECT 1 FROM iu_core.iu_collection_template_instance_lineage
                            WHERE instance_collection_id = %(lo)s AND actor = %(o)s AND origin = 'auto')
                       AS other_actors_auto_lineage,
                   EXISTS (SELECT 1 FROM iu_core.iu_piece_collection WHERE id = %(t)s AND is_template)
                   AND (SELECT count(*) FROM iu_core.iu_piece_membership WHERE collection_id = %(t)s) = %(tp)s
                       AS template_whole,
                   (SELECT count(DISTINCT l.actor) FROM iu_core.iu_auto_instantiate_event_log l
                      JOIN iu_core.iu_collection_template_instance_lineage g
                        ON g.instance_collection_id = l.instance_collection_id AND g.actor = l.actor
                      JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id
                     WHERE l.actor = ANY (%(look)s)) = cardinality(%(look)s) AS look_alike_actors""",
                       {"o": other, "s": shared, "m": manual, "i": own, "look": list(look_alikes.values()),
                        "lo": lineage_only, "t": template_id, "tp": template_pieces})[0]
        changed_nothing: bool | str = (refused is not None and before_rows is not None
                                       and db_state.fingerprint(conn) == before_rows)
        if refused is not None and before_rows is None:
            changed_nothing = "not measured: the same call did not refuse when first tried"
    counted = {k: {"would": _get(dry, f"would_delete_{k}"), "deleted": _get(real, f"deleted_{k}"),
                   "disappeared": before[COUNTED_TABLES[k]] - after[COUNTED_TABLES[k]]} for k in WOULD_DELETE}
    if planted["other_actors_log_row"] is not True:  # nothing of another actor's to spare
        for name in ("other_actors_log_row", "shared_instance"):
            spared.pop(name)
    evidence.update({"dry_run": _get(dry, "status"), "look_alike_actors": look_alikes, "spared": spared})
    calls_ok = (evidence["nothing_to_do"] == {"status": "noop", "unchanged": True}
                and evidence["actor_alone"] == {"status": "dry_run", "unchanged": True}
                and _get(dry, "status") == "dry_run")
    if refused is not None:
        # Only the planted rows (no SPEC function writes them) may make a build refuse; refusing changes
        # nothing, so it touches nothing SPEC protects. What the real run deletes is then left to
        # rollback_restores_pre_state, on the run's own rows.
        accepted = changed_nothing is True and any(v is True for v in planted.values())
        evidence["real"] = {"refused": refused, "changed_nothing": changed_nothing,
                            "accepted": REFUSAL_ACCEPTED if accepted else False}
        return calls_ok and accepted and spared["look_alike_actors"], evidence
    evidence.update({"real": _get(real, "status"), "counts": counted})
    honest = all(v["would"] == v["deleted"] == v["disappeared"] for v in counted.values())
    # SPEC: never another actor's rows, never manual lineage. Whether the collections they point at stay
    # follows from the build's keys, so the collections are evidence only.
    held = [k for k in ("other_actors_log_row", "manual_lineage", "own_instance_gone", "look_alike_actors",
                        "other_actors_auto_lineage", "template_whole") if k in spared]
    passed = calls_ok and _get(real, "status") == "ok" and honest and all(spared[k] for k in held)
    return passed, evidence


def _refuses(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> bool:
    """Whether `query` raises here: tried in a savepoint that is undone either way."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(query, params)
    except psycopg.Error:
        return True
    return False


def _get(answer: Any, key: str) -> Any:
    return answer.get(key) if isinstance(answer, dict) else None


# SPEC's order of a real rollback's deletes ([S1.rollback.real]), seen through row triggers that the probe
# adds to the SPEC tables of its throwaway clone: each deleted row notes its table and the deleting session.
DELETE_ORDER = ("iu_auto_instantiate_event_log", "iu_collection_template_instance_lineage", "iu_piece_collection",
                "iu_piece_membership")
NOTE_DELETES_SQL = """
    CREATE SCHEMA iu_harness_probe;
    CREATE TABLE iu_harness_probe.deletes (n bigserial PRIMARY KEY, pid int NOT NULL DEFAULT pg_backend_pid(),
                                           table_name text NOT NULL);
    CREATE FUNCTION iu_harness_probe.note_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO iu_harness_probe.deletes (table_name) VALUES (TG_TABLE_NAME);
        RETURN OLD;
    END;
    $$;
""" + "".join(f"""
    CREATE TRIGGER iu_harness_note_delete BEFORE DELETE ON iu_core.{table}
        FOR EACH ROW EXECUTE FUNCTION iu_harness_probe.note_delete();""" for table in DELETE_ORDER)
FIRST_DELETES_SQL = """
    SELECT table_name FROM iu_harness_probe.deletes WHERE pid = %s GROUP BY table_name ORDER BY min(n)"""


def _summarize_rollback_race(ev: Evidence) -> str:
    counts = ", ".join(f"{k} {v['first']}+{v['second']}={v['disappeared']}" for k, v in ev["counts"].items())
    order = " → ".join(ev.get("delete_order", [])) or "nothing"
    return (f"{ev['events']} instances, 2 sessions → {' / '.join(map(str, ev['statuses']))}; the second waited "
            f"on the first's lock: {fmt(ev['second_waited_on_a_lock'])}; deleted: {counts}; first's delete "
            f"order: {order}")


@invariant("probe_rollback_race",
           summarize=_summarize_rollback_race,
           proves=("Two concurrent rollbacks of one actor delete each row once and report it once, in SPEC's order: "
                   "sidecar log, lineage, instance collections, memberships."),
           covers=("S1.rollback.real",),
           phase="probe",
           description="two real rollbacks of one actor at once: each row deleted once, the answers' deleted_* "
                       "counts add up to what disappeared (a refused second call counts nothing), the actor left "
                       "with nothing; the first deletes the sidecar log, lineage, instance collections, memberships "
                       "in that order (each table's first deleted row, seen by row triggers on the throwaway clone)")
def probe_rollback_race(ctx: RunContext) -> tuple[bool, Evidence]:
    key, _, _ = _template(ctx)
    actor = probe_actor(ctx, "rollback-race")
    with _throwaway_clone(ctx) as database, database.connect(autocommit=True) as admin, \
            database.connect() as first, database.connect() as second:
        with admin.transaction():
            set_gates(admin, True)
            for k in range(RACE_EVENTS):
                call_orchestrator_once(admin, probe_event_id(ctx, "rollback-race", k), ctx.scenario.event_type,
                                       key, f"{PROBE_SUFFIX}-rollback-race-{k}", actor, ctx.scenario.emit_mode)
            set_gates(admin, False)
        admin.execute(NOTE_DELETES_SQL)
        before = db_state.table_counts(admin)
        for conn in (first, second):
            conn.execute(f"SET statement_timeout = '{RACE_STATEMENT_TIMEOUT}'")
            conn.commit()
        answers: dict[str, Any] = {}
        (answers["first"],) = first.execute(ROLLBACK_SQL, (actor, False)).fetchone()  # type: ignore[misc]

        def roll_back_too() -> None:
            try:
                (answers["second"],) = second.execute(ROLLBACK_SQL, (actor, False)).fetchone()  # type: ignore[misc]
            except psycopg.Error as exc:
                answers["second_error"] = _outcome(exc)

        met = _second_meets_first(admin, first, second, roll_back_too)
        if "second_error" in answers:
            second.rollback()
        else:
            second.commit()
        after = db_state.table_counts(admin)
        (left,) = admin.execute("SELECT count(*)::int FROM iu_core.iu_auto_instantiate_event_log "  # type: ignore[misc]
                                "WHERE actor = %s", (actor,)).fetchone()
        delete_order = [row[0] for row in admin.execute(FIRST_DELETES_SQL, (first.info.backend_pid,))]
    refused = "second_error" in answers
    counted = {k: {"first": _get(answers.get("first"), f"deleted_{k}") or 0,
                   "second": 0 if refused else _get(answers.get("second"), f"deleted_{k}") or 0,
                   "disappeared": before[COUNTED_TABLES[k]] - after[COUNTED_TABLES[k]]} for k in WOULD_DELETE}
    added_up = all(v["first"] + v["second"] == v["disappeared"] for v in counted.values())
    evidence: Evidence = {"events": RACE_EVENTS, "second_waited_on_a_lock": met,
                          "statuses": [_get(answers.get("first"), "status"), _get(answers.get("second"), "status")],
                          "counts": counted, "actor_log_rows_left": left, "delete_order": delete_order,
                          "delete_order_as_spec": delete_order == list(DELETE_ORDER)}
    if "second_error" in answers:
        evidence["second_error"] = answers["second_error"]
    # The second caller may answer (then its counts must add up with the first's) or refuse with an
    # error (its transaction then wrote nothing, and the first's counts alone must be what went).
    first_alone = all(v["first"] == v["disappeared"] for v in counted.values())
    honest = first_alone if refused else added_up
    # Evidence only: a second call that waited and then found the rows gone may answer 'noop' or 'ok'
    # with zero counts. SPEC's "an actor with nothing returns noop" does not say which it is when the
    # actor had rows as the call began, and SPEC fixes no concurrent behaviour of the rollback.
    evidence["second_said_ok_having_deleted_nothing"] = (
        not refused and _get(answers.get("second"), "status") == "ok"
        and all(v["second"] == 0 for v in counted.values()))
    passed = honest and left == 0 and counted["log_rows"]["disappeared"] == RACE_EVENTS \
        and evidence["delete_order_as_spec"]
    return passed, evidence
