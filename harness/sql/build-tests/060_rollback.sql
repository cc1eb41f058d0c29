-- 060_rollback.sql
-- fn_iu_auto_instantiate_rollback_by_actor (070_rollback.sql): its targets and
-- counts, the keys of every answer, which rows a real run locks (xmax of this
-- transaction: all of its actor's log rows, no other's; a dry run none) and
-- deletes, and its refusals.

DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:rb', 'file', 3);
    v_other_template uuid := pg_temp.new_template('tpl:iu-build-test:rb-other', 'workflow', 2);
    v_a1 uuid;
    v_a2 uuid;
    v_b1 uuid;
    v_manual uuid;
    v_targets jsonb;
    v_answer jsonb;
BEGIN
    PERFORM iu_core.fn_iu_set_gates(true);
    v_a2 := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:iu-build-test:rb', 'iu-build-test-rb-a2', 'iu-build-test:actor-a')->>'instance_id')::uuid;
    v_a1 := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:iu-build-test:rb', 'iu-build-test-rb-a1', 'iu-build-test:actor-a')->>'instance_id')::uuid;
    v_b1 := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:iu-build-test:rb', 'iu-build-test-rb-b1', 'iu-build-test:actor-b')->>'instance_id')::uuid;
    v_manual := iu_core.fn_iu_compose('tpl:iu-build-test:rb', 'tpl-inst:manual:iu-build-test-rb-m', 'iu-build-test:actor-a');
    PERFORM iu_core.fn_iu_collection_record_template_instance(v_template, v_manual, 'iu-build-test:actor-a', 'manual');
    -- A log row of actor-a that points at a template: never a target.
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode, idempotency_key,
         template_digest, instance_digest)
    VALUES (gen_random_uuid(), 'e', 'tpl:iu-build-test:rb', v_other_template, 'iu-build-test:actor-a', 'live', 'iu-build-test:rb-planted', 'x', 'x');
    v_targets := to_jsonb(ARRAY(SELECT unnest(ARRAY[v_a1, v_a2]) ORDER BY 1));

    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:actor-a');
    PERFORM pg_temp.expect_equal(v_answer,
        jsonb_build_object('status', 'dry_run', 'actor', 'iu-build-test:actor-a', 'target_instance_ids', v_targets,
                           'would_delete_instance_collections', 2, 'would_delete_lineage_rows', 2,
                           'would_delete_log_rows', 2, 'would_delete_membership_rows', 6), 'the dry run answer');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE xmax = pg_temp.my_xid()), 0::bigint, 'log rows a dry run locked');
    PERFORM pg_temp.expect_equal(iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:nobody', false),
        jsonb_build_object('status', 'noop', 'actor', 'iu-build-test:nobody', 'dry_run', false, 'target_instance_ids', '[]'::jsonb),
        'the noop answer');

    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:actor-a', false);
    PERFORM pg_temp.expect_equal(v_answer,
        jsonb_build_object('status', 'ok', 'actor', 'iu-build-test:actor-a', 'target_instance_ids', v_targets,
                           'deleted_instance_collections', 2, 'deleted_lineage_rows', 2,
                           'deleted_log_rows', 2, 'deleted_membership_rows', 6), 'the real run answer');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE actor <> 'iu-build-test:actor-a' AND xmax = pg_temp.my_xid()), 0::bigint,
                                 'other actors'' log rows a real run locked');
    -- It locked every log row of its actor first, the one it does not delete too (a second rollback of
    -- the actor waits there, then finds its rows gone).
    PERFORM pg_temp.expect((SELECT xmax FROM iu_core.iu_auto_instantiate_event_log
                             WHERE idempotency_key = 'iu-build-test:rb-planted') = pg_temp.my_xid(),
                           'the real run locked its actor''s log row that points at a template');
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
        (SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE idempotency_key = 'iu-build-test:rb-planted'
                                                                       OR instance_collection_id = v_b1)
        + (SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id IN (v_b1, v_manual)),
        4::bigint, 'log and lineage rows spared');
    PERFORM pg_temp.expect_equal(iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:actor-a', false)->>'status', 'noop',
                                 'a second real run');

    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(' ')$q$, 'IU001', 'argument actor');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor(NULL)$q$, 'IU001', 'argument actor');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:actor-b', NULL)$q$, 'IU001',
                                 'argument dry_run');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = 'iu-build-test:actor-b'),
                                 1::bigint, 'log rows of actor-b after the refusals');
END;
$$;

-- Our build SPARES (rather than refuses on) an actor's instance that another actor's log row points
-- at, that has manual lineage, or another actor's lineage: states no SPEC function writes, so the
-- SPEC-level probe accepts a refusal that changes nothing; this build's own choice is to leave them
-- out of the targets and roll back the rest, which only a test of this build can hold it to.
DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:rb-spare', 'file', 2);
    v_plain uuid;
    v_shared uuid;
    v_manual uuid;
    v_foreign uuid;
    v_answer jsonb;
BEGIN
    PERFORM iu_core.fn_iu_set_gates(true);
    v_plain := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:iu-build-test:rb-spare', 'iu-build-test-sp-1', 'iu-build-test:actor-c')->>'instance_id')::uuid;
    v_shared := (iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:iu-build-test:rb-spare', 'iu-build-test-sp-2', 'iu-build-test:actor-c')->>'instance_id')::uuid;
    PERFORM iu_core.fn_iu_auto_instantiate_from_event(gen_random_uuid(), 'e', 'tpl:iu-build-test:rb-spare', 'iu-build-test-sp-3', 'iu-build-test:actor-f');
    v_manual := iu_core.fn_iu_compose('tpl:iu-build-test:rb-spare', 'tpl-inst:manual:iu-build-test-sp-m', 'iu-build-test:actor-c');
    PERFORM iu_core.fn_iu_collection_record_template_instance(v_template, v_manual, 'iu-build-test:actor-c', 'manual');
    v_foreign := iu_core.fn_iu_compose('tpl:iu-build-test:rb-spare', 'tpl-inst:manual:iu-build-test-sp-e', 'iu-build-test:actor-e');
    PERFORM iu_core.fn_iu_collection_record_template_instance(v_template, v_foreign, 'iu-build-test:actor-e', 'auto');
    -- Planted log rows: actor-d's on actor-c's instance; actor-c's on the manual and on actor-e's instance.
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode, idempotency_key,
         template_digest, instance_digest)
    VALUES (gen_random_uuid(), 'e', 'tpl:iu-build-test:rb-spare', v_shared, 'iu-build-test:actor-d', 'live', 'iu-build-test:sp-d', 'x', 'x'),
           (gen_random_uuid(), 'e', 'tpl:iu-build-test:rb-spare', v_manual, 'iu-build-test:actor-c', 'live', 'iu-build-test:sp-m', 'x', 'x'),
           (gen_random_uuid(), 'e', 'tpl:iu-build-test:rb-spare', v_foreign, 'iu-build-test:actor-c', 'live', 'iu-build-test:sp-e', 'x', 'x');

    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:actor-c');
    PERFORM pg_temp.expect_equal(v_answer -> 'target_instance_ids', jsonb_build_array(v_plain),
                                 'targets of actor-c: its plain instance only (shared, manual, foreign spared)');
    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor('iu-build-test:actor-c', false);
    PERFORM pg_temp.expect_equal(v_answer ->> 'status', 'ok', 'the real run rolls back the rest');
    PERFORM pg_temp.expect_equal(
        (SELECT count(*) FROM iu_core.iu_piece_collection WHERE id IN (v_shared, v_manual, v_foreign)),
        3::bigint, 'spared collections left');
END;
$$;
