"""SPEC section 1's names in one place: the only names of a build the harness reads or calls.

The clauses behind them: harness/docs/contract.md. Every check, probe and call imports them from here.
"""

from __future__ import annotations

SCHEMA = "iu_core"
SPEC_TABLES = (
    "iu",
    "iu_lifecycle_log",
    "iu_vector_sync_point",
    "iu_piece_collection",
    "iu_piece_membership",
    "iu_collection_template_instance_lineage",
    "iu_auto_instantiate_event_log",
    "iu_gate",
)
#: SPEC section 1 ([S1.orch.scale]): "One transaction may call it 100,000 times or more".
SPEC_TARGET_N = 100_000
GATES = ("iu_core.auto_instantiate_enabled", "iu_core.composer_enabled")
# The keys every orchestrator answer carries at least (SPEC section 1).
ANSWER_KEYS = ("status", "instance_id", "instance_key", "idempotency_key", "template_digest", "instance_digest",
               "digest_match")

# table -> required column -> accepted type names (format_type); SPEC section 1.
TEXT = ("text", "character varying", "character")  # any string type: SPEC says text
INTEGER = ("integer", "bigint", "smallint")
SPEC_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "iu": {"id": ("uuid",), "iu_key": TEXT, "content_hash": TEXT},
    "iu_lifecycle_log": {"iu_id": ("uuid",)},
    "iu_vector_sync_point": {"iu_id": ("uuid",)},
    "iu_piece_collection": {"id": ("uuid",), "collection_key": TEXT, "kind": TEXT, "is_template": ("boolean",),
                            "manifest_digest": TEXT},
    "iu_piece_membership": {"collection_id": ("uuid",), "iu_id": ("uuid",), "position": INTEGER},
    "iu_collection_template_instance_lineage": {"template_collection_id": ("uuid",),
                                                "instance_collection_id": ("uuid",), "origin": TEXT,
                                                "actor": TEXT},
    "iu_auto_instantiate_event_log": {"event_id": ("uuid",), "event_type": TEXT, "template_collection_key": TEXT,
                                      "instance_collection_id": ("uuid",), "actor": TEXT, "emit_mode": TEXT,
                                      "idempotency_key": TEXT, "template_digest": TEXT, "instance_digest": TEXT},
    "iu_gate": {"gate_key": TEXT, "enabled": ("boolean",)},
}
ORCHESTRATOR = f"{SCHEMA}.fn_iu_auto_instantiate_from_event"
ROLLBACK_BY_ACTOR = f"{SCHEMA}.fn_iu_auto_instantiate_rollback_by_actor"
#: An auto instance's collection_key is this prefix and the call's suffix.
INSTANCE_KEY_PREFIX = "tpl-inst:auto:"
#: The prefix as an SQL literal, for queries: f"... {INSTANCE_KEY_SQL} || p.suffix".
INSTANCE_KEY_SQL = f"'{INSTANCE_KEY_PREFIX}'"
