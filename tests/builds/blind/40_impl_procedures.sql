-- 40_impl_procedures.sql
-- Deploys: iu_core_impl's PL/pgSQL procedures: the argument check, compose, lineage,
--          the orchestrator and the rollback (the only places that raise or branch).
-- Needs:   30_impl_sql_helpers.sql.

-- [S1.orch.bad-input] one SQLSTATE (BL001) for a null or empty argument; the message
-- names the argument and shows the value (NULL or '').
CREATE OR REPLACE FUNCTION iu_core_impl.demand(p_argument text, p_value anyelement)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_value IS NULL THEN
        RAISE EXCEPTION 'iu_core: argument % is NULL; a value is required', p_argument
              USING ERRCODE = 'BL001', DETAIL = format('%s => NULL', p_argument);
    END IF;
    IF p_value::text = '' THEN
        RAISE EXCEPTION 'iu_core: argument % is empty (%); a non-empty value is required',
                        p_argument, quote_literal('')
              USING ERRCODE = 'BL001', DETAIL = format('%s => %L', p_argument, '');
    END IF;
END;
$$;

-- A template by key: BL002 when no collection has the key, BL003 when it is not a template.
CREATE OR REPLACE FUNCTION iu_core_impl.template_by_key(p_template_key text)
RETURNS iu_core.iu_piece_collection LANGUAGE plpgsql AS $$
DECLARE
    v_tpl iu_core.iu_piece_collection;
BEGIN
    v_tpl := iu_core_impl.collection_by_key(p_template_key);
    IF v_tpl.id IS NULL THEN
        RAISE EXCEPTION 'iu_core: unknown template %', quote_literal(p_template_key)
              USING ERRCODE = 'BL002', DETAIL = format('template_key => %L', p_template_key);
    END IF;
    IF NOT v_tpl.is_template THEN
        RAISE EXCEPTION 'iu_core: collection % is not a template', quote_literal(p_template_key)
              USING ERRCODE = 'BL003', DETAIL = format('template_key => %L', p_template_key);
    END IF;
    RETURN v_tpl;
END;
$$;

-- [S1.compose.*]
CREATE OR REPLACE FUNCTION iu_core_impl.compose(p_template_key text, p_instance_key text, p_actor text)
RETURNS uuid LANGUAGE plpgsql
-- Plans made in here are key lookups: see 00_schemas_and_design.sql, "Plans".
SET enable_seqscan = off AS $$
DECLARE
    v_tpl      iu_core.iu_piece_collection;
    v_instance uuid;
BEGIN
    PERFORM iu_core_impl.demand('template_key', p_template_key);
    PERFORM iu_core_impl.demand('instance_key', p_instance_key);
    PERFORM iu_core_impl.demand('actor', p_actor);
    IF iu_core_impl.first_closed_gate(ARRAY['iu_core.composer_enabled']) IS NOT NULL THEN
        RAISE EXCEPTION 'iu_core: gate iu_core.composer_enabled is closed; not composing % from %',
                        quote_literal(p_instance_key), quote_literal(p_template_key)
              USING ERRCODE = 'BL006';
    END IF;
    v_tpl := iu_core_impl.template_by_key(p_template_key);
    v_instance := iu_core_impl.claim_instance(p_instance_key, v_tpl.kind,
                                              iu_core_impl.graph_digest(v_tpl.id), p_actor);
    IF v_instance IS NULL THEN
        RAISE EXCEPTION 'iu_core: instance key % already exists', quote_literal(p_instance_key)
              USING ERRCODE = 'BL009', DETAIL = format('instance_key => %L', p_instance_key);
    END IF;
    PERFORM iu_core_impl.copy_members(v_tpl.id, v_instance);
    RETURN v_instance;
END;
$$;

-- [S1.lineage.record]
CREATE OR REPLACE FUNCTION iu_core_impl.record_lineage(p_template_id uuid, p_instance_id uuid, p_actor text, p_origin text)
RETURNS bigint LANGUAGE plpgsql
-- Plans made in here are key lookups: see 00_schemas_and_design.sql, "Plans".
SET enable_seqscan = off AS $$
DECLARE
    v_tpl     iu_core.iu_piece_collection;
    v_inst    iu_core.iu_piece_collection;
    v_lineage bigint;
