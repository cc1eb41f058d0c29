-- rollback_misses_a_row.sql: a deliberately broken iu_core build (test fixture).
-- Bug: the real rollback forgets the actor's newest sidecar log row (and so
-- cannot delete that instance either), leaving part of the scaleout behind.
-- Must be caught by: rollback_restores_pre_state (tests/test_broken_builds.py).

CREATE OR REPLACE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(
    actor   text,
    dry_run boolean DEFAULT true
) RETURNS jsonb
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p_actor ALIAS FOR $1;
    p_dry_run ALIAS FOR $2;
    v_keep     bigint;
    v_targets  uuid[];
    v_log      bigint;
    v_lineage  bigint;
    v_coll     bigint;
    v_memb     bigint;
BEGIN
    SELECT max(id) INTO v_keep FROM iu_core.iu_auto_instantiate_event_log WHERE actor = p_actor;
    v_targets := ARRAY(SELECT instance_collection_id FROM iu_core.iu_auto_instantiate_event_log
                        WHERE actor = p_actor ORDER BY 1);
    IF p_dry_run THEN
        SELECT count(*) INTO v_memb FROM iu_core.iu_piece_membership WHERE collection_id = ANY (v_targets);
        RETURN jsonb_build_object('status', 'dry_run', 'actor', p_actor, 'target_instance_ids', to_jsonb(v_targets),
            'would_delete_instance_collections', cardinality(v_targets),
            'would_delete_lineage_rows', cardinality(v_targets), 'would_delete_log_rows', cardinality(v_targets),
            'would_delete_membership_rows', v_memb);
    END IF;
    v_targets := ARRAY(SELECT instance_collection_id FROM iu_core.iu_auto_instantiate_event_log
                        WHERE actor = p_actor AND id <> v_keep);
    SELECT count(*) INTO v_memb FROM iu_core.iu_piece_membership WHERE collection_id = ANY (v_targets);
    DELETE FROM iu_core.iu_auto_instantiate_event_log WHERE actor = p_actor AND id <> v_keep;
    GET DIAGNOSTICS v_log = ROW_COUNT;
    DELETE FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id = ANY (v_targets);
    GET DIAGNOSTICS v_lineage = ROW_COUNT;
    DELETE FROM iu_core.iu_piece_membership WHERE collection_id = ANY (v_targets);
    DELETE FROM iu_core.iu_piece_collection WHERE id = ANY (v_targets);
    GET DIAGNOSTICS v_coll = ROW_COUNT;
    RETURN jsonb_build_object('status', 'ok', 'actor', p_actor, 'deleted_instance_collections', v_coll,
        'deleted_lineage_rows', v_lineage, 'deleted_log_rows', v_log, 'deleted_membership_rows', v_memb);
END;
$$;
