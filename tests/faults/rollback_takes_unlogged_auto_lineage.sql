-- rollback_takes_unlogged_auto_lineage.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback also deletes every 'auto' lineage row that no sidecar log row backs, whoever
-- its actor, as a build does that reads its targets from the lineage and loses the actor's filter
-- (blind build mutant rollback_targets:where_conjunct:L10C12). SPEC functions write such rows
-- (fn_iu_compose, then fn_iu_collection_record_template_instance with origin 'auto'); a scaleout
-- writes none, so the run's own rollback looks right.
-- Violates: [S1.rollback.spares]
-- Caught by: probe_rollback_spares_others

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF $2 IS FALSE THEN
        DELETE FROM iu_core.iu_collection_template_instance_lineage g                    -- FAULT
         WHERE g.origin = 'auto'
           AND NOT EXISTS (SELECT 1 FROM iu_core.iu_auto_instantiate_event_log l
                            WHERE l.instance_collection_id = g.instance_collection_id);
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
