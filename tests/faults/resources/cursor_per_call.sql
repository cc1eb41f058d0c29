-- cursor_per_call.sql: a SPEC-only resource fault (loaded with --iu-extra-sql on ANY build).
-- Fault: every orchestrator call opens a cursor over its template's memberships under a name
-- of its own and never closes it, so each call's portal and executor state stay in the
-- backend's memory until COMMIT. Every answer and row stays right; the backend's memory
-- grows with every call of the transaction.
-- Must be caught by: backend_memory_holds_at_target_n (pytest -k scaleout at the default sizes).
-- Violates: [S1.orch.scale]
-- Caught by: backend_memory_holds_at_target_n

\ir ../lib/keep_orchestrator.sql

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_cursor refcursor := 'iu_fault_' || md5($1::text);                                -- FAULT
BEGIN
    OPEN v_cursor FOR SELECT m.iu_id, m.position                                      -- FAULT: never closed
      FROM iu_core.iu_piece_membership m JOIN iu_core.iu_piece_collection c ON c.id = m.collection_id
     WHERE c.collection_key = $3 ORDER BY m.position;
    RETURN iu_core.fn_iu_auto_instantiate_from_event_before_fault($1, $2, $3, $4, $5, $6);
END;
$$;
