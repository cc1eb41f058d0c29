-- 070_rollback.sql
-- Deploys: iu_core.fn_iu_auto_instantiate_rollback_by_actor.
-- Needs:   010_tables.sql, 035_arguments.sql.
-- Addresses everything one actor's auto-instantiation wrote, through the
-- sidecar log. Dry run by default. A real run locks the actor's log rows, then
-- deletes exactly their sidecar log -> lineage -> instance collection ->
-- membership rows, each kind in one set-based statement (the last two in one
-- statement together), and never touches templates, iu, manual lineage or
-- another actor's rows. What remains per row is PostgreSQL's own foreign-key
-- check of each deleted collection, one query per key that references it.

-- The second parameter is named dry_run as in SPEC section 1, so callers can
-- write `dry_run => false`. (A parameter cannot be renamed by CREATE OR
-- REPLACE, hence the DROP, which keeps this file re-runnable.)
DROP FUNCTION IF EXISTS iu_core.fn_iu_auto_instantiate_rollback_by_actor(text, boolean);
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

    -- A real run first locks the actor's log rows (in id order): a second rollback of
    -- the same actor waits here and then finds them gone, and nothing can be deleted
    -- between the count and the delete below, which is restricted to the targets.
    IF NOT p_dry_run THEN
        PERFORM 1 FROM iu_core.iu_auto_instantiate_event_log WHERE actor = p_actor ORDER BY id FOR UPDATE;
    END IF;

    -- The targets: the actor's auto instances that are safe to remove (not a template,
    -- claimed by no other actor's log row, no lineage but this actor's auto lineage).
    v_targets := ARRAY(
        SELECT DISTINCT l.instance_collection_id
          FROM iu_core.iu_auto_instantiate_event_log l
          JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id AND NOT c.is_template
         WHERE l.actor = p_actor
           AND NOT EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log o
                            WHERE o.instance_collection_id = l.instance_collection_id AND o.actor <> p_actor)
           AND NOT EXISTS (SELECT 1 FROM iu_core.iu_collection_template_instance_lineage g
                            WHERE g.instance_collection_id = l.instance_collection_id
                              AND (g.actor <> p_actor OR g.origin <> 'auto'))
         ORDER BY 1);

    IF cardinality(v_targets) = 0 THEN
        RETURN jsonb_build_object('status', 'noop', 'actor', p_actor, 'dry_run', p_dry_run,
                                  'target_instance_ids', '[]'::jsonb);
    END IF;

    IF p_dry_run THEN
        SELECT count(*) INTO v_log FROM iu_core.iu_auto_instantiate_event_log
         WHERE actor = p_actor AND instance_collection_id = ANY (v_targets);
        SELECT count(*) INTO v_lineage FROM iu_core.iu_collection_template_instance_lineage
         WHERE actor = p_actor AND origin = 'auto' AND instance_collection_id = ANY (v_targets);
        SELECT count(*) INTO v_membership FROM iu_core.iu_piece_membership
         WHERE collection_id = ANY (v_targets);
        RETURN jsonb_build_object(
            'status', 'dry_run', 'actor', p_actor,
            'target_instance_ids', to_jsonb(v_targets),
            'would_delete_instance_collections', cardinality(v_targets),
            'would_delete_lineage_rows', v_lineage,
            'would_delete_log_rows', v_log,
            'would_delete_membership_rows', v_membership);
    END IF;

    DELETE FROM iu_core.iu_auto_instantiate_event_log
     WHERE actor = p_actor AND instance_collection_id = ANY (v_targets);
    GET DIAGNOSTICS v_log = ROW_COUNT;
    DELETE FROM iu_core.iu_collection_template_instance_lineage
     WHERE actor = p_actor AND origin = 'auto' AND instance_collection_id = ANY (v_targets);
    GET DIAGNOSTICS v_lineage = ROW_COUNT;
    -- The instance collections, then their memberships, in one statement: the
    -- membership's RESTRICT foreign key is checked at the statement's end, when both are gone.
    WITH collections AS (
        DELETE FROM iu_core.iu_piece_collection
         WHERE id = ANY (v_targets) AND NOT is_template
        RETURNING id
    ), memberships AS (
        DELETE FROM iu_core.iu_piece_membership m
         USING collections c
         WHERE m.collection_id = c.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM collections), (SELECT count(*) FROM memberships)
      INTO v_collections, v_membership;

    RETURN jsonb_build_object(
        'status', 'ok', 'actor', p_actor,
        'target_instance_ids', to_jsonb(v_targets),
        'deleted_instance_collections', v_collections,
        'deleted_lineage_rows', v_lineage,
        'deleted_log_rows', v_log,
        'deleted_membership_rows', v_membership);
END;
$$;
