-- orchestrator_opens_gates.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the orchestrator opens closed gates for itself, composes, then puts them back as
-- they were. Every scaleout (gates opened by the driver) looks right, and gates read closed
-- at rest; only a call made while a gate is closed shows it.
-- Must be caught by: probe_gated.
-- Violates: [S1.orch.gated]
-- Caught by: probe_gated

\ir lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_closed text[];
    v_answer jsonb;
BEGIN
    SELECT coalesce(array_agg(gate_key ORDER BY gate_key), '{}') INTO v_closed
      FROM iu_core.iu_gate WHERE NOT enabled;
    UPDATE iu_core.iu_gate SET enabled = true WHERE gate_key = ANY (v_closed);   -- FAULT
    v_answer := iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
    UPDATE iu_core.iu_gate SET enabled = false WHERE gate_key = ANY (v_closed);
    RETURN v_answer;
END;
$$;