BEGIN
    PERFORM iu_core_impl.demand('template_id', p_template_id);
    PERFORM iu_core_impl.demand('instance_id', p_instance_id);
    PERFORM iu_core_impl.demand('actor', p_actor);
    PERFORM iu_core_impl.demand('origin', p_origin);
    IF p_origin NOT IN ('manual', 'auto') THEN
        RAISE EXCEPTION 'iu_core: origin % is neither manual nor auto', quote_literal(p_origin)
              USING ERRCODE = 'BL007';
    END IF;
    v_tpl := iu_core_impl.collection_by_id(p_template_id);
    IF v_tpl.id IS NULL THEN
        RAISE EXCEPTION 'iu_core: no collection with id % (template_id)', p_template_id USING ERRCODE = 'BL008';
    END IF;
    IF NOT v_tpl.is_template THEN
        RAISE EXCEPTION 'iu_core: collection % (%) is not a template', p_template_id,
                        quote_literal(v_tpl.collection_key) USING ERRCODE = 'BL003';
    END IF;
    v_inst := iu_core_impl.collection_by_id(p_instance_id);
    IF v_inst.id IS NULL THEN
        RAISE EXCEPTION 'iu_core: no collection with id % (instance_id)', p_instance_id USING ERRCODE = 'BL008';
    END IF;
    IF v_inst.is_template THEN
        RAISE EXCEPTION 'iu_core: collection % (%) is a template, not an instance', p_instance_id,
                        quote_literal(v_inst.collection_key) USING ERRCODE = 'BL010';
    END IF;
    v_lineage := iu_core_impl.insert_lineage(p_template_id, p_instance_id, p_actor, p_origin);
    IF v_lineage IS NULL THEN
        RAISE EXCEPTION 'iu_core: instance % (%) already has a template', p_instance_id,
                        quote_literal(v_inst.collection_key) USING ERRCODE = 'BL011';
    END IF;
    RETURN v_lineage;
END;
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.answer(
    p_status text, p_instance_id uuid, p_instance_key text, p_idempotency_key text,
    p_template_digest text, p_instance_digest text, p_extra jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
               'status', p_status,
               'instance_id', p_instance_id,
               'instance_key', p_instance_key,
               'idempotency_key', p_idempotency_key,
               'template_digest', p_template_digest,
               'instance_digest', p_instance_digest,
               'digest_match', p_template_digest IS NOT NULL AND p_template_digest = p_instance_digest)
           || coalesce(p_extra, '{}'::jsonb)
$$;

-- [S1.orch.*]
CREATE OR REPLACE FUNCTION iu_core_impl.auto_instantiate(
    p_event_id uuid, p_event_type text, p_template_key text, p_suffix text, p_actor text, p_emit_mode text)
RETURNS jsonb LANGUAGE plpgsql
-- Plans made in here are key lookups: see 00_schemas_and_design.sql, "Plans".
SET enable_seqscan = off AS $$
DECLARE
    v_tpl      iu_core.iu_piece_collection;
    v_prior    iu_core.iu_auto_instantiate_event_log;
    v_idem     text;
    v_key      text;
    v_gate     text;
    v_digest   text;
    v_instance uuid;
    v_pieces   integer;
    v_lineage  bigint;
