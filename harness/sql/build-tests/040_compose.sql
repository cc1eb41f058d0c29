-- 040_compose.sql
-- fn_iu_compose, fn_iu_compose_claim and fn_iu_collection_record_template_instance
-- (050_compose.sql): what they write, and the SQLSTATE of each refusal.

DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:compose', 'workflow', 4);
    v_instance uuid;
    v_claimed  record;
    v_lineage  bigint;
BEGIN
    -- Closed gate: IU005, nothing written.
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose('tpl:iu-build-test:compose', 'tpl-inst:manual:iu-build-test-t1', 'iu-build-test:tester')$q$,
                                 'IU005', 'composer_enabled is closed');
    PERFORM iu_core.fn_iu_set_gates(true, ARRAY['iu_core.composer_enabled']);

    v_instance := iu_core.fn_iu_compose('tpl:iu-build-test:compose', 'tpl-inst:manual:iu-build-test-t1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s/%s/%s/%s', kind, is_template, created_by, manifest_digest)
           FROM iu_core.iu_piece_collection WHERE id = v_instance),
        format('workflow/f/iu-build-test:tester/%s', iu_core.fn_iu_manifest_digest(v_template)), 'the composed instance');
    PERFORM pg_temp.expect_equal(
        (SELECT string_agg(position || ':' || iu_id, ',' ORDER BY position) FROM iu_core.iu_piece_membership
          WHERE collection_id = v_instance),
        (SELECT string_agg(position || ':' || iu_id, ',' ORDER BY position) FROM iu_core.iu_piece_membership
          WHERE collection_id = v_template), 'the instance reuses the template''s pieces');

    -- Refusals, each with its SQLSTATE, each writing nothing.
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose('tpl:iu-build-test:compose', 'tpl-inst:manual:iu-build-test-t1', 'iu-build-test:tester')$q$,
                                 'IU004', 'already exists');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose('tpl:iu-build-test:nope', 'tpl-inst:manual:iu-build-test-t2', 'iu-build-test:tester')$q$,
                                 'IU002', 'unknown template');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose('tpl-inst:manual:iu-build-test-t1', 'tpl-inst:manual:iu-build-test-t3', 'iu-build-test:tester')$q$,
                                 'IU002', 'is an instance');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose(' ', 'tpl-inst:manual:iu-build-test-t4', 'iu-build-test:tester')$q$, 'IU001', 'template_key');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose('tpl:iu-build-test:compose', ' ', 'iu-build-test:tester')$q$, 'IU001', 'instance_key');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose('tpl:iu-build-test:compose', 'tpl-inst:manual:iu-build-test-t5', ' ')$q$, 'IU001', 'actor');
    PERFORM pg_temp.expect_error($q$SELECT iu_core.fn_iu_compose(NULL, 'tpl-inst:manual:iu-build-test-t6', 'iu-build-test:tester')$q$, 'IU001');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_piece_collection WHERE collection_key LIKE 'tpl-inst:manual:iu-build-test-t%'),
                                 1::bigint, 'instances after the refusals');

    -- The internal claim refuses anything but a template of the given kind, and answers NULLs for a taken key.
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_compose_claim(%L, %L, %L, %L)', v_instance, 'workflow',
                                        'tpl-inst:manual:iu-build-test-t7', 'iu-build-test:tester'), 'IU002', 'is not a template');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_compose_claim(%L, %L, %L, %L)', v_template, 'file',
                                        'tpl-inst:manual:iu-build-test-t8', 'iu-build-test:tester'), 'IU002', 'is not a template');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_compose_claim(%L, %L, %L, %L)', gen_random_uuid(),
                                        'workflow', 'tpl-inst:manual:iu-build-test-t9', 'iu-build-test:tester'), 'IU002');
    SELECT * INTO v_claimed FROM iu_core.fn_iu_compose_claim(v_template, 'workflow', 'tpl-inst:manual:iu-build-test-t1', 'iu-build-test:tester');
    PERFORM pg_temp.expect(v_claimed.claimed_id IS NULL AND v_claimed.claimed_digest IS NULL,
                           'a taken key is not claimed again');

    -- Lineage: one row per instance, both endpoints checked.
    v_lineage := iu_core.fn_iu_collection_record_template_instance(v_template, v_instance, 'iu-build-test:tester', 'manual');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s/%s/%s/%s', template_collection_id, instance_collection_id, origin, actor)
           FROM iu_core.iu_collection_template_instance_lineage WHERE id = v_lineage),
        format('%s/%s/manual/iu-build-test:tester', v_template, v_instance), 'the lineage row');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        v_template, v_instance, 'iu-build-test:tester', 'manual'), 'IU011', 'already has a lineage row');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(NULL, %L, %L, %L)',
                                        v_instance, 'iu-build-test:tester', 'manual'), 'IU001');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, NULL, %L, %L)',
                                        v_template, 'iu-build-test:tester', 'manual'), 'IU001');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        v_template, v_instance, ' ', 'manual'), 'IU001', 'actor');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        v_template, v_instance, 'iu-build-test:tester', 'other'), 'IU007', '''other''');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, NULL)',
                                        v_template, v_instance, 'iu-build-test:tester'), 'IU007');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        gen_random_uuid(), v_instance, 'iu-build-test:tester', 'manual'), 'IU008', 'as template');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        v_template, gen_random_uuid(), 'iu-build-test:tester', 'manual'), 'IU008', 'as instance');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        v_instance, v_instance, 'iu-build-test:tester', 'manual'), 'IU010');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_collection_record_template_instance(%L, %L, %L, %L)',
                                        v_template, v_template, 'iu-build-test:tester', 'manual'), 'IU010');
END;
$$;
