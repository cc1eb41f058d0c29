-- tests/broken/idempotency_race.sql
-- A deliberately BROKEN build of iu_core, loaded after the bundled schema
-- (DatabasePool with extra_sql=(this file,)); never ship it.
--
-- What is broken: fn_iu_auto_instantiate_from_event's duplicate handling is
-- racy. It answers 'duplicate' only when the idempotency key is already in the
-- sidecar log at its first look. When it loses the instance-key claim to a
-- concurrent caller of the SAME event (the INSERT ... ON CONFLICT waited for
-- that caller's commit), it raises IU004 "instance key already exists for
-- another event" instead of re-reading the log and answering 'duplicate' with
-- the original instance_id. Called one after another it behaves exactly like
-- the real build, so every sequential test passes on it.
--
-- Must be caught by: tests/test_concurrency.py, race_problems() in the
-- committed-open gate mode (sessions genuinely racing on the claim), checked
-- by test_racy_idempotency_build_is_caught: "exactly one 'ok' per
-- idempotency key, every other call 'duplicate', no error" (SPEC section 1:
-- 'duplicate' "holds under concurrent callers").
--
-- The function below is 060_auto_instantiate.sql's, with only the
-- claim-conflict branch changed (marked BROKEN ON PURPOSE).

CREATE OR REPLACE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(
    event_id       uuid,
    event_type     text,
    template_key   text,
    suffix         text,
    actor          text,
    emit_mode      text DEFAULT 'live'
) RETURNS jsonb
LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    p_event_id ALIAS FOR $1;
    p_event_type ALIAS FOR $2;
    p_template_key ALIAS FOR $3;
    p_suffix ALIAS FOR $4;
    p_actor ALIAS FOR $5;
    p_emit_mode ALIAS FOR $6;
    c_fn CONSTANT text := 'fn_iu_auto_instantiate_from_event';
    v_mode_defined           boolean;
    v_template_id            uuid;
    v_is_template            boolean;
    v_kind                   text;
    v_template_digest        text;
    v_idempotency_key        text;
    v_instance_key           text;
    v_instance_id            uuid;
    v_instance_digest        text;
    v_gate                   text;
    v_logged                 boolean;
    v_logged_template_key    text;
    v_logged_instance_key    text;
    v_logged_template_digest text;
