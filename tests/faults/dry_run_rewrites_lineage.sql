-- dry_run_rewrites_lineage.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the dry run answers right, but first rewrites the actor's lineage rows with the values
-- they already hold (a way to lock them). Counts and every SPEC column stay as they were;
-- SPEC says a dry run "changes nothing". Must be caught by: rollback_dry_run_addressable.
-- Violates: [S1.rollback.dry-nothing]
-- Caught by: rollback_dry_run_addressable

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF $2 IS NOT FALSE THEN
        UPDATE iu_core.iu_collection_template_instance_lineage SET actor = $1           -- FAULT
         WHERE iu_collection_template_instance_lineage.actor = $1;
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
