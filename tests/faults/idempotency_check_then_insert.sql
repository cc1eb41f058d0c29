-- idempotency_check_then_insert.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a new event is composed by "look the idempotency key up, then write" with nothing
-- that serializes two callers: both see no log row and both compose, so the second fails
-- on the instance key (or writes a second instance) instead of answering 'duplicate'. One
-- caller at a time never notices; the build's own function still answers every other path.
-- Must be caught by: probe_race.
-- Violates: [S1.orch.duplicate-race]
-- Caught by: probe_race

\ir lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_key         text := md5($1::text || ':' || $3 || ':' || $4);
    v_template_id uuid;
    v_instance_id uuid;
    v_template    text;
    v_instance    text;
BEGIN
    SELECT t.id INTO v_template_id FROM iu_core.iu_piece_collection t WHERE t.collection_key = $3 AND t.is_template;
    IF v_template_id IS NULL OR $1 IS NULL OR coalesce(btrim($2), '') = '' OR coalesce(btrim($4), '') = ''
       OR coalesce(btrim($5), '') = '' OR $6 IS DISTINCT FROM 'live'
       OR EXISTS (SELECT 1 FROM iu_core.iu_gate WHERE NOT enabled)
       OR EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log l WHERE l.idempotency_key = v_key)
       OR EXISTS (SELECT 1 FROM iu_core.iu_piece_collection c WHERE c.collection_key = 'tpl-inst:auto:' || $4) THEN
        RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
    END IF;
    -- FAULT: nothing between the look-up above and these writes stops a second caller.
    v_instance_id := iu_core.fn_iu_compose($3, 'tpl-inst:auto:' || $4, $5);
    PERFORM iu_core.fn_iu_collection_record_template_instance(v_template_id, v_instance_id, $5, 'auto');
    v_template := iu_core.fn_iu_manifest_digest(v_template_id);
    v_instance := iu_core.fn_iu_manifest_digest(v_instance_id);
    INSERT INTO iu_core.iu_auto_instantiate_event_log
        (event_id, event_type, template_collection_key, instance_collection_id, actor, emit_mode,
         idempotency_key, template_digest, instance_digest)
    VALUES ($1, $2, $3, v_instance_id, $5, $6, v_key, v_template, v_instance);
    RETURN jsonb_build_object('status', 'ok', 'instance_id', v_instance_id, 'instance_key', 'tpl-inst:auto:' || $4,
                              'idempotency_key', v_key, 'template_digest', v_template,
                              'instance_digest', v_instance, 'digest_match', v_template = v_instance);
END;
$$;
