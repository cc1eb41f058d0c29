"""How the harness calls the build under test: SPEC section 1 names only.

The gate toggle works on `iu_core.iu_gate` itself (no helper function of any
build), taking the rows in gate_key order so two toggling transactions queue
instead of deadlocking; the calls use the SPEC functions positionally, so a
build's parameter names cannot change what the harness asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from harness.spec import GATES, ORCHESTRATOR, ROLLBACK_BY_ACTOR

SET_GATES_SQL = """
WITH locked AS (
    SELECT gate_key FROM iu_core.iu_gate
     WHERE gate_key = ANY (%(gates)s::text[])
     ORDER BY gate_key FOR UPDATE
)
UPDATE iu_core.iu_gate g SET enabled = %(enabled)s FROM locked WHERE g.gate_key = locked.gate_key
"""
ORCHESTRATOR_SQL = (f"SELECT {ORCHESTRATOR}("
                    "%s::uuid, %s::text, %s::text, %s::text, %s::text, %s::text)")
# The real rollback of an actor's run: its answer, and the count of the target ids it names (not the ids).
REAL_ROLLBACK_SQL = f"""
SELECT j - 'target_instance_ids', jsonb_array_length(coalesce(j -> 'target_instance_ids', '[]'))
  FROM {ROLLBACK_BY_ACTOR}(%(actor)s, false) AS j
"""


def set_gates(conn: psycopg.Connection, enabled: bool, gates: Sequence[str] = GATES) -> int:
    """Open or close the named gates (default both) in the caller's transaction; returns rows changed."""
    return conn.execute(SET_GATES_SQL, {"enabled": enabled, "gates": list(gates)}).rowcount


def restore_gates(conn: psycopg.Connection, states: dict[str, bool | None]) -> None:
    """Put each gate back to a state read earlier (a missing row stays missing)."""
    for enabled in (True, False):
        keys = [g for g, v in states.items() if v is enabled]
        if keys:
            set_gates(conn, enabled, keys)


def call_orchestrator_once(conn: psycopg.Connection, event_id: str | None, event_type: str | None,
                           template_key: str | None, suffix: str | None, actor: str | None,
                           emit_mode: str | None) -> Any:
    """One fn_iu_auto_instantiate_from_event call; its answer as Python (a dict when it is an object)."""
    row = conn.execute(ORCHESTRATOR_SQL, (event_id, event_type, template_key, suffix, actor, emit_mode)).fetchone()
    return None if row is None else row[0]
