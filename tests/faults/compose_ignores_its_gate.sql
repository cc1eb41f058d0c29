-- compose_ignores_its_gate.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: fn_iu_compose opens iu_core.composer_enabled for itself and closes it again, so it
-- composes while the gate is closed. The orchestrator path is untouched.
-- Must be caught by: probe_compose_and_lineage.
-- Violates: [S1.compose.gate]
-- Caught by: probe_compose_and_lineage

ALTER FUNCTION iu_core.fn_iu_compose(text, text, text) RENAME TO fn_iu_compose_before_fault;

CREATE FUNCTION iu_core.fn_iu_compose(template_key text, instance_key text, actor text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_was boolean;
    v_id  uuid;
BEGIN
    SELECT enabled INTO v_was FROM iu_core.iu_gate WHERE gate_key = 'iu_core.composer_enabled';
    UPDATE iu_core.iu_gate SET enabled = true WHERE gate_key = 'iu_core.composer_enabled';     -- FAULT
    v_id := iu_core.fn_iu_compose_before_fault($1, $2, $3);
    UPDATE iu_core.iu_gate SET enabled = v_was WHERE gate_key = 'iu_core.composer_enabled';
    RETURN v_id;
END;
$$;
