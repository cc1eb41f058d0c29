-- 050_orchestrator.sql
-- fn_iu_auto_instantiate_from_event (060_auto_instantiate.sql): the rows and
-- answers of each status, the order of its checks, and the SQLSTATE of every
-- kind of bad input (000_schema.sql lists them); a drifted template digest is
-- reported, not hidden; plainly fine arguments skip the full argument check.

DO $$
DECLARE
    c_event   constant uuid := '00000000-0000-4000-8000-000000000001';
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:orch', 'file', 3);
    v_digest  text := iu_core.fn_iu_manifest_digest(v_template);
    v_ok      jsonb;
    v_again   jsonb;
    v_answer  jsonb;
    v_other   uuid;
BEGIN
    -- Gated, in gate_key order, writing nothing.
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_answer->>'status' || '/' || (v_answer->>'gate'), 'gated/iu_core.auto_instantiate_enabled',
                                 'answer with both gates closed');
    PERFORM pg_temp.expect(v_answer ? 'instance_id' AND v_answer->'instance_id' = 'null'::jsonb, 'a gated answer has no instance');
    PERFORM iu_core.fn_iu_set_gates(true, ARRAY['iu_core.auto_instantiate_enabled']);
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_answer->>'status' || '/' || (v_answer->>'gate'), 'gated/iu_core.composer_enabled',
                                 'answer with the composer gate closed');
    -- A gate without a row counts as closed.
    DELETE FROM iu_core.iu_gate WHERE gate_key = 'iu_core.auto_instantiate_enabled';
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_answer->>'status' || '/' || (v_answer->>'gate'), 'gated/iu_core.auto_instantiate_enabled',
                                 'answer without the auto-instantiate gate row');
    INSERT INTO iu_core.iu_gate (gate_key, enabled) VALUES ('iu_core.auto_instantiate_enabled', true);
    DELETE FROM iu_core.iu_gate WHERE gate_key = 'iu_core.composer_enabled';
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_answer->>'status' || '/' || (v_answer->>'gate'), 'gated/iu_core.composer_enabled',
                                 'answer without the composer gate row (the other open)');
    INSERT INTO iu_core.iu_gate (gate_key, enabled) VALUES ('iu_core.composer_enabled', false);
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = 'iu-build-test:tester'),
                                 0::bigint, 'log rows after gated calls');
    PERFORM iu_core.fn_iu_set_gates(true);

    -- ok: the answer and every row.
    v_ok := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_ok - 'instance_id',
        jsonb_build_object('status', 'ok', 'instance_key', 'tpl-inst:auto:iu-build-test-o1',
                           'idempotency_key', md5(c_event::text || ':tpl:iu-build-test:orch:iu-build-test-o1'),
                           'template_digest', v_digest, 'instance_digest', v_digest, 'digest_match', true),
        'the ok answer');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s|%s|%s|%s|%s|%s|%s|%s', l.event_id, l.event_type, l.template_collection_key, l.actor,
                       l.emit_mode, l.idempotency_key, l.template_digest, l.instance_digest)
           FROM iu_core.iu_auto_instantiate_event_log l WHERE l.instance_collection_id = (v_ok->>'instance_id')::uuid),
        format('%s|test.event|tpl:iu-build-test:orch|iu-build-test:tester|live|%s|%s|%s', c_event, v_ok->>'idempotency_key', v_digest, v_digest),
        'the log row');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s|%s|%s', template_collection_id, origin, actor)
           FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id = (v_ok->>'instance_id')::uuid),
        format('%s|auto|iu-build-test:tester', v_template), 'the lineage row');
    PERFORM pg_temp.expect_equal(
        (SELECT format('%s|%s|%s|%s', collection_key, kind, is_template, manifest_digest)
           FROM iu_core.iu_piece_collection WHERE id = (v_ok->>'instance_id')::uuid),
        format('tpl-inst:auto:iu-build-test-o1|file|f|%s', v_digest), 'the instance');

    -- duplicate: the same answer but the status, with gates open or closed, writing nothing.
    v_again := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_again, jsonb_set(v_ok, '{status}', '"duplicate"'), 'the duplicate answer');
    PERFORM iu_core.fn_iu_set_gates(false);
    v_again := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_again, jsonb_set(v_ok, '{status}', '"duplicate"'),
                                 'a duplicate is answered before the gates are looked at');
    PERFORM iu_core.fn_iu_set_gates(true);

    -- Another emit mode is stored as given.
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o2', 'iu-build-test:tester', 'backfill');
    PERFORM pg_temp.expect_equal((SELECT emit_mode FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE idempotency_key = v_answer->>'idempotency_key'), 'backfill', 'emit mode stored');
    -- Arguments of up to 512 characters pass.
    v_answer := iu_core.fn_iu_auto_instantiate_from_event(c_event, repeat('e', 512), 'tpl:iu-build-test:orch', repeat('s', 500),
                                                          repeat('a', 512));
    PERFORM pg_temp.expect_equal(v_answer->>'status', 'ok', 'a call with 512-character arguments');

    -- Two calls whose idempotency keys collide (':' inside keys) are a conflict, not a duplicate.
    PERFORM pg_temp.new_template('tpl:iu-build-test:orch:o3', 'file', 2);
    PERFORM iu_core.fn_iu_auto_instantiate_from_event(c_event, 'test.event', 'tpl:iu-build-test:orch', 'o3:x', 'iu-build-test:tester');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        c_event, 'test.event', 'tpl:iu-build-test:orch:o3', 'x', 'iu-build-test:tester'),
                                 'IU004', 'already belongs to another call');
    -- The same when only the instance behind the logged key differs (a log row pointing elsewhere).
    v_other := iu_core.fn_iu_compose('tpl:iu-build-test:orch', 'tpl-inst:manual:iu-build-test-o4-elsewhere', 'iu-build-test:tester');
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode, idempotency_key,
         template_digest, instance_digest)
    VALUES (c_event, 'test.event', 'tpl:iu-build-test:orch', v_other, 'iu-build-test:tester', 'live', md5(c_event::text || ':tpl:iu-build-test:orch:iu-build-test-o4'),
            v_digest, v_digest);
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o4', 'iu-build-test:tester'),
                                 'IU004', 'already belongs to another call');

    -- An instance key taken by another event, or by a manual compose: IU004.
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        gen_random_uuid(), 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o1', 'iu-build-test:tester'),
                                 'IU004', 'already exists for another event');
    PERFORM iu_core.fn_iu_compose('tpl:iu-build-test:orch', 'tpl-inst:auto:iu-build-test-o5', 'iu-build-test:tester');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L, %L, %L, %L, %L)',
                                        c_event, 'test.event', 'tpl:iu-build-test:orch', 'iu-build-test-o5', 'iu-build-test:tester'), 'IU004');
