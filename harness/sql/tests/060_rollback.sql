-- 060_rollback.sql
-- fn_iu_auto_instantiate_rollback_by_actor (070_rollback.sql): its targets and
-- counts, the keys of every answer, which rows a real run locks (xmax of this
-- transaction) and deletes, and its refusals.

DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:test:rb', 'file', 3);
    v_other_template uuid := pg_temp.new_template('tpl:test:rb-other', 'workflow', 2);
    v_a1 uuid;
    v_a2 uuid;
    v_b1 uuid;
    v_manual uuid;
    v_targets jsonb;
    v_answer jsonb;
BEGIN
    PERFORM iu_core.fn_iu_set_gates(true);
    v_a2 := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:test:rb', 'rb-a2', 'actor-a')->>'instance_id')::uuid;
    v_a1 := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:test:rb', 'rb-a1', 'actor-a')->>'instance_id')::uuid;
    v_b1 := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:test:rb', 'rb-b1', 'actor-b')->>'instance_id')::uuid;
    v_manual := iu_core.fn_iu_compose('tpl:test:rb', 'tpl-inst:manual:rb-m', 'actor-a');
    PERFORM iu_core.fn_iu_collection_record_template_instance(v_template, v_manual, 'actor-a', 'manual');
    -- A log row of actor-a that points at a template: never a target.
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode, idempotency_key,
         template_digest, instance_digest)
    VALUES (gen_random_uuid(), 'e', 'tpl:test:rb', v_other_template, 'actor-a', 'live', 'rb-planted', 'x', 'x');
    v_targets := to_jsonb(ARRAY(SELECT unnest(ARRAY[v_a1, v_a2]) ORDER BY 1));

    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor('actor-a');
    PERFORM pg_temp.expect_equal(v_answer,
        jsonb_build_object('status', 'dry_run', 'actor', 'actor-a', 'target_instance_ids', v_targets,
                           'would_delete_instance_collections', 2, 'would_delete_lineage_rows', 2,
                           'would_delete_log_rows', 2, 'would_delete_membership_rows', 6), 'the dry run answer');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE xmax = pg_temp.my_xid()), 0::bigint, 'log rows a dry run locked');
    PERFORM pg_temp.expect_equal(iu_core.fn_iu_auto_instantiate_rollback_by_actor('nobody', false),
        jsonb_build_object('status', 'noop', 'actor', 'nobody', 'dry_run', false, 'target_instance_ids', '[]'::jsonb),
        'the noop answer');

    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor('actor-a', false);
    PERFORM pg_temp.expect_equal(v_answer,
        jsonb_build_object('status', 'ok', 'actor', 'actor-a', 'target_instance_ids', v_targets,
                           'deleted_instance_collections', 2, 'deleted_lineage_rows', 2,
                           'deleted_log_rows', 2, 'deleted_membership_rows', 6), 'the real run answer');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE actor <> 'actor-a' AND xmax = pg_temp.my_xid()), 0::bigint,
                                 'other actors'' log rows a real run locked');
    PERFORM pg_temp.expect_equal(
        (SELECT count(*) FROM iu_core.iu_piece_collection WHERE id IN (v_a1, v_a2)) +
        (SELECT count(*) FROM iu_core.iu_piece_membership WHERE collection_id IN (v_a1, v_a2)) +
        (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id IN (v_a1, v_a2)) +
        (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE instance_collection_id IN (v_a1, v_a2)),
        0::bigint, 'rows of the targets left');
    PERFORM pg_temp.expect_equal(
        (SELECT count(*) FROM iu_core.iu_piece_collection WHERE id IN (v_b1, v_manual, v_template, v_other_template)),
        4::bigint, 'collections spared');
    PERFORM pg_temp.expect_equal(
        (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE idempotency_key = 'rb-planted'
                                                                       OR instance_collection_id = v_b1)
        + (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id IN (v_b1, v_manual)),
        4::bigint, 'log and lineage rows spared');
    PERFORM pg_temp.expect_equal(iu_core.fn_iu_auto_instantiate_rollback_by_actor('actor-a', false)->>'status', 'noop',
                                 'a second real run');

    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(' ')$q$, 'IU001', 'argument actor');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(NULL)$q$, 'IU001', 'argument actor');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('actor-b', NULL)$q$, 'IU001',
                                 'argument dry_run');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = 'actor-b'),
                                 1::bigint, 'log rows of actor-b after the refusals');
END;
$$;
