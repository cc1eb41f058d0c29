-- rollback_counts_before_it_waits.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback reports the actor's log rows as it saw them before waiting for a
-- concurrent rollback of the same actor, not what it deleted. Alone it is exact; a second
-- concurrent caller reports rows the first one deleted.
-- Must be caught by: probe_rollback_race.
-- Violates: [S1.rollback.real]
-- Caught by: probe_rollback_race

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_seen   bigint;
    v_answer jsonb;
BEGIN
    SELECT count(*) INTO v_seen FROM iu_core.iu_auto_instantiate_event_log l WHERE l.actor = $1;
    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
    IF $2 IS FALSE AND v_seen > 0 THEN
        v_answer := v_answer || jsonb_build_object('deleted_log_rows', v_seen);         -- FAULT
    END IF;
    RETURN v_answer;
END;
$$;
