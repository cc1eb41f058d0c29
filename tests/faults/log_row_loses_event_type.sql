-- log_row_loses_event_type.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the sidecar log row records another event type than the call's (answers, counts and
-- digests are right). Must be caught by: rows_match_calls.
-- Violates: [S1.orch.ok]
-- Caught by: rows_match_calls

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE iu_core.iu_auto_instantiate_event_log SET event_type = 'iu.unknown'                -- FAULT
     WHERE idempotency_key = answer->>'idempotency_key' AND answer->>'status' = 'ok';
    RETURN answer;
END;
$$;

\ir lib/wrap_orchestrator_answer.sql
