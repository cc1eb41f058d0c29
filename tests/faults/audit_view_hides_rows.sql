-- audit_view_hides_rows.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the build's own v_iu_digest_audit shows no row at all (every digest is right), so an
-- operator reading it sees "0 drift" whatever happens. Nothing else is wrong.
-- Must be caught by: digest_audit_view_agrees (and by it alone).
-- Violates: [S1.view.audit]
-- Caught by: digest_audit_view_agrees

DROP VIEW IF EXISTS iu_core.v_iu_digest_audit;
CREATE VIEW iu_core.v_iu_digest_audit AS
SELECT l.instance_collection_id, l.template_collection_key, l.actor, true AS digest_ok
  FROM iu_core.iu_auto_instantiate_event_log l
 WHERE false;
