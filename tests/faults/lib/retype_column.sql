-- lib/retype_column.sql: included (\ir) by the catalogue faults in the folder above.
-- iu_core.fault_retype_column(table, column) gives the column the type `name` (not a string type SPEC
-- allows; text still converts to it on assignment, so the build's own functions keep working). The
-- schema's views, which may read it, are dropped first and made again after, as they were defined.

CREATE FUNCTION iu_core.fault_retype_column(p_table regclass, p_column text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_views jsonb;
    v_view  jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', c.oid::regclass::text,
                                                 'definition', pg_get_viewdef(c.oid)) ORDER BY c.oid), '[]')
      INTO v_views
      FROM pg_class c WHERE c.relnamespace = 'iu_core'::regnamespace AND c.relkind = 'v';
    FOR v_view IN SELECT value FROM jsonb_array_elements(v_views) WITH ORDINALITY AS e(value, k) ORDER BY k DESC LOOP
        EXECUTE format('DROP VIEW %s', v_view->>'name');
    END LOOP;
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE name', p_table, p_column);
    FOR v_view IN SELECT value FROM jsonb_array_elements(v_views) LOOP
        EXECUTE format('CREATE VIEW %s AS %s', v_view->>'name', v_view->>'definition');
    END LOOP;
END;
$$;
