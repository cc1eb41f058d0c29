-- 60_views.sql
-- Deploys: the contract's three views in iu_core ([S1.view.*]).
-- Needs:   50_contract_functions.sql (the audit recomputes through fn_iu_manifest_digest).

CREATE OR REPLACE VIEW iu_core.v_iu_auto_instantiate_events AS
SELECT l.event_id,
       l.event_type,
       l.template_collection_key,
       l.instance_collection_id,
       i.collection_key                                            AS instance_collection_key,
       l.actor,
       l.emit_mode,
       coalesce(l.template_digest = l.instance_digest, false)      AS digest_match,
       l.idempotency_key,
       l.logged_at
  FROM iu_core.iu_auto_instantiate_event_log l
  LEFT JOIN iu_core.iu_piece_collection i ON i.id = l.instance_collection_id;

CREATE OR REPLACE VIEW iu_core.v_iu_auto_instantiate_template_summary AS
SELECT l.template_collection_key,
       l.emit_mode,
       count(*)                                                               AS instance_count,
       count(*) FILTER (WHERE l.logged_at >= now() - interval '1 hour')       AS instances_last_hour,
       max(l.logged_at)                                                       AS last_logged_at
  FROM iu_core.iu_auto_instantiate_event_log l
 GROUP BY l.template_collection_key, l.emit_mode;

-- One row per sidecar log row (per auto instance). Exactly one boolean column.
CREATE OR REPLACE VIEW iu_core.v_iu_digest_audit AS
SELECT l.idempotency_key,
       l.event_id,
       l.instance_collection_id,
       i.collection_key          AS instance_collection_key,
       l.template_collection_key,
       t.id                      AS template_collection_id,
       l.instance_digest         AS logged_instance_digest,
       i.manifest_digest         AS stored_instance_digest,
       r.instance_digest         AS recomputed_instance_digest,
       l.template_digest         AS logged_template_digest,
       t.manifest_digest         AS stored_template_digest,
       r.template_digest         AS recomputed_template_digest,
       coalesce(v.n_values = 6 AND v.n_distinct = 1 AND v.all_shaped, false) AS digest_ok,
       CASE
           WHEN i.id IS NULL THEN 'instance missing'
           WHEN t.id IS NULL THEN 'template missing'
           WHEN v.n_values < 6 THEN 'a digest is NULL'
           WHEN NOT v.all_shaped THEN 'a digest is not 16 lowercase hex characters'
           WHEN i.manifest_digest <> r.instance_digest THEN 'instance stored <> recomputed'
           WHEN t.manifest_digest <> r.template_digest THEN 'template stored <> recomputed'
           WHEN l.instance_digest <> i.manifest_digest THEN 'instance logged <> stored'
           WHEN l.template_digest <> t.manifest_digest THEN 'template logged <> stored'
           WHEN r.instance_digest <> r.template_digest THEN 'instance <> template'
           ELSE 'none'
       END                       AS drift_reason
  FROM iu_core.iu_auto_instantiate_event_log l
  LEFT JOIN iu_core.iu_piece_collection i ON i.id = l.instance_collection_id
  LEFT JOIN iu_core.iu_piece_collection t ON t.collection_key = l.template_collection_key
 CROSS JOIN LATERAL (
        SELECT CASE WHEN i.id IS NULL THEN NULL ELSE iu_core.fn_iu_manifest_digest(i.id) END AS instance_digest,
               CASE WHEN t.id IS NULL THEN NULL ELSE iu_core.fn_iu_manifest_digest(t.id) END AS template_digest
       ) r
 CROSS JOIN LATERAL (
        SELECT count(d)                                   AS n_values,
               count(DISTINCT d)                          AS n_distinct,
               coalesce(bool_and(d ~ '^[0-9a-f]{16}$'), false) AS all_shaped
          FROM unnest(ARRAY[l.instance_digest, i.manifest_digest, r.instance_digest,
                            l.template_digest, t.manifest_digest, r.template_digest]) AS d
       ) v;
