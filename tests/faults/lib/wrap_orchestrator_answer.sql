-- lib/wrap_orchestrator_answer.sql: included (\ir) by the faults that change what the build's
-- orchestrator answered. Wraps it; the including file defines
-- iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) returns jsonb.

\ir keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE sql AS $$
    SELECT iu_core.fault_on_answer(iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6),
                                   $1, $4)
$$;
