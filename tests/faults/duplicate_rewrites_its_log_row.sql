-- duplicate_rewrites_its_log_row.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a 'duplicate' answer is right, but the call rewrites the event's log row with the
-- values it already holds (an upsert-style "touch": a row lock, a dead tuple, its triggers
-- fired). Every SPEC column keeps its value, so no fingerprint of the rows sees it; SPEC says
-- a duplicate "writes nothing". Must be caught by: idempotent_replay (write counters).
-- Violates: [S1.orch.duplicate]
-- Caught by: idempotent_replay

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE iu_core.iu_auto_instantiate_event_log SET event_type = event_type                -- FAULT
     WHERE idempotency_key = answer->>'idempotency_key' AND answer->>'status' = 'duplicate';
    RETURN answer;
END;
$$;

\ir lib/wrap_orchestrator_answer.sql
