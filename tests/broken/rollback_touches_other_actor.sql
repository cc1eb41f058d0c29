-- tests/broken/rollback_touches_other_actor.sql
-- A deliberately BROKEN build of iu_core, loaded after the bundled schema
-- (DatabasePool with extra_sql=(this file,)); never ship it.
--
-- What is broken: the real run (dry_run => false) of
-- fn_iu_auto_instantiate_rollback_by_actor deletes the sidecar log rows of
-- every actor that used the same templates as the actor being rolled back,
-- then the lineage rows, memberships and instance collections of
-- all of them. The dry run is unchanged and still reports exactly the actor's
-- rows, so a check that trusts the dry run's numbers does not see it.
-- SPEC section 1: a rollback "never touches ... another actor's rows".
--
-- Must be caught by: tests/test_concurrency.py, rollback_race_problems()
-- (actor A's real rollback racing actor B's scaleout: A has no rows left, B
-- has all of its rows, and every row of neither A nor B - the after-25000x
-- baseline's bulk and durable actors - is untouched), checked by
-- test_rollback_touching_other_actors_is_caught.
--
-- The function below is 070_rollback.sql's, with only the real run's log and
-- lineage deletes changed (marked BROKEN ON PURPOSE).

CREATE OR REPLACE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(
    actor   text,
    dry_run   boolean DEFAULT true
) RETURNS jsonb
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p_actor ALIAS FOR $1;
    p_dry_run ALIAS FOR $2;
    c_fn CONSTANT text := 'fn_iu_auto_instantiate_rollback_by_actor';
    v_targets     uuid[];
    v_collections bigint;
    v_lineage     bigint;
    v_log         bigint;
    v_membership  bigint;
BEGIN
    PERFORM iu_core.fn_iu_require_text(c_fn, 'actor', p_actor);
    IF p_dry_run IS NULL THEN
        RAISE EXCEPTION '%: argument dry_run is required, got NULL', c_fn USING ERRCODE = 'IU001';
    END IF;

    -- Only non-template instances that no other actor's log row claims.
    v_targets := ARRAY(
        SELECT DISTINCT l.instance_collection_id
          FROM iu_core.iu_auto_instantiate_event_log l
          JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id AND NOT c.is_template
         WHERE l.actor = p_actor
           AND NOT EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log o
                            WHERE o.instance_collection_id = l.instance_collection_id
                              AND o.actor <> p_actor)
         ORDER BY 1);

    SELECT count(*) INTO v_log FROM iu_core.iu_auto_instantiate_event_log WHERE actor = p_actor;
    SELECT count(*) INTO v_lineage FROM iu_core.iu_collection_template_instance_lineage
     WHERE actor = p_actor AND origin = 'auto' AND instance_collection_id = ANY (v_targets);
    v_collections := cardinality(v_targets);
    SELECT count(*) INTO v_membership FROM iu_core.iu_piece_membership
     WHERE collection_id = ANY (v_targets);

    IF v_log = 0 AND v_collections = 0 THEN
        RETURN jsonb_build_object('status', 'noop', 'actor', p_actor, 'dry_run', p_dry_run,
                                  'target_instance_ids', '[]'::jsonb);
    END IF;

    IF p_dry_run THEN
        RETURN jsonb_build_object(
            'status', 'dry_run', 'actor', p_actor,
            'target_instance_ids', to_jsonb(v_targets),
            'would_delete_instance_collections', v_collections,
            'would_delete_lineage_rows', v_lineage,
            'would_delete_log_rows', v_log,
            'would_delete_membership_rows', v_membership);
    END IF;

    -- BROKEN ON PURPOSE: the log rows are addressed by the templates the actor
    -- used, not by the actor, and the instances to delete are taken from what
    -- that DELETE returned: every other actor's auto instances of those
    -- templates go too (and a scaleout that committed meanwhile loses rows).
    WITH gone AS (
        DELETE FROM iu_core.iu_auto_instantiate_event_log
         WHERE template_collection_key IN (SELECT template_collection_key
                                             FROM iu_core.iu_auto_instantiate_event_log
                                            WHERE actor = p_actor)
        RETURNING instance_collection_id)
    SELECT coalesce(array_agg(DISTINCT instance_collection_id ORDER BY instance_collection_id), '{}')
      INTO v_targets FROM gone;
    v_log := cardinality(v_targets);
    DELETE FROM iu_core.iu_collection_template_instance_lineage
     WHERE origin = 'auto' AND instance_collection_id = ANY (v_targets);
    GET DIAGNOSTICS v_lineage = ROW_COUNT;
    DELETE FROM iu_core.iu_piece_membership WHERE collection_id = ANY (v_targets);
    DELETE FROM iu_core.iu_piece_collection
     WHERE id = ANY (v_targets) AND NOT is_template;
    GET DIAGNOSTICS v_collections = ROW_COUNT;

    RETURN jsonb_build_object(
        'status', 'ok', 'actor', p_actor,
        'target_instance_ids', to_jsonb(v_targets),
        'deleted_instance_collections', v_collections,
        'deleted_lineage_rows', v_lineage,
        'deleted_log_rows', v_log,
        'deleted_membership_rows', v_membership);
END;
$$;
