-- rollback_actor_case_insensitive.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback also rolls back every actor whose name equals the caller's but for case
-- (SPEC: actors are compared exactly, as text). A run with one actor never shows it.
-- Violates: [S1.rollback.spares]
-- Caught by: probe_rollback_spares_others

\ir lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_other text;
BEGIN
    IF $2 IS FALSE THEN
        FOR v_other IN SELECT DISTINCT l.actor FROM iu_core.iu_auto_instantiate_event_log l
                        WHERE lower(l.actor) = lower($1) AND l.actor <> $1 LOOP                  -- FAULT
            PERFORM iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault(v_other, false);
        END LOOP;
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
