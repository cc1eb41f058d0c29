-- audit_view_hides_drift.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: digests drift (the public digest function mixes in the collection key) and the
-- build's own v_iu_digest_audit is replaced by one that calls every row fine.
-- Must be caught by: digest_equality (the harness's own audit) and digest_audit_view_agrees.
-- Violates: [S1.view.audit], [S1.digest.not-labels]
-- Caught by: digest_equality, digest_audit_view_agrees

\ir manifest_digest_mixes_key.sql

DROP VIEW IF EXISTS iu_core.v_iu_digest_audit;
CREATE VIEW iu_core.v_iu_digest_audit AS
SELECT l.instance_collection_id, l.template_collection_key, l.actor, true AS digest_ok
  FROM iu_core.iu_auto_instantiate_event_log l;
