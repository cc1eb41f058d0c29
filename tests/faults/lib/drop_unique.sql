-- lib/drop_unique.sql: included (\ir) by the catalogue faults in the folder above.
-- iu_core.fault_drop_unique(table, columns) drops the primary key, unique constraint or unique index
-- that is exactly on those columns, whatever the build named it (and what depends on it).

CREATE FUNCTION iu_core.fault_drop_unique(p_table regclass, p_columns text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_index      regclass;
    v_constraint text;
BEGIN
    SELECT i.indexrelid::regclass INTO v_index
      FROM pg_index i
     WHERE i.indrelid = p_table AND i.indisunique
       AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
             WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))
           = (SELECT array_agg(c ORDER BY c) FROM unnest(p_columns) c)
       AND i.indnatts = cardinality(p_columns);
    IF v_index IS NULL THEN
        RAISE EXCEPTION 'fault_drop_unique: no unique key on %(%)', p_table, array_to_string(p_columns, ', ');
    END IF;
    SELECT conname INTO v_constraint FROM pg_constraint WHERE conindid = v_index AND contype IN ('u', 'p');
    IF v_constraint IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I CASCADE', p_table, v_constraint);
    ELSE
        EXECUTE format('DROP INDEX %s CASCADE', v_index);
    END IF;
END;
$$;
