-- duplicate_answer_drops_keys.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a 'duplicate' answer keeps the status and the original instance id but drops the
-- other keys SPEC requires. Must be caught by: idempotent_replay.
-- Violates: [S1.orch.duplicate]
-- Caught by: idempotent_replay

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT CASE WHEN answer->>'status' = 'duplicate'
                THEN answer - 'instance_key' - 'template_digest' - 'instance_digest'                -- FAULT
                ELSE answer END
$$;

\ir lib/wrap_orchestrator_answer.sql
