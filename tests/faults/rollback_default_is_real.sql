-- rollback_default_is_real.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the rollback's dry_run defaults to false, so a call with the actor alone deletes. Every call
-- that passes dry_run explicitly is right.
-- Violates: [S1.rollback.dry-default]
-- Caught by: probe_rollback_spares_others

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT false) -- FAULT
RETURNS jsonb LANGUAGE sql AS $$
    SELECT iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2)
$$;
