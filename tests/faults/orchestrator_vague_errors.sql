-- orchestrator_vague_errors.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: bad input still raises, with the build's own SQLSTATE, but every message is the same
-- "invalid input": it names neither the argument nor the value, so SPEC's "clear message" is
-- lost (as when a guard is gone and a constraint's own message is all the caller gets).
-- Must be caught by: probe_bad_input.
-- Violates: [S1.orch.bad-input-message]
-- Caught by: probe_bad_input

\ir lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
    RAISE EXCEPTION 'invalid input' USING ERRCODE = v_state;                   -- FAULT
END;
$$;
