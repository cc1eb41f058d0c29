"""Model-based test: random sequences of iu_core calls against a small Python model of the database.

A Hypothesis RuleBasedStateMachine drives a fresh after-25000x clone (one per example) through
new events, replays, gated calls, manual composes, dry-run and real rollbacks by actor, and
suffix reuse by another event; each step commits (gates opened and closed inside its own
transaction, as the seeds do). The model keeps every instance the steps can touch (the baseline's
13 auto instances, plus whatever the steps add) with its actor, origin, template and piece count.
After every step the database must agree with it: row counts per table (baseline + model), the
(actor, origin, instance) lineage and (actor, instance) log rows, every digest ok in
v_iu_digest_audit, and both gates closed at rest.

Bounded for CI (15 examples x 20 steps); IU_HARNESS_HYPOTHESIS=deep uses the deep profile's sizes.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from psycopg import pq
from sql_helpers import (
    AUTO_GATE,
    COMPOSER_GATE,
    GATES,
    call_auto,
    expected_idempotency_key,
    fingerprint,
    gate_states,
    gates_open,
    rollback_by_actor,
    set_gates,
    table_counts,
)

from harness.databases.pool import DatabasePool

# About our own build: skipped (one line) when --iu-sql-dir names another one.
pytestmark = pytest.mark.bundled_build("the SQLSTATE catalogue (IU004)")

BASELINE = "after-25000x"
AUTO_PREFIX = "tpl-inst:auto:"
TEMPLATES = ("tpl:file:status-report/v1", "tpl:file:status-report/v2", "tpl:wf:onboarding/v1",
             "tpl:wf:onboarding/v2")
# two actors of the baseline (they own its 13 auto instances) and two new ones
ACTORS = ("iu-core-25000x-bulk", "iu-core-24000x-durable", "sm-alpha", "sm-beta")
EMIT_MODES = ("live", "backfill")
ALL_CLOSED = dict.fromkeys(GATES, False)

DEEP = os.environ.get("IU_HARNESS_HYPOTHESIS", "ci") == "deep"
MODEL_SETTINGS = settings(settings.default,
                          max_examples=settings.default.max_examples if DEEP else 15,
                          stateful_step_count=settings.default.stateful_step_count if DEEP else 20)

# any text PostgreSQL can hold; the "sm-<n>-" prefix keeps each suffix fresh and non-blank
suffix_flavours = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=4)


def pg_quote(value: str) -> str:
    """quote_literal as it appears in a message."""
    quoted = "'" + value.replace("'", "''").replace("\\", "\\\\") + "'"
    return "E" + quoted if "\\" in value else quoted


@dataclass
class Instance:
    id: uuid.UUID
    key: str
    template: str
    actor: str
    origin: str  # 'auto' or 'manual'
    pieces: int


@dataclass
class Event:
    event_id: uuid.UUID
    template: str
    suffix: str
    actor: str
    emit_mode: str
    instance_id: uuid.UUID | None = None  # None: never composed (gated) or rolled back

    @property
    def idempotency_key(self) -> str:
        return expected_idempotency_key(self.event_id, self.template, self.suffix)


class IuCoreModel(RuleBasedStateMachine):
    pool: ClassVar[DatabasePool | None] = None

    events = Bundle("events")
    gated_events = Bundle("gated_events")

    def __init__(self) -> None:
        super().__init__()
        assert self.pool is not None, "set IuCoreModel.pool before running the machine"
        self.db = self.pool.clone(BASELINE)
        self.conn = self.db.connect(autocommit=True)
        self.serial = itertools.count(1)
        conn = self.conn
        self.template_ids: dict[str, uuid.UUID] = {}
        self.pieces: dict[str, int] = {}
        self.template_digests: dict[str, str] = {}
        for key, tid, digest, n in conn.execute(
                "SELECT c.collection_key, c.id, c.manifest_digest, count(m.position)"
                "  FROM iu_core.iu_piece_collection c JOIN iu_core.iu_piece_membership m ON m.collection_id = c.id"
                " WHERE c.is_template GROUP BY c.id").fetchall():
            self.template_ids[key], self.template_digests[key], self.pieces[key] = tid, digest, int(n)
        assert set(self.pieces) == set(TEMPLATES)
        # The model starts from the baseline's auto instances: one log row, one lineage row each.
        self.instances: dict[uuid.UUID, Instance] = {}
        self.baseline_events: list[Event] = []
        for event_id, template, key, actor, emit_mode, iid in conn.execute(
                "SELECT l.event_id, l.template_collection_key, c.collection_key, l.actor, l.emit_mode, c.id"
                "  FROM iu_core.iu_auto_instantiate_event_log l"
                "  JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id ORDER BY l.id").fetchall():
            assert iid not in self.instances, "one log row per baseline auto instance"
            self.instances[iid] = Instance(iid, key, template, actor, "auto", self.pieces[template])
            self.baseline_events.append(Event(event_id, template, key.removeprefix(AUTO_PREFIX), actor, emit_mode,
                                              iid))
        assert {i.actor for i in self.instances.values()} <= set(ACTORS)
        # Everything the model does not track stays as the baseline has it.
        counts = table_counts(conn)
        tracked = self._tracked_counts()
        self.static = {table: counts[table] - tracked.get(table, 0) for table in counts}
        self.live_events: dict[str, Event] = {e.idempotency_key: e for e in self.baseline_events}

    def teardown(self) -> None:
        self.conn.close()
        assert self.pool is not None
        self.pool.drop(self.db.name)

    # -- model helpers ---------------------------------------------------------------------------
    def _tracked_counts(self) -> dict[str, int]:
        auto = [i for i in self.instances.values() if i.origin == "auto"]
        return {"iu_piece_collection": len(self.instances),
                "iu_piece_membership": sum(i.pieces for i in self.instances.values()),
                "iu_collection_template_instance_lineage": len(self.instances),
                "iu_auto_instantiate_event_log": len(auto)}

    def _auto_of(self, actor: str) -> list[Instance]:
        return sorted((i for i in self.instances.values() if i.origin == "auto" and i.actor == actor),
                      key=lambda i: i.id)

    def _fresh_suffix(self, flavour: str) -> str:
        return f"sm-{next(self.serial)}-{flavour}"

    def _compose_event(self, event: Event) -> None:
        """Call with both gates open in one committed transaction; the model expects 'ok'."""
        with gates_open(self.conn):
            result = call_auto(self.conn, event.event_id, event.template, event.suffix, event.actor, event.emit_mode)
        assert result["status"] == "ok", result
        assert result["instance_key"] == AUTO_PREFIX + event.suffix
        assert result["idempotency_key"] == event.idempotency_key
        assert result["digest_match"] is True
        assert result["template_digest"] == result["instance_digest"] == self.template_digests[event.template]
        iid = uuid.UUID(result["instance_id"])
        assert iid not in self.instances
        event.instance_id = iid
        self.instances[iid] = Instance(iid, AUTO_PREFIX + event.suffix, event.template, event.actor, "auto",
                                       self.pieces[event.template])
        self.live_events[event.idempotency_key] = event

    # -- rules -----------------------------------------------------------------------------------
    @rule(target=events, actor=st.sampled_from(ACTORS), template=st.sampled_from(TEMPLATES), event_id=st.uuids(),
          emit_mode=st.sampled_from(EMIT_MODES), flavour=suffix_flavours)
    def new_event(self, actor: str, template: str, event_id: uuid.UUID, emit_mode: str, flavour: str) -> Event:
        event = Event(event_id, template, self._fresh_suffix(flavour), actor, emit_mode)
        self._compose_event(event)
        return event

    @rule(event=events)
    def replay(self, event: Event) -> None:
        """A live event answers 'duplicate' with its instance; a rolled-back one composes again."""
        if event.instance_id is None:
            self._compose_event(event)
            return
        before = fingerprint(self.conn)
        with gates_open(self.conn):
            result = call_auto(self.conn, event.event_id, event.template, event.suffix, event.actor, event.emit_mode)
        assert result["status"] == "duplicate", result
        assert uuid.UUID(result["instance_id"]) == event.instance_id
        assert result["idempotency_key"] == event.idempotency_key
        assert fingerprint(self.conn) == before

    @precondition(lambda self: bool(self.baseline_events))
    @rule(data=st.data())
    def replay_baseline_event(self, data: st.DataObject) -> None:
        self.replay(data.draw(st.sampled_from(self.baseline_events), label="baseline event"))

    @rule(target=gated_events, actor=st.sampled_from(ACTORS), template=st.sampled_from(TEMPLATES),
          event_id=st.uuids(), open_gates=st.sampled_from(((), (AUTO_GATE,), (COMPOSER_GATE,))))
    def gated(self, actor: str, template: str, event_id: uuid.UUID, open_gates: tuple[str, ...]) -> Event:
        event = Event(event_id, template, self._fresh_suffix("gated"), actor, "live")
        before = fingerprint(self.conn)
        with self.conn.transaction():
            if open_gates:
                set_gates(self.conn, True, open_gates)
            result = call_auto(self.conn, event.event_id, template, event.suffix, actor)
            set_gates(self.conn, False)
        assert result["status"] == "gated", result
        assert result["gate"] == min(set(GATES) - set(open_gates))  # the (first) closed gate
        assert result.get("instance_id") is None
        assert fingerprint(self.conn) == before
        return event

    @rule(event=consumes(gated_events))
    def retry_gated_event_with_gates_open(self, event: Event) -> None:
        """Nothing of a gated call remains: the same event composes once the gates are open."""
        self._compose_event(event)

    @rule(actor=st.sampled_from(ACTORS), template=st.sampled_from(TEMPLATES))
    def manual_compose(self, actor: str, template: str) -> None:
        key = f"tpl-inst:manual:sm-{next(self.serial)}"
        with gates_open(self.conn):
            row = self.conn.execute("SELECT iu_core.fn_iu_compose(%s, %s, %s)", (template, key, actor)).fetchone()
            assert row is not None
            iid = row[0]
            lineage = self.conn.execute(
                "SELECT iu_core.fn_iu_collection_record_template_instance(%s, %s, %s, 'manual')",
                (self.template_ids[template], iid, actor)).fetchone()
            assert lineage is not None and lineage[0] is not None
        self.instances[iid] = Instance(iid, key, template, actor, "manual", self.pieces[template])

    @rule(actor=st.sampled_from(ACTORS))
    def dry_run_rollback(self, actor: str) -> None:
        before = fingerprint(self.conn)
        result = rollback_by_actor(self.conn, actor, dry_run=True)
        assert fingerprint(self.conn) == before
        targets = self._auto_of(actor)
        if not targets:
            assert result["status"] == "noop", result
            return
        assert result["status"] == "dry_run", result
        assert result["target_instance_ids"] == [str(i.id) for i in targets]
        assert (result["would_delete_instance_collections"], result["would_delete_lineage_rows"],
                result["would_delete_log_rows"], result["would_delete_membership_rows"]) == (
            len(targets), len(targets), len(targets), sum(i.pieces for i in targets))

    @rule(actor=st.sampled_from(ACTORS))
    def rollback(self, actor: str) -> None:
        with self.conn.transaction():
            result = rollback_by_actor(self.conn, actor, dry_run=False)
        targets = self._auto_of(actor)
        if not targets:
            assert result["status"] == "noop", result
            return
        assert result["status"] == "ok", result
        assert result["target_instance_ids"] == [str(i.id) for i in targets]
        assert (result["deleted_instance_collections"], result["deleted_lineage_rows"],
                result["deleted_log_rows"], result["deleted_membership_rows"]) == (
            len(targets), len(targets), len(targets), sum(i.pieces for i in targets))
        gone = {i.id for i in targets}
        for iid in gone:
            del self.instances[iid]
        for key, event in list(self.live_events.items()):
            if event.instance_id in gone:
                event.instance_id = None
                del self.live_events[key]

    @precondition(lambda self: bool(self.live_events))
    @rule(data=st.data(), actor=st.sampled_from(ACTORS), template=st.sampled_from(TEMPLATES), event_id=st.uuids())
    def reuse_suffix_of_another_event(self, data: st.DataObject, actor: str, template: str,
                                      event_id: uuid.UUID) -> None:
        taken = data.draw(st.sampled_from(sorted(self.live_events.values(), key=lambda e: e.suffix)),
                          label="live event")
        if expected_idempotency_key(event_id, template, taken.suffix) == taken.idempotency_key:
            event_id = uuid.UUID(int=event_id.int ^ 1)  # the same event would be a duplicate, not a reuse
        before = fingerprint(self.conn)
        try:
            with gates_open(self.conn):
                call_auto(self.conn, event_id, template, taken.suffix, actor)
        except psycopg.Error as exc:
            assert exc.sqlstate == "IU004", exc
            assert pg_quote(AUTO_PREFIX + taken.suffix) in (exc.diag.message_primary or "")
        else:
            raise AssertionError(f"reusing suffix {taken.suffix!r} for event {event_id} did not raise IU004")
        assert fingerprint(self.conn) == before

    # -- invariants ------------------------------------------------------------------------------
    @invariant()
    def at_rest(self) -> None:
        assert self.conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert gate_states(self.conn) == ALL_CLOSED

    @invariant()
    def counts_match_the_model(self) -> None:
        tracked = self._tracked_counts()
        expected = {table: n + tracked.get(table, 0) for table, n in self.static.items()}
        assert table_counts(self.conn) == expected

    @invariant()
    def rows_per_actor_match_the_model(self) -> None:
        lineage = {(a, o, i) for a, o, i in self.conn.execute(
            "SELECT actor, origin, instance_collection_id FROM iu_core.iu_collection_template_instance_lineage"
            " WHERE actor = ANY (%s)", (list(ACTORS),)).fetchall()}
        assert lineage == {(i.actor, i.origin, i.id) for i in self.instances.values()}
        log = self.conn.execute("SELECT actor, instance_collection_id FROM iu_core.iu_auto_instantiate_event_log"
                                ).fetchall()
        assert sorted(log) == sorted((i.actor, i.id) for i in self.instances.values() if i.origin == "auto")

    @invariant()
    def every_digest_ok(self) -> None:
        row: Any = self.conn.execute("SELECT count(*), count(*) FILTER (WHERE digest_ok)"
                                     "  FROM iu_core.v_iu_digest_audit").fetchone()
        n_auto = sum(i.origin == "auto" for i in self.instances.values())
        assert tuple(row) == (n_auto, n_auto)


def test_iu_core_matches_its_model(iu_pool: DatabasePool) -> None:
    IuCoreModel.pool = iu_pool
    try:
        run_state_machine_as_test(IuCoreModel, settings=MODEL_SETTINGS)
    finally:
        IuCoreModel.pool = None
