-- subtransaction_per_call.sql: NOT a fault, a control of the resource faults (loaded with --iu-extra-sql
-- on ANY build). Every orchestrator call runs inside a PL/pgSQL block with an exception handler, so each
-- call is a subtransaction that writes (it gets an XID). At subcommit PostgreSQL releases the
-- subtransaction's XID lock, so the lock table stays flat; past 64 the backend's subtransaction cache
-- overflows (a slowdown for snapshots, not a failure).
-- Must NOT be flagged: lock_table_holds_at_target_n and backend_memory_holds_at_target_n hold; the report
-- shows one subtransaction per call (PostgreSQL 16+).
-- Contract clause: [S1.orch.scale] (harness/docs/contract.md).

\ir ../lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
    EXCEPTION WHEN unique_violation THEN
        RAISE;
    END;
END;
$$;
