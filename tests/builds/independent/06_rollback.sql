-- 06_rollback.sql
-- Deploys: iu_core.fn_iu_auto_instantiate_rollback_by_actor.
-- Needs:   02_relations.sql, 01_namespace.sql (iu_is_blank).
--
-- Addresses what one actor's auto-instantiation wrote, through the sidecar log.
-- Targets: instance collections (never templates) named by the actor's log
-- rows, that no other actor's log row names and whose only lineage is the
-- actor's own 'auto' lineage. A dry run (the default) counts and changes
-- nothing. A real run first locks the targets' log and collection rows (in
-- instance id order, so two rollbacks of one actor queue instead of
-- deadlocking; the second then finds nothing and answers 'noop'), then deletes
-- exactly: sidecar log -> lineage -> instance collection -> membership, one
-- statement each, the membership FK deferred between the last two.

-- The parameter is named dry_run (SPEC) and a parameter cannot be renamed by
-- CREATE OR REPLACE: DROP first keeps this file re-runnable.
DROP FUNCTION IF EXISTS iu_core.fn_iu_auto_instantiate_rollback_by_actor(text, boolean);
CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(
    actor   text,
    dry_run boolean DEFAULT true
) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    arg_actor   text := actor;
    arg_dry_run boolean := dry_run;
    targets     uuid[];
    n_log       bigint;
    n_lineage   bigint;
    n_coll      bigint;
    n_members   bigint;
BEGIN
    IF iu_core.iu_is_blank(arg_actor) THEN
        RAISE EXCEPTION 'fn_iu_auto_instantiate_rollback_by_actor: actor must be a non-blank text, got %',
            quote_nullable(arg_actor) USING ERRCODE = 'XBNUL';
    ELSIF arg_dry_run IS NULL THEN
        RAISE EXCEPTION 'fn_iu_auto_instantiate_rollback_by_actor: dry_run must be true or false, got NULL'
            USING ERRCODE = 'XBNUL';
    END IF;

    IF NOT arg_dry_run THEN
        PERFORM 1
           FROM iu_core.iu_auto_instantiate_event_log l
           JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id
          WHERE l.actor = arg_actor AND NOT c.is_template
          ORDER BY l.instance_collection_id
            FOR UPDATE OF l, c;
    END IF;

    targets := ARRAY(
        SELECT DISTINCT l.instance_collection_id
          FROM iu_core.iu_auto_instantiate_event_log l
          JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id AND NOT c.is_template
         WHERE l.actor = arg_actor
           AND NOT EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log other
                            WHERE other.instance_collection_id = l.instance_collection_id
                              AND other.actor <> arg_actor)
           AND NOT EXISTS (SELECT 1 FROM iu_core.iu_collection_template_instance_lineage g
                            WHERE g.instance_collection_id = l.instance_collection_id
                              AND (g.origin <> 'auto' OR g.actor <> arg_actor))
         ORDER BY 1);

    IF arg_dry_run THEN
        SELECT count(*) INTO n_log
          FROM unnest(targets) AS t(id)
          JOIN iu_core.iu_auto_instantiate_event_log l ON l.instance_collection_id = t.id AND l.actor = arg_actor;
        SELECT count(*) INTO n_lineage
          FROM unnest(targets) AS t(id)
          JOIN iu_core.iu_collection_template_instance_lineage g
            ON g.instance_collection_id = t.id AND g.actor = arg_actor AND g.origin = 'auto';
        SELECT count(*) INTO n_members
          FROM unnest(targets) AS t(id)
          JOIN iu_core.iu_piece_membership m ON m.collection_id = t.id;
        RETURN jsonb_build_object(
            'status', 'dry_run',
            'actor', arg_actor,
            'target_instance_ids', to_jsonb(targets),
            'would_delete_instance_collections', cardinality(targets),
            'would_delete_lineage_rows', n_lineage,
            'would_delete_log_rows', n_log,
            'would_delete_membership_rows', n_members);
    END IF;

    IF cardinality(targets) = 0 THEN
        RETURN jsonb_build_object(
            'status', 'noop', 'actor', arg_actor, 'target_instance_ids', '[]'::jsonb,
            'deleted_instance_collections', 0, 'deleted_lineage_rows', 0,
            'deleted_log_rows', 0, 'deleted_membership_rows', 0);
    END IF;

    DELETE FROM iu_core.iu_auto_instantiate_event_log l
     USING unnest(targets) AS t(id)
     WHERE l.instance_collection_id = t.id AND l.actor = arg_actor;
    GET DIAGNOSTICS n_log = ROW_COUNT;

    DELETE FROM iu_core.iu_collection_template_instance_lineage g
     USING unnest(targets) AS t(id)
     WHERE g.instance_collection_id = t.id AND g.actor = arg_actor AND g.origin = 'auto';
    GET DIAGNOSTICS n_lineage = ROW_COUNT;

    SET CONSTRAINTS iu_core.iu_piece_membership_collection_fk DEFERRED;
    DELETE FROM iu_core.iu_piece_collection c
     USING unnest(targets) AS t(id)
     WHERE c.id = t.id AND NOT c.is_template;
    GET DIAGNOSTICS n_coll = ROW_COUNT;

    DELETE FROM iu_core.iu_piece_membership m
     USING unnest(targets) AS t(id)
     WHERE m.collection_id = t.id;
    GET DIAGNOSTICS n_members = ROW_COUNT;
    -- Checks now (not at COMMIT) that no membership is left without its collection.
    SET CONSTRAINTS iu_core.iu_piece_membership_collection_fk IMMEDIATE;

    RETURN jsonb_build_object(
        'status', 'ok',
        'actor', arg_actor,
        'target_instance_ids', to_jsonb(targets),
        'deleted_instance_collections', n_coll,
        'deleted_lineage_rows', n_lineage,
        'deleted_log_rows', n_log,
        'deleted_membership_rows', n_members);
END;
$$;
