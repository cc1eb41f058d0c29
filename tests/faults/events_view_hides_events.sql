-- events_view_hides_events.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the build's own v_iu_auto_instantiate_events keeps one row per sidecar log row but no longer
-- shows which event each row is (the event column is empty). Nothing else is wrong.
-- Violates: [S1.view.events]
-- Caught by: events_view_rows

ALTER VIEW iu_core.v_iu_auto_instantiate_events RENAME TO v_iu_auto_instantiate_events_before_fault;
CREATE VIEW iu_core.v_iu_auto_instantiate_events AS
SELECT NULL::uuid AS event_id,                                                                   -- FAULT
       l.event_type, l.template_collection_key, l.instance_collection_id, l.actor, l.emit_mode,
       l.template_digest = l.instance_digest AS digest_match
  FROM iu_core.iu_auto_instantiate_event_log l;
