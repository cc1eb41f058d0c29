-- orchestrator_one_sqlstate.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: bad input still raises with the build's own clear message, but every kind with one SQLSTATE
-- (P0001, plain RAISE's). SPEC: each kind of bad input has its own SQLSTATE.
-- Violates: [S1.orch.bad-input-sqlstate]
-- Caught by: probe_bad_input

\ir lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_message text;
BEGIN
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
    RAISE EXCEPTION '%', v_message USING ERRCODE = 'P0001';                                        -- FAULT
END;
$$;
