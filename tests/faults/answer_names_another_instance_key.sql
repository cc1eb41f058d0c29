-- answer_names_another_instance_key.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the 'ok' answer names an instance key that is not 'tpl-inst:auto:' || suffix (the
-- rows written are right). Must be caught by: answers_as_spec_derives.
-- Violates: [S1.orch.keys], [S1.orch.answer]
-- Caught by: answers_as_spec_derives

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT CASE WHEN answer->>'status' = 'ok'
                THEN answer || jsonb_build_object('instance_key', 'tpl-inst:' || suffix)   -- FAULT
                ELSE answer END
$$;

\ir lib/wrap_orchestrator_answer.sql
