-- collection_column_not_text.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: iu_core.iu_piece_collection.kind is of type name, not text (SPEC: kind text).
-- The build's functions still work (text converts to name on assignment); the catalogue shows it.
-- Violates: [S1.tbl.collection]
-- Caught by: spec_catalog

\ir lib/retype_column.sql

SELECT iu_core.fault_retype_column('iu_core.iu_piece_collection', 'kind');  -- FAULT
DROP FUNCTION iu_core.fault_retype_column(regclass, text);