BEGIN
    -- 1. bad input raises, whatever the gates
    PERFORM iu_core_impl.demand('event_id', p_event_id);
    PERFORM iu_core_impl.demand('event_type', p_event_type);
    PERFORM iu_core_impl.demand('template_key', p_template_key);
    PERFORM iu_core_impl.demand('suffix', p_suffix);
    PERFORM iu_core_impl.demand('actor', p_actor);
    PERFORM iu_core_impl.demand('emit_mode', p_emit_mode);
    IF p_emit_mode <> 'live' THEN
        RAISE EXCEPTION 'iu_core: emit_mode % is not defined by this build (defined: live)',
                        quote_literal(p_emit_mode)
              USING ERRCODE = 'BL004', DETAIL = format('emit_mode => %L', p_emit_mode);
    END IF;
    v_tpl := iu_core_impl.template_by_key(p_template_key);

    v_idem := iu_core_impl.idempotency_key(p_event_id, p_template_key, p_suffix);
    v_key  := iu_core_impl.auto_instance_key(p_suffix);

    -- 2. a seen key: the original instance, nothing written
    v_prior := iu_core_impl.logged_call(v_idem);
    IF v_prior.idempotency_key IS NOT NULL THEN
        RETURN iu_core_impl.answer('duplicate', v_prior.instance_collection_id, v_key, v_idem,
                                   v_prior.template_digest, v_prior.instance_digest,
                                   jsonb_build_object('event_id', p_event_id, 'original_event_id', v_prior.event_id));
    END IF;

    -- 3. the instance key of this suffix belongs to something else
    IF (iu_core_impl.collection_by_key(v_key)).id IS NOT NULL THEN
        RAISE EXCEPTION 'iu_core: suffix % is taken: instance key % already exists for another event',
                        quote_literal(p_suffix), quote_literal(v_key)
              USING ERRCODE = 'BL005', DETAIL = format('suffix => %L, event_id => %s', p_suffix, p_event_id);
    END IF;

    -- 4. gates: answer, write nothing
    v_gate := iu_core_impl.first_closed_gate(ARRAY['iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled']);
    IF v_gate IS NOT NULL THEN
        RETURN iu_core_impl.answer('gated', NULL, v_key, v_idem, v_tpl.manifest_digest, NULL,
                                   jsonb_build_object('gate', v_gate, 'event_id', p_event_id));
    END IF;

    -- 5. claim the instance key (waits for a concurrent holder), then write
    v_digest   := iu_core_impl.graph_digest(v_tpl.id);
    v_instance := iu_core_impl.claim_instance(v_key, v_tpl.kind, v_digest, p_actor);
    IF v_instance IS NULL THEN
        v_prior := iu_core_impl.logged_call(v_idem);   -- a fresh snapshot: the winner has committed
        IF v_prior.idempotency_key IS NOT NULL THEN
            RETURN iu_core_impl.answer('duplicate', v_prior.instance_collection_id, v_key, v_idem,
                                       v_prior.template_digest, v_prior.instance_digest,
                                       jsonb_build_object('event_id', p_event_id, 'original_event_id', v_prior.event_id));
        END IF;
        RAISE EXCEPTION 'iu_core: suffix % is taken: instance key % already exists for another event',
                        quote_literal(p_suffix), quote_literal(v_key)
              USING ERRCODE = 'BL005', DETAIL = format('suffix => %L, event_id => %s', p_suffix, p_event_id);
    END IF;
    v_pieces  := iu_core_impl.copy_members(v_tpl.id, v_instance);
    v_lineage := iu_core_impl.insert_lineage(v_tpl.id, v_instance, p_actor, 'auto');
    PERFORM iu_core_impl.insert_log(v_idem, p_event_id, p_event_type, p_template_key, v_instance,
                                    p_actor, p_emit_mode, v_tpl.manifest_digest, v_digest);
    RETURN iu_core_impl.answer('ok', v_instance, v_key, v_idem, v_tpl.manifest_digest, v_digest,
                               jsonb_build_object('event_id', p_event_id, 'lineage_id', v_lineage,
                                                  'pieces', v_pieces));
END;
$$;

-- [S1.rollback.*]
CREATE OR REPLACE FUNCTION iu_core_impl.rollback_by_actor(p_actor text, p_dry_run boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_ids   uuid[];
    v_log   bigint;
    v_lin   bigint;
    v_inst  bigint;
    v_mem   bigint;
BEGIN
    v_ids := iu_core_impl.rollback_targets(p_actor);
    IF cardinality(v_ids) = 0 THEN
        RETURN jsonb_build_object('status', 'noop', 'actor', p_actor, 'dry_run', coalesce(p_dry_run, true),
                                  'target_instance_ids', '[]'::jsonb);
    END IF;
    IF p_dry_run IS NOT FALSE THEN
        RETURN jsonb_build_object(
            'status', 'dry_run', 'actor', p_actor, 'dry_run', true,
            'target_instance_ids', to_jsonb(v_ids),
            'would_delete_log_rows', iu_core_impl.count_log_rows(v_ids),
            'would_delete_lineage_rows', iu_core_impl.count_lineage_rows(v_ids),
            'would_delete_instance_collections', iu_core_impl.count_instance_rows(v_ids),
            'would_delete_membership_rows', iu_core_impl.count_membership_rows(v_ids));
    END IF;
    -- The contract's order; memberships go last, so their FK waits until they are gone.
    SET CONSTRAINTS iu_core.iu_piece_membership_collection_fk DEFERRED;
    v_log  := iu_core_impl.delete_log_rows(v_ids);
    v_lin  := iu_core_impl.delete_lineage_rows(v_ids);
    v_inst := iu_core_impl.delete_instance_rows(v_ids);
    v_mem  := iu_core_impl.delete_membership_rows(v_ids);
    SET CONSTRAINTS iu_core.iu_piece_membership_collection_fk IMMEDIATE;
    RETURN jsonb_build_object(
        'status', 'ok', 'actor', p_actor, 'dry_run', false,
        'target_instance_ids', to_jsonb(v_ids),
        'deleted_log_rows', v_log,
        'deleted_lineage_rows', v_lin,
        'deleted_instance_collections', v_inst,
        'deleted_membership_rows', v_mem);
END;
$$;
