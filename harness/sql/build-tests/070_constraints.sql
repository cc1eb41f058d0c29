-- 070_constraints.sql
-- The constraints of 010_tables.sql refuse what they are there to refuse: a null
-- in each NOT NULL column (23502), a dangling reference (23503), a value outside
-- each CHECK (23514). Each insert is otherwise valid, so the constraint under
-- test is the only reason for its error.

DO $$
DECLARE
    v_template uuid := pg_temp.new_template('tpl:iu-build-test:constraints', 'file', 1);
    v_iu uuid := (SELECT iu_id FROM iu_core.iu_piece_membership WHERE collection_id = v_template);
    v_instance uuid;
    v_log text := 'INSERT INTO iu_core.iu_auto_instantiate_event_log (event_id, event_type, template_collection_key, '
                  'instance_collection_id, actor, emit_mode, idempotency_key, template_digest, instance_digest) '
                  'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)';
    v_log_args text[];
    v_lineage text := 'INSERT INTO iu_core.iu_collection_template_instance_lineage '
                      '(template_collection_id, instance_collection_id, origin, actor) VALUES (%s, %s, %s, %s)';
    v_lineage_args text[];
    v_bad record;
BEGIN
    INSERT INTO iu_core.iu_piece_collection (collection_key, kind) VALUES ('tpl-inst:manual:iu-build-test-constraints', 'file')
    RETURNING id INTO v_instance;
    v_log_args := ARRAY[quote_literal(gen_random_uuid()), '''e''', '''tpl:iu-build-test:constraints''', quote_literal(v_instance),
                        '''iu-build-test:tester''', '''live''', '''iu-build-test:k-constraints''', '''x''', '''x'''];
    v_lineage_args := ARRAY[quote_literal(v_template), quote_literal(v_instance), '''manual''', '''iu-build-test:tester'''];

    -- Controls: the same inserts with nothing null go through (undone: each expectation below
    -- runs in a subtransaction of its own).
    EXECUTE format(v_log, VARIADIC v_log_args);
    EXECUTE format(v_lineage, VARIADIC v_lineage_args);
    DELETE FROM iu_core.iu_auto_instantiate_event_log WHERE idempotency_key = 'iu-build-test:k-constraints';
    DELETE FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id = v_instance;

    FOR i IN 1 .. 9 LOOP
        PERFORM pg_temp.expect_error(format(v_log, VARIADIC v_log_args[1:i - 1] || ARRAY['NULL'] || v_log_args[i + 1:]),
                                     '23502');
    END LOOP;
    FOR i IN 1 .. 4 LOOP
        PERFORM pg_temp.expect_error(format(v_lineage, VARIADIC v_lineage_args[1:i - 1] || ARRAY['NULL'] || v_lineage_args[i + 1:]),
                                     '23502');
    END LOOP;

    FOR v_bad IN SELECT * FROM (VALUES
        -- NOT NULL, with a column that has a default given an explicit NULL
        ($q$INSERT INTO iu_core.iu (iu_key, content_hash) VALUES (NULL, 'h')$q$, '23502'),
        ($q$INSERT INTO iu_core.iu (iu_key, content_hash) VALUES ('iu-build-test:k-c1', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu (iu_key, content_hash, body) VALUES ('iu-build-test:k-c2', 'h', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu (iu_key, content_hash, created_at) VALUES ('iu-build-test:k-c3', 'h', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_lifecycle_log (iu_id) VALUES (NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_lifecycle_log (iu_id, event) VALUES ('$q$ || v_iu || $q$', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_lifecycle_log (iu_id, recorded_at) VALUES ('$q$ || v_iu || $q$', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_vector_sync_point (iu_id) VALUES (NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_vector_sync_point (iu_id, model) VALUES ('$q$ || v_iu || $q$', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_vector_sync_point (iu_id, synced_at) VALUES ('$q$ || v_iu || $q$', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_piece_collection (collection_key, kind) VALUES (NULL, 'file')$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_piece_collection (collection_key, kind) VALUES ('iu-build-test:c-c1', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template) VALUES ('iu-build-test:c-c2', 'file', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_piece_collection (collection_key, kind, created_by) VALUES ('iu-build-test:c-c3', 'file', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_piece_collection (collection_key, kind, created_at) VALUES ('iu-build-test:c-c4', 'file', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position) VALUES ('$q$ || v_instance || $q$', NULL, 1)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_collection_template_instance_lineage (template_collection_id, instance_collection_id,
               origin, actor, recorded_at) VALUES ('$q$ || v_template || $q$', '$q$ || v_instance || $q$', 'manual', 't', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_emit_mode (emit_mode, description) VALUES ('iu-build-test:m-c1', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_gate (gate_key, enabled) VALUES ('iu-build-test:g-c1', NULL)$q$, '23502'),
        ($q$INSERT INTO iu_core.iu_auto_instantiate_event_log (event_id, event_type, template_collection_key,
               instance_collection_id, actor, emit_mode, idempotency_key, template_digest, instance_digest, created_at)
               VALUES (gen_random_uuid(), 'e', 't', '$q$ || v_instance || $q$', 'a', 'live', 'iu-build-test:k-c4', 'x', 'x', NULL)$q$, '23502'),
        -- FOREIGN KEY
        ($q$INSERT INTO iu_core.iu_lifecycle_log (iu_id) VALUES (gen_random_uuid())$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_vector_sync_point (iu_id) VALUES (gen_random_uuid())$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position) VALUES (gen_random_uuid(), '$q$ || v_iu || $q$', 1)$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position) VALUES ('$q$ || v_instance || $q$', gen_random_uuid(), 1)$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_collection_template_instance_lineage (template_collection_id, instance_collection_id,
               origin, actor) VALUES (gen_random_uuid(), '$q$ || v_instance || $q$', 'manual', 't')$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_collection_template_instance_lineage (template_collection_id, instance_collection_id,
               origin, actor) VALUES ('$q$ || v_template || $q$', gen_random_uuid(), 'manual', 't')$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_auto_instantiate_event_log (event_id, event_type, template_collection_key,
               instance_collection_id, actor, emit_mode, idempotency_key, template_digest, instance_digest)
               VALUES (gen_random_uuid(), 'e', 't', gen_random_uuid(), 'a', 'live', 'iu-build-test:k-c5', 'x', 'x')$q$, '23503'),
        ($q$INSERT INTO iu_core.iu_auto_instantiate_event_log (event_id, event_type, template_collection_key,
               instance_collection_id, actor, emit_mode, idempotency_key, template_digest, instance_digest)
               VALUES (gen_random_uuid(), 'e', 't', '$q$ || v_instance || $q$', 'a', 'bogus', 'iu-build-test:k-c6', 'x', 'x')$q$, '23503'),
        -- a referenced row deleted against ON DELETE RESTRICT: PostgreSQL 18 reports it as
        -- restrict_violation (23001), earlier majors as foreign_key_violation (23503)
        ($q$DELETE FROM iu_core.iu_piece_collection WHERE id = '$q$ || v_template || $q$'$q$,
         CASE WHEN current_setting('server_version_num')::int >= 180000 THEN '23001' ELSE '23503' END),
        -- CHECK
        ($q$INSERT INTO iu_core.iu_piece_collection (collection_key, kind) VALUES ('iu-build-test:c-c5', 'folder')$q$, '23514'),
        ($q$INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position) VALUES ('$q$ || v_instance || $q$', '$q$ || v_iu || $q$', 0)$q$, '23514'),
        ($q$INSERT INTO iu_core.iu_collection_template_instance_lineage (template_collection_id, instance_collection_id,
               origin, actor) VALUES ('$q$ || v_template || $q$', '$q$ || v_instance || $q$', 'other', 't')$q$, '23514')
    ) AS b(statement, sqlstate) LOOP
        PERFORM pg_temp.expect_error(v_bad.statement, v_bad.sqlstate);
    END LOOP;
END;
$$;
