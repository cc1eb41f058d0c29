-- rollback_strips_template_pieces.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback deletes the pieces (memberships) of every collection the actor's log rows
-- name, templates included, as a build does whose targets join the collection table on the wrong
-- column (independent build mutant rollback_by_actor:relational:L34C54). A scaleout's log names
-- only instances, so the run's own rollback looks right; a log row naming a template shows it.
-- Violates: [S1.rollback.spares]
-- Caught by: probe_rollback_spares_others

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF $2 IS FALSE THEN
        DELETE FROM iu_core.iu_piece_membership m                                        -- FAULT
         USING iu_core.iu_auto_instantiate_event_log l, iu_core.iu_piece_collection c
         WHERE l.actor = $1 AND c.id = l.instance_collection_id AND c.is_template
           AND m.collection_id = c.id;
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
