-- rollback_noop_answers_ok.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: an actor with nothing to roll back gets status 'ok' (with its zero counts) instead of 'noop'.
-- Violates: [S1.rollback.noop]
-- Caught by: probe_rollback_spares_others

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN a->>'status' = 'noop' THEN a || '{"status": "ok"}'::jsonb ELSE a END           -- FAULT
      FROM iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2) AS a
$$;
