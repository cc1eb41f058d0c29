-- log_row_records_another_digest.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the sidecar log row of an 'ok' call records another template digest than the template's
-- (the answer, the collections' stored digests and every other column are right).
-- Violates: [S1.orch.ok]
-- Caught by: digest_equality

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE iu_core.iu_auto_instantiate_event_log SET template_digest = left(md5(template_digest), 16)  -- FAULT
     WHERE idempotency_key = answer->>'idempotency_key' AND answer->>'status' = 'ok';
    RETURN answer;
END;
$$;

\ir lib/wrap_orchestrator_answer.sql
