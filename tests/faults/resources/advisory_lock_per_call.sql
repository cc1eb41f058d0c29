-- advisory_lock_per_call.sql: a SPEC-only resource fault (loaded with --iu-extra-sql on ANY build).
-- Fault: every orchestrator call takes a transaction-level advisory lock keyed on its event, so
-- each call leaves one more entry in the shared lock table until COMMIT (advisory locks never
-- use the fast path). Every answer and row stays right, and at N <= 10,000 the run holds;
-- one transaction of 100,000 calls fails with SQLSTATE 53200 "out of shared memory".
-- Must be caught by: lock_table_holds_at_target_n (pytest -k scaleout at the default sizes).
-- Violates: [S1.orch.scale]
-- Caught by: lock_table_holds_at_target_n

\ir ../lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended($1::text, 0));                      -- FAULT
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
END;
$$;
