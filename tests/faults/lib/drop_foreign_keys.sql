-- lib/drop_foreign_keys.sql: included (\ir) by the catalogue faults in the folder above.
-- iu_core.fault_drop_foreign_keys(table) drops the table's own foreign keys, whatever the build named them.

CREATE FUNCTION iu_core.fault_drop_foreign_keys(p_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_name text;
BEGIN
    FOR v_name IN SELECT conname FROM pg_constraint WHERE conrelid = p_table AND contype = 'f' LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', p_table, v_name);
    END LOOP;
END;
$$;
