-- 050_orchestrator.sql
-- fn_iu_auto_instantiate_from_event (060_auto_instantiate.sql): the rows and
-- answers of each status, the order of its checks, and the SQLSTATE of every
-- kind of bad input (000_schema.sql lists them).

DO $$
DECLARE
    c_event   constant uuid := '00000000-0000-4000-8000-000000000001';
    v_template uuid := pg_temp.new_template('tpl:test:orch', 'file', 3);
    v_digest  text := iu_core.fn_iu_manifest_digest(v_template);
    v_ok      jsonb;
    v_again   jsonb;
    v_answer  jsonb;
    v_other   uuid;
BEGIN
    -- Gated, in gate_key order, writing nothing.
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o1', 'tester');
    PERFORM pg_temp.expect_equal(v_answer->>'status' || '/' || (v_answer->>'gate'), 'gated/iu_core.auto_instantiate_enabled',
                                 'answer with both gates closed');
    PERFORM pg_temp.expect(v_answer ? 'instance_id' AND v_answer->'instance_id' = 'null'::jsonb, 'a gated answer has no instance');
    PERFORM iu_core.fn_iu_set_gates(true, ARRAY['iu_core.auto_instantiate_enabled']);
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o1', 'tester');
    PERFORM pg_temp.expect_equal(v_answer->>'status' || '/' || (v_answer->>'gate'), 'gated/iu_core.composer_enabled',
                                 'answer with the composer gate closed');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = 'tester'),
                                 0::bigint, 'log rows after gated calls');
    PERFORM iu_core.fn_iu_set_gates(true);

    -- ok: the answer and every row.
    v_ok := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o1', 'tester');
    PERFORM pg_temp.expect_equal(v_ok - 'instance_id',
        jsonb_build_object('status', 'ok', 'instance_key', 'tpl-inst:auto:o1',
                           'idempotency_key', md5(c_event::text || ':tpl:test:orch:o1'),
                           'template_digest', v_digest, 'instance_digest', v_digest, 'digest_match', true),
        'the ok answer');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s|%s|%s|%s|%s|%s|%s|%s', l.event_id, l.event_type, l.template_collection_key, l.actor,
                       l.emit_mode, l.idempotency_key, l.template_digest, l.instance_digest)
           FROM iu_core.iu_auto_instantiate_event_log l WHERE l.instance_collection_id = (v_ok->>'instance_id')::uuid),
        format('%s|test.event|tpl:test:orch|tester|live|%s|%s|%s', c_event, v_ok->>'idempotency_key', v_digest, v_digest),
        'the log row');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s|%s|%s', template_collection_id, origin, actor)
           FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id = (v_ok->>'instance_id')::uuid),
        format('%s|auto|tester', v_template), 'the lineage row');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s|%s|%s|%s', collection_key, kind, is_template, manifest_digest)
           FROM iu_core.iu_piece_collection WHERE id = (v_ok->>'instance_id')::uuid),
        format('tpl-inst:auto:o1|file|f|%s', v_digest), 'the instance');

    -- duplicate: the same answer but the status, with gates open or closed, writing nothing.
    v_again := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o1', 'tester');
    PERFORM pg_temp.expect_equal(v_again, jsonb_set(v_ok, '{status}', '"duplicate"'), 'the duplicate answer');
    PERFORM iu_core.fn_iu_set_gates(false);
    v_again := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o1', 'tester');
    PERFORM pg_temp.expect_equal(v_again, jsonb_set(v_ok, '{status}', '"duplicate"'),
                                 'a duplicate is answered before the gates are looked at');
    PERFORM iu_core.fn_iu_set_gates(true);

    -- Another emit mode is stored as given.
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o2', 'tester', 'backfill');
    PERFORM pg_temp.expect_equal((SELECT emit_mode FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE idempotency_key = v_answer->>'idempotency_key'), 'backfill', 'emit mode stored');
    -- Arguments of up to 512 characters pass.
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, repeat('e', 512), 'tpl:test:orch', repeat('s', 500),
                                                          repeat('a', 512));
    PERFORM pg_temp.expect_equal(v_answer->>'status', 'ok', 'a call with 512-character arguments');

    -- Two calls whose idempotency keys collide (':' inside keys) are a conflict, not a duplicate.
    PERFORM pg_temp.new_template('tpl:test:orch:o3', 'file', 2);
    PERFORM iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:test:orch', 'o3:x', 'tester');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        c_event, 'test.event', 'tpl:test:orch:o3', 'x', 'tester'),
                                 'IU004', 'already belongs to another call');
    -- The same when only the instance behind the logged key differs (a log row pointing elsewhere).
    v_other := iu_core.fn_iu_compose('tpl:test:orch', 'tpl-inst:manual:o4-elsewhere', 'tester');
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode, idempotency_key,
         template_digest, instance_digest)
    VALUES (c_event, 'test.event', 'tpl:test:orch', v_other, 'tester', 'live', md5(c_event::text || ':tpl:test:orch:o4'),
            v_digest, v_digest);
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        c_event, 'test.event', 'tpl:test:orch', 'o4', 'tester'),
                                 'IU004', 'already belongs to another call');

    -- An instance key taken by another event, or by a manual compose: IU004.
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        gen_random_uuid(), 'test.event', 'tpl:test:orch', 'o1', 'tester'),
                                 'IU004', 'already exists for another event');
    PERFORM iu_core.fn_iu_compose('tpl:test:orch', 'tpl-inst:auto:o5', 'tester');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        c_event, 'test.event', 'tpl:test:orch', 'o5', 'tester'), 'IU004');
