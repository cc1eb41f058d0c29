-- 050_compose.sql
-- Deploys: iu_core.fn_iu_compose_claim (internal), iu_core.fn_iu_compose,
--          iu_core.fn_iu_collection_record_template_instance.
-- Needs:   010_tables.sql, 030_gates.sql, 035_arguments.sql, 040_digest.sql.

-- Creates an instance collection whose memberships point at the template's
-- own IUs (no new iu rows), with its manifest digest, in one statement: the
-- digest is computed from exactly the piece rows written for the instance
-- (v_iu_digest_audit later recomputes it from the stored rows). Returns NULLs,
-- writing nothing, when instance_key is already taken: the INSERT ... ON
-- CONFLICT is the claim that serializes concurrent callers of one key.
-- One statement instead of five (insert, members, digest, update, read back)
-- halves the orchestrator's per-call cost; memberships may precede their
-- collection in the statement because FK checks run at its end.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_compose_claim(
    p_template_id  uuid,
    p_kind         text,
    p_instance_key text,
    p_actor        text,
    OUT claimed_id     uuid,
    OUT claimed_digest text
)
-- Internal: its callers (fn_iu_compose, the orchestrator) check the gates and
-- carry the planner settings; a SET clause here would cost a GUC save/restore on
-- every call. It still refuses a template id that is not a template.
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM iu_core.iu_piece_collection WHERE id = p_template_id AND is_template AND kind = p_kind;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fn_iu_compose_claim: % is not a template of kind %', quote_nullable(p_template_id),
            quote_nullable(p_kind) USING ERRCODE = 'IU002';
    END IF;

    WITH pieces AS (
        SELECT m.iu_id, m.position, i.content_hash
          FROM iu_core.iu_piece_membership m
          JOIN iu_core.iu i ON i.id = m.iu_id
         WHERE m.collection_id = p_template_id
    ), claimed AS (
        INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template, manifest_digest, created_by)
        SELECT p_instance_key, p_kind, false,
               iu_core.fn_iu_piece_graph_digest(
                   (SELECT string_agg(iu_core.fn_iu_piece_graph_line(p.position, p.iu_id, p.content_hash), '|'
                                      ORDER BY p.position)
                      FROM pieces p)),
               p_actor
        ON CONFLICT (collection_key) DO NOTHING
        RETURNING id, manifest_digest
    ), members AS (
        INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
        SELECT c.id, p.iu_id, p.position FROM claimed c CROSS JOIN pieces p
    )
    SELECT c.id, c.manifest_digest INTO claimed_id, claimed_digest FROM claimed c;
END;
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_compose(
    template_key   text,
    instance_key   text,
    actor          text
) RETURNS uuid
LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    p_template_key ALIAS FOR $1;
    p_instance_key ALIAS FOR $2;
    p_actor ALIAS FOR $3;
    v_template    iu_core.iu_piece_collection%ROWTYPE;
    v_instance_id uuid;
BEGIN
    PERFORM iu_core.fn_iu_require_text('fn_iu_compose', 'template_key', p_template_key);
    PERFORM iu_core.fn_iu_require_text('fn_iu_compose', 'instance_key', p_instance_key);
    PERFORM iu_core.fn_iu_require_text('fn_iu_compose', 'actor', p_actor);

    IF iu_core.fn_iu_first_closed_gate(ARRAY['iu_core.composer_enabled']) IS NOT NULL THEN
        RAISE EXCEPTION 'fn_iu_compose: gate iu_core.composer_enabled is closed (template %, instance %)',
            quote_literal(p_template_key), quote_literal(p_instance_key)
            USING ERRCODE = 'IU005',
                  HINT = 'open it in the same transaction: SELECT iu_core.fn_iu_set_gates(true)';
    END IF;

    SELECT * INTO v_template FROM iu_core.iu_piece_collection WHERE collection_key = p_template_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown template %', quote_literal(p_template_key) USING ERRCODE = 'IU002';
    ELSIF NOT v_template.is_template THEN
        RAISE EXCEPTION 'collection % is an instance, not a template', quote_literal(p_template_key)
            USING ERRCODE = 'IU002';
    END IF;

    SELECT claimed_id INTO v_instance_id
      FROM iu_core.fn_iu_compose_claim(v_template.id, v_template.kind, p_instance_key, p_actor);
    IF v_instance_id IS NULL THEN
        RAISE EXCEPTION 'instance key % already exists', quote_literal(p_instance_key)
            USING ERRCODE = 'IU004';
    END IF;
    RETURN v_instance_id;
END;
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_collection_record_template_instance(
    template_id   uuid,
    instance_id   uuid,
    actor         text,
    origin        text
) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    p_template_id ALIAS FOR $1;
    p_instance_id ALIAS FOR $2;
    p_actor ALIAS FOR $3;
    p_origin ALIAS FOR $4;
    v_template_is_template boolean;
    v_instance_is_template boolean;
    v_lineage_id           bigint;
BEGIN
    IF p_template_id IS NULL OR p_instance_id IS NULL THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: template_id and instance_id are required (got %, %)',
            quote_nullable(p_template_id), quote_nullable(p_instance_id) USING ERRCODE = 'IU001';
    END IF;
    PERFORM iu_core.fn_iu_require_text('fn_iu_collection_record_template_instance', 'actor', p_actor);
    IF p_origin IS NULL OR p_origin NOT IN ('manual', 'auto') THEN
        RAISE EXCEPTION 'lineage origin must be manual or auto, got %', quote_nullable(p_origin)
            USING ERRCODE = 'IU007';
    END IF;

    SELECT is_template INTO v_template_is_template FROM iu_core.iu_piece_collection WHERE id = p_template_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown collection % (as template)', p_template_id USING ERRCODE = 'IU008';
    END IF;
    SELECT is_template INTO v_instance_is_template FROM iu_core.iu_piece_collection WHERE id = p_instance_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown collection % (as instance)', p_instance_id USING ERRCODE = 'IU008';
    END IF;
    IF NOT v_template_is_template OR v_instance_is_template THEN
        RAISE EXCEPTION 'lineage needs a template and an instance: % is_template=%, % is_template=%',
            p_template_id, v_template_is_template, p_instance_id, v_instance_is_template
            USING ERRCODE = 'IU010';
    END IF;

    INSERT INTO iu_core.iu_collection_template_instance_lineage
        (template_collection_id, instance_collection_id, origin, actor)
    VALUES (p_template_id, p_instance_id, p_origin, p_actor)
    ON CONFLICT (instance_collection_id) DO NOTHING
    RETURNING id INTO v_lineage_id;
    IF v_lineage_id IS NULL THEN
        RAISE EXCEPTION 'instance % already has a lineage row', p_instance_id USING ERRCODE = 'IU011';
    END IF;
    RETURN v_lineage_id;
END;
$$;
