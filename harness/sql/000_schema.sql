-- 000_schema.sql
-- Deploys: the iu_core schema and its error-code catalogue (as a comment).
-- Needs:   PostgreSQL 13+, nothing else (md5, sha256 and gen_random_uuid are core).
--
-- Error codes raised by iu_core (one SQLSTATE per kind of error, class "IU"):
--   IU001  a required argument is null, empty or whitespace only
--   IU002  unknown template (or a key that names an instance, not a template)
--   IU003  emit_mode not defined in iu_core.iu_emit_mode
--   IU004  instance key already taken (by another event, template or a manual compose)
--   IU005  a feature gate is closed (fn_iu_compose refuses)
--   IU006  unknown feature gate key
--   IU007  lineage origin is neither 'manual' nor 'auto'
--   IU008  unknown collection id
--   IU009  an argument is longer than its limit
--   IU010  lineage endpoints are the wrong kind (template vs instance)
--   IU011  the instance already has a lineage row
-- And one standard code: 40001 (serialization_failure) for a replay whose log row a
-- concurrent rollback removed while the call ran (retry it).

-- Conventions of the function files:
-- * Public functions take the SPEC's parameter names, so callers may pass them
--   by name (dry_run => false); inside they are aliased p_*, with
--   #variable_conflict use_column so a column is never read as a parameter.
-- * Point-lookup functions carry planner settings; see 060_auto_instantiate.sql.

CREATE SCHEMA IF NOT EXISTS iu_core;

COMMENT ON SCHEMA iu_core IS
    'information units composed into piece collections from templates (see harness/sql/000_schema.sql for error codes)';
