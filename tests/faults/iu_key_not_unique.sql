-- iu_key_not_unique.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: iu_core.iu.iu_key is no longer unique (SPEC section 1: `iu_key text unique`). No
-- function of a scaleout writes an iu row, so only the catalogue shows it.
-- Must be caught by: spec_catalog. The unique constraint or index is found in the catalogue,
-- whatever the build named it.
-- Violates: [S1.tbl.iu]
-- Caught by: spec_catalog

DO $$
DECLARE
    v_index regclass;
    v_constraint text;
BEGIN
    SELECT i.indexrelid::regclass INTO v_index
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = 'iu_core.iu'::regclass AND i.indisunique AND i.indnatts = 1 AND a.attname = 'iu_key';
    SELECT conname INTO v_constraint FROM pg_constraint WHERE conindid = v_index AND contype IN ('u', 'p');
    IF v_constraint IS NOT NULL THEN
        EXECUTE format('ALTER TABLE iu_core.iu DROP CONSTRAINT %I', v_constraint);            -- FAULT
    ELSE
        EXECUTE format('DROP INDEX %s', v_index);                                             -- FAULT
    END IF;
END;
$$;