END;
$$;

-- Bad input, gates open: each argument null, blank (ASCII or not) or too long, in turn.
DO $$
DECLARE
    c_good constant text[] := ARRAY['00000000-0000-4000-8000-000000000002', 'test.event', 'tpl:test:bad', 'b1', 'tester-bad', 'live'];
    c_names constant text[] := ARRAY['event_id', 'event_type', 'template_key', 'suffix', 'actor', 'emit_mode'];
    v_args  text[];
    v_bad   record;
BEGIN
    PERFORM pg_temp.new_template('tpl:test:bad', 'workflow', 2);
    PERFORM iu_core.fn_iu_set_gates(true);
    FOR i IN 1 .. 6 LOOP
        FOR v_bad IN SELECT * FROM (VALUES (NULL, 'IU001'), ('', 'IU001'), ('  ', 'IU001'), (chr(160), 'IU001'),
                                           (E'\t', 'IU001'), (repeat('x', 513), 'IU009')) AS b(value, sqlstate)
                     WHERE i > 1 OR b.value IS NULL LOOP
            v_args := c_good;
            v_args[i] := v_bad.value;
            PERFORM pg_temp.expect_error(
                format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L, %L)', VARIADIC v_args),
                v_bad.sqlstate, 'argument ' || c_names[i]);
        END LOOP;
    END LOOP;
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L, %L)',
                                        VARIADIC c_good[1:5] || ARRAY['bogus']), 'IU003', 'undefined emit_mode ''bogus''');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L)',
                                        VARIADIC ARRAY[c_good[1], c_good[2], 'tpl:test:none', 'b2', 'tester-bad']),
                                 'IU002', 'unknown template');
    PERFORM iu_core.fn_iu_compose('tpl:test:bad', 'tpl-inst:manual:b3', 'tester-bad');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L)',
                                        VARIADIC ARRAY[c_good[1], c_good[2], 'tpl-inst:manual:b3', 'b3', 'tester-bad']),
                                 'IU002', 'is an instance');
    -- The order of the checks: arguments, then emit mode, then template.
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L, %L)',
                                        VARIADIC ARRAY[c_good[1], c_good[2], 'tpl:test:none', 'b4', 'tester-bad', 'bogus']),
                                 'IU003');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = 'tester-bad'),
                                 0::bigint, 'log rows after bad input');
END;
$$;
