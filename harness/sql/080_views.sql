-- 080_views.sql
-- Deploys: iu_core.v_iu_auto_instantiate_events,
--          iu_core.v_iu_auto_instantiate_template_summary, iu_core.v_iu_digest_audit.
-- Needs:   010_tables.sql, 040_digest.sql.

CREATE OR REPLACE VIEW iu_core.v_iu_auto_instantiate_events AS
SELECT l.id AS log_id,
       l.event_id,
       l.event_type,
       l.template_collection_key,
       l.instance_collection_id,
       c.collection_key AS instance_key,
       l.actor,
       l.emit_mode,
       l.idempotency_key,
       l.template_digest,
       l.instance_digest,
       l.template_digest = l.instance_digest AS digest_match,
       l.created_at
  FROM iu_core.iu_auto_instantiate_event_log l
  LEFT JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id;

CREATE OR REPLACE VIEW iu_core.v_iu_auto_instantiate_template_summary AS
SELECT template_collection_key,
       emit_mode,
       count(*) AS instance_count,
       count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS instances_last_hour
  FROM iu_core.iu_auto_instantiate_event_log
 GROUP BY template_collection_key, emit_mode;

-- Per auto instance: the digests stored at compose time against digests
-- recomputed now from the piece graph. Templates are recomputed once each (a
-- materialized CTE, through fn_iu_manifest_digest). Instances are recomputed in
-- one grouped pass over the membership rows, in the primary key's order, with the
-- digest's two inlinable parts (040_digest.sql): the same digest as
-- fn_iu_manifest_digest (an instance without pieces has the digest of the empty
-- graph), without a PL/pgSQL call and its statement's start-up per instance; about
-- a third of the time at 100,000 instances (PERFORMANCE.md).
CREATE OR REPLACE VIEW iu_core.v_iu_digest_audit AS
WITH templates AS MATERIALIZED (
    SELECT t.id, t.collection_key, t.manifest_digest AS stored_digest,
           iu_core.fn_iu_manifest_digest(t.id) AS recomputed_digest
      FROM iu_core.iu_piece_collection t
     WHERE t.is_template
), graphs AS (
    SELECT m.collection_id,
           iu_core.fn_iu_piece_graph_digest(
               string_agg(iu_core.fn_iu_piece_graph_line(m.position, m.iu_id, u.content_hash), '|'
                          ORDER BY m.position)) AS digest
      FROM iu_core.iu_piece_membership m
      JOIN iu_core.iu u ON u.id = m.iu_id
     GROUP BY m.collection_id
)
SELECT l.instance_collection_id,
       i.collection_key AS instance_key,
       l.template_collection_key,
       l.actor,
       l.instance_digest AS logged_instance_digest,
       i.manifest_digest AS stored_instance_digest,
       r.recomputed_instance_digest,
       l.template_digest AS logged_template_digest,
       t.stored_digest AS stored_template_digest,
       t.recomputed_digest AS recomputed_template_digest,
       (l.instance_digest = i.manifest_digest
        AND i.manifest_digest = r.recomputed_instance_digest
        AND l.template_digest = t.recomputed_digest
        AND t.stored_digest = t.recomputed_digest
        AND i.manifest_digest = t.recomputed_digest) IS TRUE AS digest_ok
  FROM iu_core.iu_auto_instantiate_event_log l
  JOIN iu_core.iu_piece_collection i ON i.id = l.instance_collection_id
  LEFT JOIN graphs g ON g.collection_id = i.id
  CROSS JOIN LATERAL (SELECT coalesce(g.digest, iu_core.fn_iu_piece_graph_digest(NULL))
                             AS recomputed_instance_digest) r
  LEFT JOIN templates t ON t.collection_key = l.template_collection_key;
