-- orchestrator_returns_errors.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: bad input is answered with a returned error object instead of an error, so the
-- caller's transaction goes on. A scaleout of valid events never notices.
-- Must be caught by: probe_bad_input.
-- Violates: [S1.orch.bad-input], [S1.orch.bad-input-atomic]
-- Caught by: probe_bad_input

\ir lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
EXCEPTION WHEN OTHERS THEN                                                     -- FAULT
    RETURN jsonb_build_object('status', 'error', 'sqlstate', SQLSTATE, 'message', SQLERRM);
END;
$$;
