-- template_checked_first.sql: a conforming variation (loaded with --iu-extra-sql on any build), NOT a fault.
-- The orchestrator looks the template up before any other argument check and words its message in
-- plain English: a NULL or empty template_key gets "no template NULL exists" / "no template '' exists"
-- with the unknown-template SQLSTATE. Such a message names the value, not the argument, and is as
-- clear as SPEC asks (found by a review of probe_bad_input). Every invariant must still hold.

ALTER FUNCTION iu_core.fn_iu_auto_instantiate_from_event(uuid, text, text, text, text, text) RENAME TO fn_iu_auto_instantiate_from_event_before_variation;
CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM iu_core.iu_piece_collection WHERE collection_key = $3) THEN
    RAISE EXCEPTION 'no template % exists', quote_nullable($3) USING ERRCODE = 'XTMPL';
  END IF;
  RETURN iu_core.fn_iu_auto_instantiate_from_event_before_variation($1, $2, $3, $4, $5, $6);
END;
$$;