END;
$$;

-- Bad input, gates open: each argument null, blank (ASCII or not) or too long, in turn.
DO $$
DECLARE
    c_good constant text[] := ARRAY['00000000-0000-4000-8000-000000000002', 'test.event', 'tpl:iu-build-test:bad', 'iu-build-test-b1', 'iu-build-test:tester-bad', 'live'];
    c_names constant text[] := ARRAY['event_id', 'event_type', 'template_key', 'suffix', 'actor', 'emit_mode'];
    v_args  text[];
    v_bad   record;
BEGIN
    PERFORM pg_temp.new_template('tpl:iu-build-test:bad', 'workflow', 2);
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
                                        VARIADIC ARRAY[c_good[1], c_good[2], 'tpl:iu-build-test:none', 'iu-build-test-b2', 'iu-build-test:tester-bad']),
                                 'IU002', 'unknown template');
    PERFORM iu_core.fn_iu_compose('tpl:iu-build-test:bad', 'tpl-inst:manual:iu-build-test-b3', 'iu-build-test:tester-bad');
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L)',
                                        VARIADIC ARRAY[c_good[1], c_good[2], 'tpl-inst:manual:iu-build-test-b3', 'iu-build-test-b3', 'iu-build-test:tester-bad']),
                                 'IU002', 'is an instance');
    -- The order of the checks: arguments, then emit mode, then template.
    PERFORM pg_temp.expect_error(format('SELECT iu_core.fn_iu_auto_instantiate_from_event(%L::uuid, %L, %L, %L, %L, %L)',
                                        VARIADIC ARRAY[c_good[1], c_good[2], 'tpl:iu-build-test:none', 'iu-build-test-b4', 'iu-build-test:tester-bad', 'bogus']),
                                 'IU003');
    PERFORM pg_temp.expect_equal((SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE actor = 'iu-build-test:tester-bad'),
                                 0::bigint, 'log rows after bad input');
END;
$$;

-- A template whose stored digest has drifted from its pieces: the answer and the log row carry the
-- stored digest, the instance its recomputed one, and digest_match says they differ (the audit's
-- drift, reported rather than hidden).
DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:drift', 'file', 2);
    v_answer jsonb;
BEGIN
    UPDATE iu_core.iu_piece_collection SET manifest_digest = 'ffffffffffffffff' WHERE id = v_template;
    PERFORM iu_core.fn_iu_set_gates(true);
    v_answer := iu_core.fn_iu_auto_instantiate_from_event('00000000-0000-4000-8000-000000000003', 'test.event',
                                                          'tpl:iu-build-test:drift', 'iu-build-test-d1', 'iu-build-test:tester');
    PERFORM pg_temp.expect_equal(v_answer->>'template_digest', 'ffffffffffffffff', 'the answer''s template digest');
    PERFORM pg_temp.expect_equal(v_answer->>'instance_digest', iu_core.fn_iu_manifest_digest((v_answer->>'instance_id')::uuid),
                                 'the answer''s instance digest');
    PERFORM pg_temp.expect_equal(v_answer->'digest_match', 'false'::jsonb, 'digest_match under drift');
    PERFORM pg_temp.expect_equal((SELECT template_digest FROM iu_core.iu_auto_instantiate_event_log
                                   WHERE idempotency_key = v_answer->>'idempotency_key'), 'ffffffffffffffff',
                                 'the logged template digest');
END;
$$;

-- Plainly fine arguments (at most 512 bytes, starting with a printable ASCII character) never reach
-- the full argument check: with fn_iu_require_text made to refuse everything (in this rolled-back
-- transaction only), a call with 512-byte arguments still answers.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_require_text(p_function text, p_argument text, p_value text,
                                                      p_max_length integer DEFAULT 512)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the full check ran for %', p_argument USING ERRCODE = 'IUT00';
END;
$$;
DO $$
DECLARE
    v_answer jsonb;
BEGIN
    PERFORM iu_core.fn_iu_set_gates(true);
    PERFORM pg_temp.new_template(repeat('t', 512), 'file', 1);
    INSERT INTO iu_core.iu_emit_mode (emit_mode, description) VALUES (repeat('m', 512), 'a build test''s mode');
    v_answer := iu_core.fn_iu_auto_instantiate_from_event('00000000-0000-4000-8000-000000000004', repeat('e', 512),
        repeat('t', 512), 'iu-build-test-' || repeat('s', 498), 'iu-build-test:' || repeat('a', 498), repeat('m', 512));
    PERFORM pg_temp.expect_equal(v_answer->>'status', 'ok', 'a call with 512-byte arguments');
END;
$$;
