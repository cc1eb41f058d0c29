-- after-25000x.sql
-- Loads: the state the 25000x report ends in and the 50000x report starts
--        from (SPEC section 2): iu=175, iu_piece_collection=24,
--        iu_piece_membership=118, iu_lifecycle_log=146,
--        iu_vector_sync_point=152, lineage=17, auto log=13.
-- Needs: the iu_core schema; includes before-25000x.sql (psql's \ir, which
--        the harness's loader follows too).
-- The 25000x-06 driver with its synthetic event ids: 8 x tpl:wf:onboarding/v2
-- (25000b00-...-001..008) then 4 x tpl:file:status-report/v2 (25000b10-...-001..004).

\ir before-25000x.sql

DO $$
DECLARE
    v_result jsonb;
    v_item   record;
BEGIN
    PERFORM 1 FROM iu_core.iu_gate ORDER BY gate_key FOR UPDATE;  -- fixed order: no deadlock
    UPDATE iu_core.iu_gate SET enabled = true
     WHERE gate_key IN ('iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled');
    FOR v_item IN
        SELECT ('25000b00-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid AS event_id,
               'tpl:wf:onboarding/v2' AS template_key, '25000x-bulk-wf-v2-' || lpad(i::text, 2, '0') AS suffix
          FROM generate_series(1, 8) AS i
        UNION ALL
        SELECT ('25000b10-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
               'tpl:file:status-report/v2', '25000x-bulk-file-v2-' || lpad(i::text, 2, '0')
          FROM generate_series(1, 4) AS i
    LOOP
        v_result := iu_core.fn_iu_auto_instantiate_from_event(
            v_item.event_id, 'iu.template.instance_auto_composed', v_item.template_key,
            v_item.suffix, 'iu-core-25000x-bulk', 'live');
        IF v_result->>'status' <> 'ok' THEN
            RAISE EXCEPTION 'after-25000x: % for % returned %', v_item.suffix, v_item.template_key, v_result;
        END IF;
    END LOOP;
    UPDATE iu_core.iu_gate SET enabled = false
     WHERE gate_key IN ('iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled');
END;
$$;
