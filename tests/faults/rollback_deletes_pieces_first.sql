-- rollback_deletes_pieces_first.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback deletes its targets' memberships first, then the build's rollback deletes the
-- rest; the answer still counts every row it deleted. The same rows go, in another order than SPEC's
-- sidecar log, lineage, instance collection, membership.
-- Violates: [S1.rollback.real]
-- Caught by: probe_rollback_race

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_pieces bigint := 0;
    v_answer jsonb;
BEGIN
    IF $2 IS FALSE THEN
        DELETE FROM iu_core.iu_piece_membership m                                         -- FAULT
         WHERE m.collection_id IN (
                 SELECT t::uuid FROM jsonb_array_elements_text(
                     iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, true)
                         -> 'target_instance_ids') AS t);
        GET DIAGNOSTICS v_pieces = ROW_COUNT;
    END IF;
    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
    IF $2 IS FALSE AND v_answer->>'status' = 'ok' THEN
        v_answer := v_answer || jsonb_build_object(
            'deleted_membership_rows', (v_answer->>'deleted_membership_rows')::bigint + v_pieces);
    END IF;
    RETURN v_answer;
END;
$$;
