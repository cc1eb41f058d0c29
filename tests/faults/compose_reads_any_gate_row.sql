-- compose_reads_any_gate_row.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: fn_iu_compose reads the first gate row it meets, whichever gate that is (a lookup that lost
-- its WHERE gate_key = ..., independent build mutant fn_iu_compose:where_conjunct:L44C62), so with
-- iu_core.composer_enabled closed it composes whenever the other, open, gate row comes first.
-- Violates: [S1.compose.gate]
-- Caught by: probe_compose_and_lineage

ALTER FUNCTION iu_core.fn_iu_compose(text, text, text) RENAME TO fn_iu_compose_before_fault;

CREATE FUNCTION iu_core.fn_iu_compose(template_key text, instance_key text, actor text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_open boolean;
    v_was  boolean;
    v_id   uuid;
BEGIN
    SELECT enabled INTO v_open FROM iu_core.iu_gate LIMIT 1;                                -- FAULT
    IF v_open IS NOT TRUE THEN
        RAISE EXCEPTION 'fn_iu_compose: gate closed' USING ERRCODE = 'P0001';
    END IF;
    -- Past its own (wrong) gate check: the build's compose runs with its gate open.
    SELECT enabled INTO v_was FROM iu_core.iu_gate WHERE gate_key = 'iu_core.composer_enabled';
    UPDATE iu_core.iu_gate SET enabled = true WHERE gate_key = 'iu_core.composer_enabled';
    v_id := iu_core.fn_iu_compose_before_fault($1, $2, $3);
    UPDATE iu_core.iu_gate SET enabled = v_was WHERE gate_key = 'iu_core.composer_enabled';
    RETURN v_id;
END;
$$;
