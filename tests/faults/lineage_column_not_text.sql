-- lineage_column_not_text.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the lineage table's origin is of type name, not text (SPEC: origin text).
-- The build's functions still work (text converts to name on assignment); the catalogue shows it.
-- Violates: [S1.tbl.lineage]
-- Caught by: spec_catalog

\ir lib/retype_column.sql

SELECT iu_core.fault_retype_column('iu_core.iu_collection_template_instance_lineage', 'origin');  -- FAULT
DROP FUNCTION iu_core.fault_retype_column(regclass, text);
