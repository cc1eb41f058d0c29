-- orchestrator_scans_per_call.sql: a SPEC-only scaling fault (loaded with --iu-extra-sql on ANY build).
-- Fault: every orchestrator call reads all of its actor's earlier log rows once (a scan per
-- call, as a missing index or a plan gone bad would; each row made costly enough (repeat 16:
-- x5.6 and x6.5 over N = 100 -> 1,000 at load 8 on 2 cores, where repeat 8 fell to x2.5 once)
-- that the growth stands far out of a shared machine's noise), so each call costs more as the run's own
-- rows grow: per-instance cost rises with N, every answer and invariant stays right.
-- Must be caught by: scaling_per_instance_cost (iu-harness run over a >= 10x step of N) and the
-- pytest scaling test (tests/test_scaling.py). Not in tests/faults/ itself: at one N nothing is wrong.

\ir ../lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(md5(repeat(l::text, 16))) FROM iu_core.iu_auto_instantiate_event_log l WHERE l.actor = $5; -- FAULT
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
END;
$$;
