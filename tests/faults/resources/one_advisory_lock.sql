-- one_advisory_lock.sql: NOT a fault, the control of the resource faults (loaded with --iu-extra-sql
-- on ANY build). Every orchestrator call takes the same transaction-level advisory lock: the
-- transaction holds one more lock in all, whatever N is, and no memory per call.
-- Must NOT be flagged: lock_table_holds_at_target_n and backend_memory_holds_at_target_n hold.
-- Contract clause: [S1.orch.scale] (harness/docs/contract.md).

\ir ../lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4242);
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
END;
$$;
