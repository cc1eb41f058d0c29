-- 30_impl_sql_helpers.sql
-- Deploys: iu_core_impl's LANGUAGE sql helpers: the graph digest, the two derived keys,
--          the gate read, lookups, and every INSERT / DELETE the procedures perform.
-- Needs:   10_tables.sql.

-- [S1.digest.*] sha256 over the members (position, iu id, content hash), position order,
-- length-prefixed so no two graphs encode alike; first 16 hex characters.
CREATE OR REPLACE FUNCTION iu_core_impl.graph_digest(p_collection_id uuid)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT left(encode(sha256(convert_to(coalesce(string_agg(
               m.position::text || '#' || m.iu_id::text || '#'
               || coalesce(length(u.content_hash)::text || '#' || u.content_hash, 'null'),
               '/' ORDER BY m.position), ''), 'UTF8')), 'hex'), 16)
      FROM iu_core.iu_piece_membership m
      LEFT JOIN iu_core.iu u ON u.id = m.iu_id
     WHERE m.collection_id = p_collection_id
$$;

-- [S1.orch.keys]
CREATE OR REPLACE FUNCTION iu_core_impl.idempotency_key(p_event_id uuid, p_template_key text, p_suffix text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(p_event_id::text || ':' || p_template_key || ':' || p_suffix)
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.auto_instance_key(p_suffix text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'tpl-inst:auto:' || p_suffix
$$;

-- The first of the wanted gates (gate_key order) that is not open; a missing row is closed.
CREATE OR REPLACE FUNCTION iu_core_impl.first_closed_gate(p_wanted text[])
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT w.gate_key
      FROM unnest(p_wanted) AS w(gate_key)
      LEFT JOIN iu_core.iu_gate g ON g.gate_key = w.gate_key
     WHERE g.enabled IS NOT TRUE
     ORDER BY w.gate_key
     LIMIT 1
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.collection_by_key(p_key text)
RETURNS iu_core.iu_piece_collection LANGUAGE sql STABLE AS $$
    SELECT c.* FROM iu_core.iu_piece_collection c WHERE c.collection_key = p_key
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.collection_by_id(p_id uuid)
RETURNS iu_core.iu_piece_collection LANGUAGE sql STABLE AS $$
    SELECT c.* FROM iu_core.iu_piece_collection c WHERE c.id = p_id
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.logged_call(p_idempotency_key text)
RETURNS iu_core.iu_auto_instantiate_event_log LANGUAGE sql STABLE AS $$
    SELECT l.* FROM iu_core.iu_auto_instantiate_event_log l WHERE l.idempotency_key = p_idempotency_key
$$;

-- The claim: the instance row itself. NULL when the key is taken (after waiting for an
-- uncommitted holder of the same key to finish).
CREATE OR REPLACE FUNCTION iu_core_impl.claim_instance(p_instance_key text, p_kind text, p_digest text, p_actor text)
RETURNS uuid LANGUAGE sql VOLATILE AS $$
    INSERT INTO iu_core.iu_piece_collection (collection_key, kind, is_template, manifest_digest, created_by)
    VALUES (p_instance_key, p_kind, false, p_digest, p_actor)
    ON CONFLICT (collection_key) DO NOTHING
    RETURNING id
$$;

-- [S1.compose.instance] the instance's memberships point at the template's own units.
CREATE OR REPLACE FUNCTION iu_core_impl.copy_members(p_template_id uuid, p_instance_id uuid)
RETURNS integer LANGUAGE sql VOLATILE AS $$
    WITH copied AS (
        INSERT INTO iu_core.iu_piece_membership (collection_id, iu_id, position)
        SELECT p_instance_id, m.iu_id, m.position
          FROM iu_core.iu_piece_membership m
         WHERE m.collection_id = p_template_id
        RETURNING 1
    )
    SELECT count(*)::integer FROM copied
$$;

-- NULL when the instance already has a template.
CREATE OR REPLACE FUNCTION iu_core_impl.insert_lineage(p_template_id uuid, p_instance_id uuid, p_actor text, p_origin text)
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    INSERT INTO iu_core.iu_collection_template_instance_lineage
           (template_collection_id, instance_collection_id, origin, actor)
    VALUES (p_template_id, p_instance_id, p_origin, p_actor)
    ON CONFLICT (instance_collection_id) DO NOTHING
    RETURNING lineage_id
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.insert_log(
    p_idempotency_key text, p_event_id uuid, p_event_type text, p_template_key text,
    p_instance_id uuid, p_actor text, p_emit_mode text, p_template_digest text, p_instance_digest text)
RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO iu_core.iu_auto_instantiate_event_log
           (idempotency_key, event_id, event_type, template_collection_key, instance_collection_id,
            actor, emit_mode, template_digest, instance_digest)
    VALUES (p_idempotency_key, p_event_id, p_event_type, p_template_key, p_instance_id,
            p_actor, p_emit_mode, p_template_digest, p_instance_digest)
$$;

-- [S1.rollback.*] the actor's auto instances: auto lineage of exactly this actor (text
-- equality), never a template, and no sidecar log row of another actor pointing at it
-- ([S1.rollback.spares]: such an instance, with all its rows, is left alone); sorted.
CREATE OR REPLACE FUNCTION iu_core_impl.rollback_targets(p_actor text)
RETURNS uuid[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(l.instance_collection_id ORDER BY l.instance_collection_id), '{}'::uuid[])
      FROM iu_core.iu_collection_template_instance_lineage l
      JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id AND NOT c.is_template
     WHERE l.origin = 'auto'
       AND l.actor = p_actor
       AND NOT EXISTS (SELECT 1
                         FROM iu_core.iu_auto_instantiate_event_log o
                        WHERE o.instance_collection_id = l.instance_collection_id
                          AND o.actor <> p_actor)
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.count_log_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM iu_core.iu_auto_instantiate_event_log WHERE instance_collection_id = ANY (p_ids)
$$;
CREATE OR REPLACE FUNCTION iu_core_impl.count_lineage_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM iu_core.iu_collection_template_instance_lineage WHERE instance_collection_id = ANY (p_ids)
$$;
CREATE OR REPLACE FUNCTION iu_core_impl.count_instance_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM iu_core.iu_piece_collection WHERE id = ANY (p_ids) AND NOT is_template
$$;
CREATE OR REPLACE FUNCTION iu_core_impl.count_membership_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM iu_core.iu_piece_membership WHERE collection_id = ANY (p_ids)
$$;

CREATE OR REPLACE FUNCTION iu_core_impl.delete_log_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    WITH gone AS (DELETE FROM iu_core.iu_auto_instantiate_event_log
                   WHERE instance_collection_id = ANY (p_ids) RETURNING 1)
    SELECT count(*) FROM gone
$$;
CREATE OR REPLACE FUNCTION iu_core_impl.delete_lineage_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    WITH gone AS (DELETE FROM iu_core.iu_collection_template_instance_lineage
                   WHERE instance_collection_id = ANY (p_ids) RETURNING 1)
    SELECT count(*) FROM gone
$$;
CREATE OR REPLACE FUNCTION iu_core_impl.delete_instance_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    WITH gone AS (DELETE FROM iu_core.iu_piece_collection
                   WHERE id = ANY (p_ids) AND NOT is_template RETURNING 1)
    SELECT count(*) FROM gone
$$;
CREATE OR REPLACE FUNCTION iu_core_impl.delete_membership_rows(p_ids uuid[])
RETURNS bigint LANGUAGE sql VOLATILE AS $$
    WITH gone AS (DELETE FROM iu_core.iu_piece_membership
                   WHERE collection_id = ANY (p_ids) RETURNING 1)
    SELECT count(*) FROM gone
$$;
