-- lifecycle_iu_id_as_text.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: iu_core.iu_lifecycle_log.iu_id holds text, not uuid (its foreign keys go with it). No function
-- of a scaleout writes the table, so only the catalogue shows it.
-- Violates: [S1.tbl.lifecycle]
-- Caught by: spec_catalog

\ir lib/drop_foreign_keys.sql

SELECT iu_core.fault_drop_foreign_keys('iu_core.iu_lifecycle_log');
ALTER TABLE iu_core.iu_lifecycle_log ALTER COLUMN iu_id TYPE text USING iu_id::text;            -- FAULT
DROP FUNCTION iu_core.fault_drop_foreign_keys(regclass);
