-- emit_mode_checked_first.sql: a conforming variation (loaded with --iu-extra-sql on any build), NOT a fault.
-- The orchestrator checks emit_mode before anything else, so a NULL or empty emit_mode raises the
-- 'undefined emit mode' SQLSTATE, not the missing-argument one: SPEC asks for one SQLSTATE per
-- kind, not for one order of the checks. Every invariant must still hold.

ALTER FUNCTION iu_core.fn_iu_auto_instantiate_from_event(uuid, text, text, text, text, text) RENAME TO fn_iu_auto_instantiate_from_event_before_variation;
CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(event_id uuid, event_type text, template_key text,
    suffix text, actor text, emit_mode text DEFAULT 'live') RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF $6 IS NULL OR $6 NOT IN ('live') THEN
    RAISE EXCEPTION 'emit_mode % is not defined', quote_nullable($6) USING ERRCODE = 'XEMOD';
  END IF;
  RETURN iu_core.fn_iu_auto_instantiate_from_event_before_variation($1,$2,$3,$4,$5,$6);
END $$;
