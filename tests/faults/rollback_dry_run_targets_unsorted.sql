-- rollback_dry_run_targets_unsorted.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a dry run names the right instances and counts, but target_instance_ids is in descending
-- order (SPEC: sorted). Nothing else changes.
-- Violates: [S1.rollback.dry-answer]
-- Caught by: rollback_dry_run_addressable

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN jsonb_typeof(a->'target_instance_ids') = 'array'
                THEN jsonb_set(a, '{target_instance_ids}',                                           -- FAULT
                               (SELECT coalesce(jsonb_agg(t ORDER BY t::text DESC), '[]'::jsonb)
                                  FROM jsonb_array_elements(a->'target_instance_ids') t))
                ELSE a END
      FROM iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2) AS a
$$;
