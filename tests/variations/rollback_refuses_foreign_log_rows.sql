-- rollback_refuses_foreign_log_rows.sql: a conforming variation (loaded with --iu-extra-sql on any build),
-- NOT a fault. Its real rollback deletes every collection the actor's log rows name, as builds that take
-- their targets from the log do: when one of them also has manual lineage (an auto log row pointing at a
-- manual instance: a state no SPEC function writes), the foreign keys refuse it with 23503 and the call
-- changes nothing. SPEC's "never touches manual lineage" holds; every invariant must too.

\ir ../faults/lib/keep_rollback.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(actor text, dry_run boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_foreign uuid;
BEGIN
    IF $2 IS FALSE THEN
        SELECT l.instance_collection_id INTO v_foreign
          FROM iu_core.iu_auto_instantiate_event_log l
          JOIN iu_core.iu_collection_template_instance_lineage g
            ON g.instance_collection_id = l.instance_collection_id AND g.origin = 'manual'
         WHERE l.actor = $1
         LIMIT 1;
        IF v_foreign IS NOT NULL THEN
            RAISE EXCEPTION 'collection % is still referenced by manual lineage', v_foreign
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'the actor''s log names an instance that is not the actor''s auto instance';
        END IF;
    END IF;
    RETURN iu_core.fn_iu_auto_instantiate_rollback_by_actor_before_fault($1, $2);
END;
$$;
