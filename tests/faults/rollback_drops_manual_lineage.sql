-- rollback_drops_manual_lineage.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback also deletes the actor's manual lineage rows (SPEC: it never touches
-- manual lineage). A scaleout has none, so the run's own rollback looks right.
-- Must be caught by: probe_rollback_spares_others.
-- Violates: [S1.rollback.spares]
-- Caught by: probe_rollback_spares_others

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF $2 IS FALSE THEN
        DELETE FROM iu_core.iu_collection_template_instance_lineage                      -- FAULT
         WHERE iu_collection_template_instance_lineage.actor = $1 AND origin = 'manual';
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
