-- log_column_not_text.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the sidecar log's emit_mode is of type name, not text (SPEC: emit_mode text).
-- The build's functions still work (text converts to name on assignment); the catalogue shows it.
-- Violates: [S1.tbl.log]
-- Caught by: spec_catalog

\ir lib/retype_column.sql

SELECT iu_core.fault_retype_column('iu_core.iu_auto_instantiate_event_log', 'emit_mode');  -- FAULT
DROP FUNCTION iu_core.fault_retype_column(regclass, text);
