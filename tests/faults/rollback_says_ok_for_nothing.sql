-- rollback_says_ok_for_nothing.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback that saw the actor's log rows, then waited for a concurrent rollback
-- of the same actor and found nothing left, answers 'ok' with zero counts instead of 'noop'.
-- Alone it is exact; only the second of two concurrent callers answers wrongly.
-- (The generated mutant that drops our rollback's up-front lock behaves the same way.)
-- Must be caught by: probe_rollback_race.

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_seen   bigint;
    v_answer jsonb;
BEGIN
    SELECT count(*) INTO v_seen FROM iu_core.iu_auto_instantiate_event_log l WHERE l.actor = $1;
    v_answer := iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
    IF $2 IS FALSE AND v_seen > 0 AND v_answer->>'status' = 'noop' THEN
        v_answer := jsonb_build_object('status', 'ok', 'actor', $1, 'target_instance_ids', '[]'::jsonb,   -- FAULT
                                       'deleted_instance_collections', 0, 'deleted_lineage_rows', 0,
                                       'deleted_log_rows', 0, 'deleted_membership_rows', 0);
    END IF;
    RETURN v_answer;
END;
$$;
