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
    v_mode_defined    boolean;
    v_log_id          bigint;
    v_template_id     uuid;
    v_is_template     boolean;
    v_kind            text;
    v_idempotency_key text;
    v_instance_key    text;
    v_instance_id     uuid;
    v_gate            text;
    v_template_digest text;
    v_instance_digest text;
BEGIN
    IF p_event_id IS NULL THEN
        RAISE EXCEPTION '%: argument event_id is required, got NULL', c_fn USING ERRCODE = 'IU001';
    END IF;
    PERFORM iu_core.fn_iu_require_text(c_fn, 'event_type', p_event_type);
    PERFORM iu_core.fn_iu_require_text(c_fn, 'template_key', p_template_key);
    PERFORM iu_core.fn_iu_require_text(c_fn, 'suffix', p_suffix);
    PERFORM iu_core.fn_iu_require_text(c_fn, 'actor', p_actor);
    PERFORM iu_core.fn_iu_require_text(c_fn, 'emit_mode', p_emit_mode);

    v_idempotency_key := md5(p_event_id::text || ':' || p_template_key || ':' || p_suffix);
    v_instance_key := 'tpl-inst:auto:' || p_suffix;

    -- Every lookup in one statement (emit mode, template, the key's log row,
    -- the first closed gate); judged below in the documented order.
    SELECT EXISTS (SELECT 1 FROM iu_core.iu_emit_mode e WHERE e.emit_mode = p_emit_mode),
           t.id, t.is_template, t.kind, t.manifest_digest,
           (SELECT l.id FROM iu_core.iu_auto_instantiate_event_log l
             WHERE l.idempotency_key = v_idempotency_key),
           (SELECT min(k.gate_key)
              FROM (VALUES ('iu_core.auto_instantiate_enabled'), ('iu_core.composer_enabled')) AS k(gate_key)
             WHERE NOT EXISTS (SELECT 1 FROM iu_core.iu_gate g WHERE g.gate_key = k.gate_key AND g.enabled))
      INTO v_mode_defined, v_template_id, v_is_template, v_kind, v_template_digest, v_log_id, v_gate
      FROM (SELECT 1) AS one
      LEFT JOIN iu_core.iu_piece_collection t ON t.collection_key = p_template_key;

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

    IF v_log_id IS NOT NULL THEN
        RETURN iu_core.fn_iu_auto_instantiate_duplicate(v_log_id, p_template_key, v_instance_key);
    END IF;

    IF v_gate IS NOT NULL THEN
        RETURN jsonb_build_object(
            'status', 'gated', 'gate', v_gate, 'instance_id', NULL, 'instance_key', v_instance_key,
            'idempotency_key', v_idempotency_key, 'template_digest', v_template_digest,
            'instance_digest', NULL, 'digest_match', NULL);
    END IF;

    SELECT claimed_id, claimed_digest INTO v_instance_id, v_instance_digest
      FROM iu_core.fn_iu_compose_claim(v_template_id, v_kind, v_instance_key, p_actor);
    IF v_instance_id IS NULL THEN
        -- BROKEN ON PURPOSE: the log is not re-read after losing the claim. A
        -- concurrent caller of the same event that committed meanwhile is
        -- reported as a conflict instead of 'duplicate'.
        RAISE EXCEPTION 'instance key % already exists for another event (event %, template %)',
            quote_literal(v_instance_key), p_event_id, quote_literal(p_template_key)
            USING ERRCODE = 'IU004',
                  HINT = 'each event needs its own suffix';
    END IF;

    -- The template's stored digest (recomputed if a template was stored without
    -- one); v_iu_digest_audit recomputes both sides from the stored rows.
    v_template_digest := coalesce(v_template_digest, iu_core.fn_iu_manifest_digest(v_template_id));

    -- Lineage and log row in one statement. The endpoints are known good here (a
    -- template, an instance just created), so lineage skips the checking function.
    WITH lineage AS (
        INSERT INTO iu_core.iu_collection_template_instance_lineage
            (template_collection_id, instance_collection_id, origin, actor)
        VALUES (v_template_id, v_instance_id, 'auto', p_actor)
    )
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode,
         idempotency_key, template_digest, instance_digest)
    VALUES
        (p_event_id, p_event_type, p_template_key, v_instance_id, p_actor, p_emit_mode,
         v_idempotency_key, v_template_digest, v_instance_digest);

    RETURN jsonb_build_object(
        'status', 'ok', 'instance_id', v_instance_id, 'instance_key', v_instance_key,
        'idempotency_key', v_idempotency_key, 'template_digest', v_template_digest,
        'instance_digest', v_instance_digest, 'digest_match', v_template_digest = v_instance_digest);
END;
$$;