BEGIN
    -- The full argument check (fn_iu_require_text) runs unless every text argument is
    -- plainly fine: at most 512 bytes (so at most 512 characters) and starting with a
    -- printable ASCII character (so neither empty nor blank). Anything else, a null
    -- included, gets the full check, in argument order, which raises.
    IF NOT coalesce(p_event_id IS NOT NULL
                    AND octet_length(p_event_type) <= 512 AND p_event_type COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(p_template_key) <= 512 AND p_template_key COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(p_suffix) <= 512 AND p_suffix COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(p_actor) <= 512 AND p_actor COLLATE "C" BETWEEN '!' AND '~'
                    AND octet_length(p_emit_mode) <= 512 AND p_emit_mode COLLATE "C" BETWEEN '!' AND '~',
                    false) THEN
        IF p_event_id IS NULL THEN
            RAISE EXCEPTION '%: argument event_id is required, got NULL', c_fn USING ERRCODE = 'IU001';
        END IF;
        PERFORM iu_core.fn_iu_require_text(c_fn, 'event_type', p_event_type);
        PERFORM iu_core.fn_iu_require_text(c_fn, 'template_key', p_template_key);
        PERFORM iu_core.fn_iu_require_text(c_fn, 'suffix', p_suffix);
        PERFORM iu_core.fn_iu_require_text(c_fn, 'actor', p_actor);
        PERFORM iu_core.fn_iu_require_text(c_fn, 'emit_mode', p_emit_mode);
    END IF;

    v_idempotency_key := md5(p_event_id::text || ':' || p_template_key || ':' || p_suffix);
    v_instance_key := 'tpl-inst:auto:' || p_suffix;

    -- Every lookup of the 'ok' path in one statement (emit mode, template, whether
    -- the key is in the log, the first closed gate), judged below in the documented
    -- order. It is a point lookup of the template with one init plan per other
    -- lookup: joins here cost ~7 us per call (PERFORMANCE.md). Without the template
    -- it returns no row, and only the emit mode is then looked up again. A gate
    -- without a row counts as closed (coalesce).
    SELECT EXISTS (SELECT 1 FROM iu_core.iu_emit_mode e WHERE e.emit_mode = p_emit_mode),
           t.id, t.is_template, t.kind, t.manifest_digest,
           EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log l
                    WHERE l.idempotency_key = v_idempotency_key),
           (SELECT CASE WHEN NOT coalesce(bool_or(g.enabled)
                                          FILTER (WHERE g.gate_key = 'iu_core.auto_instantiate_enabled'), false)
                        THEN 'iu_core.auto_instantiate_enabled'
                        WHEN NOT coalesce(bool_or(g.enabled)
                                          FILTER (WHERE g.gate_key = 'iu_core.composer_enabled'), false)
                        THEN 'iu_core.composer_enabled' END
              FROM iu_core.iu_gate g
             WHERE g.gate_key IN ('iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled'))
      INTO v_mode_defined, v_template_id, v_is_template, v_kind, v_template_digest, v_logged, v_gate
      FROM iu_core.iu_piece_collection t
     WHERE t.collection_key = p_template_key;
    IF NOT FOUND THEN
        SELECT EXISTS (SELECT 1 FROM iu_core.iu_emit_mode e WHERE e.emit_mode = p_emit_mode) INTO v_mode_defined;
    END IF;

    IF NOT v_mode_defined THEN
        RAISE EXCEPTION 'undefined emit_mode %', quote_literal(p_emit_mode)
            USING ERRCODE = 'IU003',
                  HINT = 'defined modes are the rows of iu_core.iu_emit_mode';
    ELSIF v_template_id IS NULL THEN
        RAISE EXCEPTION 'unknown template %', quote_literal(p_template_key) USING ERRCODE = 'IU002';
    ELSIF NOT v_is_template THEN
        RAISE EXCEPTION 'collection % is an instance, not a template', quote_literal(p_template_key)
            USING ERRCODE = 'IU002';
    END IF;

    IF v_gate IS NOT NULL AND NOT v_logged THEN
        RETURN jsonb_build_object(
            'status', 'gated', 'gate', v_gate, 'instance_id', NULL, 'instance_key', v_instance_key,
            'idempotency_key', v_idempotency_key, 'template_digest', v_template_digest,
            'instance_digest', NULL, 'digest_match', NULL);
    END IF;

    -- Every row of the call in one statement: the instance collection, with its
    -- digest computed from the template's piece rows as this statement sees them
    -- (one snapshot: the very rows it copies); its memberships (the template's own
    -- IUs); lineage (origin 'auto'; the endpoints are known good here: a template,
    -- an instance just created) and the log row. The INSERT ... ON CONFLICT of the
    -- instance key is the claim that serializes concurrent callers of one key: when
    -- it is taken, nothing of this call is written. Memberships and lineage may
    -- precede their collection in the statement because foreign-key checks run at
    -- its end. The template's digest, when it was stored without one, is its
    -- recomputation: the digest of these same pieces.
    IF NOT v_logged THEN
        WITH claimed AS (
            INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template, manifest_digest, created_by)
            SELECT v_instance_key, v_kind, false,
                   iu_core.fn_iu_piece_graph_digest(
                       (SELECT string_agg(iu_core.fn_iu_piece_graph_line(m.position, m.iu_id, i.content_hash), '|'
                                          ORDER BY m.position)
                          FROM iu_core.iu_piece_membership m
                          JOIN iu_core.iu i ON i.id = m.iu_id
                         WHERE m.collection_id = v_template_id)),
                   p_actor
            ON CONFLICT (collection_key) DO NOTHING
            RETURNING id, manifest_digest
        ), members AS (
            INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
            SELECT c.id, m.iu_id, m.position
              FROM claimed c CROSS JOIN iu_core.iu_piece_membership m
             WHERE m.collection_id = v_template_id
        ), lineage AS (
            INSERT INTO iu_core.iu_collection_template_instance_lineage
                (template_collection_id, instance_collection_id, origin, actor)
            SELECT v_template_id, c.id, 'auto', p_actor FROM claimed c
        ), logged AS (
            INSERT INTO iu_core.iu_auto_instantiate_event_log
                (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode,
                 idempotency_key, template_digest, instance_digest)
            SELECT p_event_id, p_event_type, p_template_key, c.id, p_actor, p_emit_mode,
                   v_idempotency_key, coalesce(v_template_digest, c.manifest_digest), c.manifest_digest
              FROM claimed c
        )
        SELECT c.id, c.manifest_digest INTO v_instance_id, v_instance_digest FROM claimed c;
    END IF;
    IF v_instance_id IS NULL THEN
        -- BROKEN ON PURPOSE: the log is re-read only when the lookup saw the key,
        -- not after losing the claim. A concurrent caller of the same event that
        -- committed meanwhile is reported as a conflict instead of 'duplicate'.
        IF v_logged THEN
            SELECT * INTO v_logged_template_key, v_instance_id, v_logged_instance_key, v_logged_template_digest,
                          v_instance_digest
              FROM iu_core.fn_iu_auto_instantiate_logged(v_idempotency_key);
            IF FOUND THEN
                RETURN iu_core.fn_iu_auto_instantiate_duplicate(v_idempotency_key, v_logged_template_key,
                    v_instance_id, v_logged_instance_key, v_logged_template_digest, v_instance_digest,
                    p_template_key, v_instance_key);
            ELSIF v_logged THEN
                -- Gone since the lookup: a concurrent rollback of its actor committed in between.
                RAISE EXCEPTION 'the log row of idempotency key % was removed while this call ran', v_idempotency_key
                    USING ERRCODE = '40001',
                          HINT = 'a concurrent rollback removed it; retry the call';
            END IF;
        END IF;
        RAISE EXCEPTION 'instance key % already exists for another event (event %, template %)',
            quote_literal(v_instance_key), p_event_id, quote_literal(p_template_key)
            USING ERRCODE = 'IU004',
                  HINT = 'each event needs its own suffix';
    END IF;

    v_template_digest := coalesce(v_template_digest, v_instance_digest);
    RETURN jsonb_build_object(
        'status', 'ok', 'instance_id', v_instance_id, 'instance_key', v_instance_key,
        'idempotency_key', v_idempotency_key, 'template_digest', v_template_digest,
        'instance_digest', v_instance_digest, 'digest_match', v_template_digest = v_instance_digest);
END;
$$;
