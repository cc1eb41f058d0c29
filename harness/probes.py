"""Probes: calls a correct build must refuse or serialize, made in every scaleout run.

Each probe is a named invariant of the "probe" phase (after the post-commit
checks) that leaves the run's database as it found it: the refused calls run in
a transaction that is always rolled back, and the race runs on a throwaway
clone of the scenario's baseline. They use SPEC section 1 names only, and judge
errors by "raised, and nothing written", never by one build's SQLSTATEs.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg

from harness import db_state
from harness.invariants import Evidence, invariant
from harness.run_context import CheckNotRun
from harness.spec_calls import GATES, call_orchestrator_once, restore_gates, set_gates

if TYPE_CHECKING:
    from harness.run_context import RunContext

PROBE_SUFFIX = "iu-harness-probe"
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


def _outcome(exc: psycopg.Error) -> dict[str, Any]:
    return {"raised": exc.sqlstate, "message": (exc.diag.message_primary or str(exc)).strip()[:160]}


# -- gated ---------------------------------------------------------------------------------------

@invariant("probe_gated", phase="probe",
           description="with a gate closed, a call returns status 'gated' naming a closed gate and writes nothing")
def probe_gated(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
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
            try:
                with conn.transaction():
                    answer = call_orchestrator_once(conn, probe_event_id(ctx, "gated", k), ctx.scenario.event_type,
                                                    template, suffix, probe_actor(ctx, "gated"),
                                                    ctx.scenario.emit_mode)
            except psycopg.Error as exc:
                cases[label] = {**_outcome(exc), "passed": False}
                continue
            answer = answer if isinstance(answer, dict) else {"answer": answer}
            passed = answer.get("status") == "gated" and answer.get("gate") in closed
            cases[label] = {"status": answer.get("status"), "gate": answer.get("gate"), "closed": closed,
                            "passed": passed}
        restore_gates(conn, at_rest)
        unchanged = db_state.fingerprint(conn) == ctx.facts["post"]["fingerprint"]
    passed = unchanged and all(c["passed"] for c in cases.values())
    return passed, {"cases": cases, "database_unchanged": unchanged}


# -- bad input -----------------------------------------------------------------------------------

def _bad_inputs(ctx: RunContext) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, label, arguments changed from a valid call) for every kind of bad input SPEC names."""
    template, taken_suffix = _first_run_instance(ctx)
    cases: list[tuple[str, str, dict[str, Any]]] = [("missing argument", "event_id=NULL", {"event_id": None})]
    for argument in ("event_type", "template_key", "suffix", "actor", "emit_mode"):
        cases.append(("missing argument", f"{argument}=NULL", {argument: None}))
        cases.append(("missing argument", f"{argument}=''", {argument: ""}))
    cases += [
        ("unknown template", "template_key=unknown", {"template_key": f"{PROBE_SUFFIX}:no-such-template"}),
        ("instance used as template", "template_key=a run instance",
         {"template_key": f"tpl-inst:auto:{taken_suffix}"}),
        ("undefined emit_mode", "emit_mode=undefined", {"emit_mode": f"{PROBE_SUFFIX}-undefined-mode"}),
        ("suffix of another event", "suffix=a run suffix, new event", {"template_key": template,
                                                                       "suffix": taken_suffix}),
    ]
    return cases


@invariant("probe_bad_input", phase="probe",
           description="every kind of bad input SPEC names raises (the kinds not all one SQLSTATE) and writes "
                       "nothing; a call that answers instead of raising fails")
def probe_bad_input(ctx: RunContext) -> tuple[bool, Evidence]:
    conn = ctx.conn
    template, _ = _first_run_instance(ctx)
    at_rest = db_state.gate_states(conn)
    cases: dict[str, Any] = {}
    states_by_kind: dict[str, set[str]] = {}
    with conn.transaction(force_rollback=True):
        set_gates(conn, True)  # open: the input alone must be the reason to refuse
        for k, (kind, label, changed) in enumerate(_bad_inputs(ctx)):
            args = {"event_id": probe_event_id(ctx, "bad-input", k), "event_type": ctx.scenario.event_type,
                    "template_key": template, "suffix": f"{PROBE_SUFFIX}-bad-input-{k}",
                    "actor": probe_actor(ctx, "bad-input"), "emit_mode": ctx.scenario.emit_mode, **changed}
            before = db_state.table_counts(conn)
            try:
                with conn.transaction():
                    answer = call_orchestrator_once(conn, **args)
                    # It answered: whatever it wrote is still visible here, inside its savepoint.
                    wrote = {t: v - before[t] for t, v in db_state.table_counts(conn).items() if v != before[t]}
            except psycopg.Error as exc:
                cases[label] = {"kind": kind, **_outcome(exc), "passed": True}
                states_by_kind.setdefault(kind, set()).add(str(exc.sqlstate))
                continue
            status = answer.get("status") if isinstance(answer, dict) else answer
            cases[label] = {"kind": kind, "answered": status, "wrote": wrote, "passed": False}
        restore_gates(conn, at_rest)
        unchanged = db_state.fingerprint(conn) == ctx.facts["post"]["fingerprint"]
    all_states = set().union(*states_by_kind.values()) if states_by_kind else set()
    distinct_kinds = len(states_by_kind) < 2 or len(all_states) >= 2
    passed = all(c["passed"] for c in cases.values()) and distinct_kinds and unchanged
    evidence: Evidence = {"cases": len(cases), "raised": sum(c["passed"] for c in cases.values()),
                          "sqlstates_by_kind": {k: sorted(v) for k, v in sorted(states_by_kind.items())},
                          "kinds_not_all_one_sqlstate": distinct_kinds, "database_unchanged": unchanged}
    answered = {label: c for label, c in cases.items() if not c["passed"]}
    if answered:
        evidence["answered_instead_of_raising"] = answered
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


