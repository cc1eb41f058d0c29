-- instance_pieces_swapped.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: an 'ok' call's instance holds its template's pieces, but the IUs of its first two
-- positions are swapped (same rows per table, same IUs, another order).
-- Must be caught by: instances_reuse_template_pieces (digest_equality sees it too).
-- Violates: [S1.compose.instance]
-- Caught by: instances_reuse_template_pieces

CREATE FUNCTION iu_core.fault_on_answer(answer jsonb, event_id uuid, suffix text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF answer->>'status' = 'ok' THEN
        WITH two AS (
            SELECT m.position, m.iu_id FROM iu_core.iu_piece_membership m
             WHERE m.collection_id = (answer->>'instance_id')::uuid ORDER BY m.position LIMIT 2)
        UPDATE iu_core.iu_piece_membership m SET iu_id = o.iu_id                             -- FAULT
          FROM two a, two o
         WHERE m.collection_id = (answer->>'instance_id')::uuid AND m.position = a.position
           AND o.position <> a.position;
    END IF;
    RETURN answer;
END;
$$;

\ir lib/wrap_orchestrator_answer.sql
