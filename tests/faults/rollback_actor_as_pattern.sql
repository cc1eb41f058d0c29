-- rollback_actor_as_pattern.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a real rollback also rolls back every actor the caller's name matches as a LIKE pattern
-- followed by anything (its '_' a wildcard, and its longer names). SPEC: actors are compared exactly.
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
                        WHERE l.actor LIKE $1 || '%' AND l.actor <> $1 LOOP                        -- FAULT
            PERFORM iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault(v_other, false);
        END LOOP;
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