@invariant("probe_race", phase="probe",
           description="two sessions calling the orchestrator for the same fresh events at once: exactly one "
                       "'ok' per idempotency key, the other 'duplicate' with the same instance, no error")
def probe_race(ctx: RunContext) -> tuple[bool, Evidence]:
    if ctx.pool is None:
        raise CheckNotRun("the race needs a throwaway clone: run_scenario(..., pool=...) was not given one")
    templates = [item.template for item, count in ctx.plan if count] or [ctx.plan[0][0].template]
    events = [(probe_event_id(ctx, "race", k), templates[k % len(templates)], f"{PROBE_SUFFIX}-race-{k}")
              for k in range(RACE_EVENTS)]
    database = ctx.pool.clone(ctx.scenario.baseline)
    try:
        with database.connect(autocommit=True) as admin, database.connect() as first, database.connect() as second:
            for conn in (first, second):
                conn.execute(f"SET statement_timeout = '{RACE_STATEMENT_TIMEOUT}'")
                conn.commit()
            with admin.transaction():
                set_gates(admin, True)  # committed open: only then can two callers be inside at once
            before = db_state.table_counts(admin)
            pieces = dict(admin.execute(
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
            done = threading.Event()

            def run_second() -> None:
                try:
                    _race_calls(second, events, ctx, b)
                finally:
                    done.set()

            thread = threading.Thread(target=run_second, name="iu-harness-race", daemon=True)
            thread.start()
            met = _wait_for_lock(admin, second.info.backend_pid, done)
            first.commit()
            thread.join(timeout=120)
            if "error" in b:
                second.rollback()
            else:
                second.commit()
            after = db_state.table_counts(admin)
            per_key = admin.execute("SELECT count(*)::int FROM iu_core.iu_auto_instantiate_event_log "
                                    "WHERE actor = %s", (probe_actor(ctx, "race"),)).fetchone()
    finally:
        ctx.pool.drop(database.name)
    answers_a, answers_b = a.get("answers", []), b.get("answers", [])
    pairs = list(zip(answers_a, answers_b, strict=False))
    one_ok_one_duplicate = sum(
        1 for x, y in pairs if isinstance(x, dict) and isinstance(y, dict)
        and sorted([x.get("status"), y.get("status")]) == ["duplicate", "ok"]
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

@invariant("probe_digest_keyed_on_graph", phase="probe",
           description="fn_iu_manifest_digest: a collection of another key and kind with a template's pieces "
                       "has the template's digest; the same pieces in another order have another")
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
    try:
        with conn.transaction(force_rollback=True):
            (digest,) = conn.execute("SELECT iu_core.fn_iu_manifest_digest(%s)", (template_id,)).fetchone()  # type: ignore[misc]
            made: dict[str, str] = {}
            # The other order: each position takes the next position's piece (the last, the first's),
            # which differs from the template's order whenever it has two distinct pieces.
            rotated = "coalesce(lead(m.iu_id) OVER w, first_value(m.iu_id) OVER w)"
            for label, key_kind, piece in (("same pieces, other key and kind", other_kind, "m.iu_id"),
                                           ("same pieces, rotated order", kind, rotated)):
                (new_id,) = conn.execute("""
                    INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest)
                    VALUES (gen_random_uuid(), %s, %s, false, %s) RETURNING id""",
                                         (f"{PROBE_SUFFIX}:{label.replace(' ', '-').replace(',', '')}", key_kind,
                                          digest)).fetchone()  # type: ignore[misc]
                conn.execute(f"""
                    INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
                    SELECT %s, {piece}, m.position FROM iu_core.iu_piece_membership m
                     WHERE m.collection_id = %s
                    WINDOW w AS (ORDER BY m.position ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)""",
                             (new_id, template_id))
                (made[label],) = conn.execute("SELECT iu_core.fn_iu_manifest_digest(%s)", (new_id,)).fetchone()  # type: ignore[misc]
    except psycopg.Error as exc:
        raise CheckNotRun(f"could not write the probe's collections on this build: {_outcome(exc)}") from exc
    same = made["same pieces, other key and kind"]
    reordered = made["same pieces, rotated order"]
    well_formed = isinstance(digest, str) and len(digest) == 16 and all(ch in "0123456789abcdef" for ch in digest)
    passed = well_formed and same == digest and reordered != digest
    return passed, {"template": template_key, "template_digest": digest, "pieces": count,
                    "same_pieces_other_key_and_kind": same, "same_pieces_rotated": reordered,
                    "sixteen_lowercase_hex": well_formed}
