-- rollback_dry_run_locks_its_rows.sql: a conforming variation (loaded with --iu-extra-sql on any build),
-- NOT a fault. Its dry run locks the actor's log rows (FOR UPDATE) before counting, as a build may that
-- wants the counts it answers to be the ones a real run would delete. A row lock writes no row (SPEC's
-- "changes nothing" holds), but it is held until the caller's transaction ends: the harness runs the
-- dry run on its post-commit session, beside the run's session that then deletes those very rows, and
-- must neither wait for itself there nor fail the build.

\ir ../faults/lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF $2 IS NOT FALSE THEN
        PERFORM 1 FROM iu_core.iu_auto_instantiate_event_log l WHERE l.actor = $1 ORDER BY l.id FOR UPDATE;
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
