-- answer_digest_match_whenever_template_digest.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: an 'ok' answer's digest_match is true whenever it has a template digest, equal to its
-- instance digest or not (blind build mutant answer:and_or:L13C62, 'AND' -> 'OR'). A scaleout's
-- instances copy their templates' pieces, so its answers' digests are equal and look right; a
-- template whose piece's content hash changed after its digest was recorded shows it.
-- Violates: [S1.orch.answer]
-- Caught by: probe_digest_keyed_on_graph

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT CASE WHEN answer->>'status' = 'ok'
                THEN answer || jsonb_build_object('digest_match',                               -- FAULT
                                                  answer->>'template_digest' IS NOT NULL)
                ELSE answer END
$$;

\ir lib/wrap_orchestrator_answer.sql
