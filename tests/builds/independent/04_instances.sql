-- 04_instances.sql
-- Deploys: iu_core.iu_put_instance (internal), iu_core.fn_iu_compose,
--          iu_core.fn_iu_collection_record_template_instance.
-- Needs:   02_relations.sql, 03_piece_graph.sql.

-- Writes one instance collection (with the id, key and digest it is given) and
-- its memberships (the given iu ids at the given positions) in one statement.
-- Returns false, writing nothing, when the collection key is already taken:
-- its unique index is where concurrent composers of one key queue. Internal:
-- callers have checked arguments, gates and the template.
CREATE OR REPLACE FUNCTION iu_core.iu_put_instance(
    new_id     uuid,
    new_key    text,
    new_kind   text,
    positions  integer[],
    iu_ids     uuid[],
    digest     text,
    made_by    text
) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    made bigint;
BEGIN
    WITH made_collection AS (
        INSERT INTO iu_core.iu_piece_collection (id, collection_key, kind, is_template, manifest_digest, composed_by)
        VALUES (new_id, new_key, new_kind, false, digest, made_by)
        ON CONFLICT ON CONSTRAINT iu_piece_collection_key_uq DO NOTHING
        RETURNING iu_core.iu_piece_collection.id
    ), made_members AS (
        INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
        SELECT mc.id, p.piece_iu, p.piece_position
          FROM made_collection mc
         CROSS JOIN unnest(iu_ids, positions) AS p(piece_iu, piece_position)
    )
    SELECT count(*) INTO made FROM made_collection;
    RETURN made = 1;
END;
$$;

-- Composes instance_key from template_key: a new collection whose memberships
-- point at the template's own iu rows, stamped with its manifest digest.
-- Checks in this order: arguments, template, gate, key.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_compose(
    template_key text,
    instance_key text,
    actor        text
) RETURNS uuid
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    arg_template_key text := template_key;
    arg_instance_key text := instance_key;
    arg_actor        text := actor;
    missing   text;
    too_long  text;
    tpl       record;
    gate_open boolean;
    new_id    uuid := gen_random_uuid();
BEGIN
    missing := CASE WHEN iu_core.iu_is_blank(arg_template_key) THEN 'template_key'
                    WHEN iu_core.iu_is_blank(arg_instance_key) THEN 'instance_key'
                    WHEN iu_core.iu_is_blank(arg_actor) THEN 'actor' END;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'fn_iu_compose: % must be a non-blank text, got %', missing,
            quote_nullable(CASE missing WHEN 'template_key' THEN arg_template_key
                                        WHEN 'instance_key' THEN arg_instance_key ELSE arg_actor END)
            USING ERRCODE = 'XBNUL';
    END IF;
    too_long := CASE WHEN length(arg_template_key) > 1000 THEN 'template_key'
                     WHEN length(arg_instance_key) > 1000 THEN 'instance_key'
                     WHEN length(arg_actor) > 1000 THEN 'actor' END;
    IF too_long IS NOT NULL THEN
        RAISE EXCEPTION 'fn_iu_compose: % is longer than 1000 characters', too_long
            USING ERRCODE = 'XBLEN';
    END IF;

    SELECT g.collection_id, g.kind, g.is_template, g.positions, g.iu_ids, g.graph_sha16 INTO tpl
      FROM iu_core.v_iu_piece_graph g
     WHERE g.collection_key = arg_template_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fn_iu_compose: no template has key %', quote_literal(arg_template_key)
            USING ERRCODE = 'XBTPL';
    ELSIF NOT tpl.is_template THEN
        RAISE EXCEPTION 'fn_iu_compose: % is an instance collection; compose from a template',
            quote_literal(arg_template_key) USING ERRCODE = 'XBINS';
    END IF;

    SELECT ig.enabled INTO gate_open FROM iu_core.iu_gate ig WHERE ig.gate_key = 'iu_core.composer_enabled';
    IF gate_open IS NOT TRUE THEN
        RAISE EXCEPTION 'fn_iu_compose: gate iu_core.composer_enabled is closed, % not composed from %',
            quote_literal(arg_instance_key), quote_literal(arg_template_key)
            USING ERRCODE = 'XBGAT',
                  HINT = 'UPDATE iu_core.iu_gate SET enabled = true inside the calling transaction, and close it before COMMIT';
    END IF;

    IF NOT iu_core.iu_put_instance(new_id, arg_instance_key, tpl.kind, tpl.positions, tpl.iu_ids,
                                   tpl.graph_sha16, arg_actor) THEN
        RAISE EXCEPTION 'fn_iu_compose: collection key % is taken', quote_literal(arg_instance_key)
            USING ERRCODE = 'XBDUP';
    END IF;
    RETURN new_id;
END;
$$;

-- One lineage row template -> instance; returns its lineage_no.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_collection_record_template_instance(
    template_id uuid,
    instance_id uuid,
    actor       text,
    origin      text
) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    arg_template_id uuid := template_id;
    arg_instance_id uuid := instance_id;
    arg_actor       text := actor;
    arg_origin      text := origin;
    tpl_is_template boolean;
    ins_is_template boolean;
    recorded        bigint;
BEGIN
    IF arg_template_id IS NULL OR arg_instance_id IS NULL THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: template_id and instance_id must be given, got % and %',
            quote_nullable(arg_template_id), quote_nullable(arg_instance_id) USING ERRCODE = 'XBNUL';
    END IF;
    IF iu_core.iu_is_blank(arg_actor) THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: actor must be a non-blank text, got %',
            quote_nullable(arg_actor) USING ERRCODE = 'XBNUL';
    ELSIF length(arg_actor) > 1000 THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: actor is longer than 1000 characters'
            USING ERRCODE = 'XBLEN';
    END IF;
    IF arg_origin IS DISTINCT FROM 'manual' AND arg_origin IS DISTINCT FROM 'auto' THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: origin must be manual or auto, got %',
            quote_nullable(arg_origin) USING ERRCODE = 'XBORG';
    END IF;

    SELECT t.is_template INTO tpl_is_template FROM iu_core.iu_piece_collection t WHERE t.id = arg_template_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: no collection has id % (template_id)',
            arg_template_id USING ERRCODE = 'XBCOL';
    END IF;
    SELECT i.is_template INTO ins_is_template FROM iu_core.iu_piece_collection i WHERE i.id = arg_instance_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: no collection has id % (instance_id)',
            arg_instance_id USING ERRCODE = 'XBCOL';
    END IF;
    IF NOT tpl_is_template OR ins_is_template THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: % must be a template and % an instance (is_template: % and %)',
            arg_template_id, arg_instance_id, tpl_is_template, ins_is_template USING ERRCODE = 'XBLNK';
    END IF;

    INSERT INTO iu_core.iu_collection_template_instance_lineage
        (template_collection_id, instance_collection_id, origin, actor)
    VALUES (arg_template_id, arg_instance_id, arg_origin, arg_actor)
    ON CONFLICT ON CONSTRAINT iu_lineage_instance_uq DO NOTHING
    RETURNING iu_core.iu_collection_template_instance_lineage.lineage_no INTO recorded;
    IF recorded IS NULL THEN
        RAISE EXCEPTION 'fn_iu_collection_record_template_instance: instance % already has a lineage row',
            arg_instance_id USING ERRCODE = 'XBLN2';
    END IF;
    RETURN recorded;
END;
$$;
