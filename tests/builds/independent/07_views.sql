-- 07_views.sql
-- Deploys: iu_core.v_iu_auto_instantiate_events,
--          iu_core.v_iu_auto_instantiate_template_summary, iu_core.v_iu_digest_audit.
-- Needs:   02_relations.sql, 03_piece_graph.sql.

-- One row per sidecar log row.
CREATE OR REPLACE VIEW iu_core.v_iu_auto_instantiate_events AS
SELECT l.event_id,
       l.event_type,
       l.template_collection_key AS template_key,
       c.collection_key          AS instance_collection_key,
       l.instance_collection_id  AS instance_id,
       l.actor                   AS actor_name,
       l.emit_mode,
       l.idempotency_key,
       l.template_digest = l.instance_digest AS digest_match,
       l.claimed_at
  FROM iu_core.iu_auto_instantiate_event_log l
  LEFT JOIN iu_core.iu_piece_collection c ON c.id = l.instance_collection_id;

-- SPEC's columns exactly.
CREATE OR REPLACE VIEW iu_core.v_iu_auto_instantiate_template_summary AS
SELECT l.template_collection_key,
       l.emit_mode,
       count(*)::bigint AS instance_count,
       count(*) FILTER (WHERE l.claimed_at >= statement_timestamp() - interval '1 hour')::bigint AS instances_last_hour
  FROM iu_core.iu_auto_instantiate_event_log l
 GROUP BY l.template_collection_key, l.emit_mode;

-- Per auto instance (log row): the digests logged and stored at compose time
-- against the ones recomputed now from the piece graphs of the instance and of
-- its template, and in_sync: all six agree and are 16 lowercase hex
-- characters. Set-based: each collection's graph is aggregated once (no call per row).
CREATE OR REPLACE VIEW iu_core.v_iu_digest_audit AS
SELECT l.instance_collection_id    AS instance_id,
       ig.collection_key           AS instance_collection_key,
       l.template_collection_key   AS template_key,
       l.actor                     AS actor_name,
       l.instance_digest           AS logged_instance_digest,
       ig.stored_digest            AS stored_instance_digest,
       ig.graph_sha16              AS recomputed_instance_digest,
       l.template_digest           AS logged_template_digest,
       tg.stored_digest            AS stored_template_digest,
       tg.graph_sha16              AS recomputed_template_digest,
       coalesce(ig.graph_sha16 ~ '^[0-9a-f]{16}$'
                AND l.instance_digest = ig.graph_sha16
                AND ig.stored_digest = ig.graph_sha16
                AND l.template_digest = ig.graph_sha16
                AND tg.stored_digest = ig.graph_sha16
                AND tg.graph_sha16 = ig.graph_sha16, false) AS in_sync
  FROM iu_core.iu_auto_instantiate_event_log l
  LEFT JOIN iu_core.v_iu_piece_graph ig ON ig.collection_id = l.instance_collection_id
  LEFT JOIN iu_core.v_iu_piece_graph tg ON tg.collection_key = l.template_collection_key;
