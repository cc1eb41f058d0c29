-- orchestrator_swallows_errors.sql -- a DELIBERATELY BROKEN iu_core build. Never load it in production.
--
-- Used by tests/test_bad_input.py::test_bad_input_checks_catch_an_orchestrator_that_swallows_errors,
-- loaded as extra SQL after the real schema (DatabasePool with config.extra_sql), to prove that the
-- bad-input checks can fail: run over this build they must report problems, over the real one none.
--
-- The bug, in two "helpful" shapes that SPEC section 1 forbids (bad input must raise an error with
-- its own SQLSTATE and abort the caller's transaction):
--   1. A null or blank suffix is silently replaced by the event id, so the call composes an
--      instance ('ok') instead of raising IU001. (Its btrim also trims a valid ' padded ' suffix to
--      'padded': the instance key is no longer 'tpl-inst:auto:' || suffix, which the tests catch too.)
--   2. Every error of the real orchestrator (IU001 .. IU009: unknown template, undefined emit mode,
--      suffix taken by another event, too long, ...) is caught and turned into a returned
--      {"status": "error", "sqlstate": ..., "message": ...}: the caller's transaction goes on as if
--      nothing happened, and a driver that only counts 'ok'/'duplicate'/'gated' never notices.
--
-- The real function is kept under another name and wrapped, so this file follows whatever the
-- build under test does for valid input (the baselines, which call the orchestrator, still load).

ALTER FUNCTION iu_core.fn_iu_auto_instantiate_from_event(uuid, text, text, text, text, text)
    RENAME TO fn_iu_auto_instantiate_from_event_strict;

CREATE FUNCTION iu_core.fn_iu_auto_instantiate_from_event(
    event_id       uuid,
    event_type     text,
    template_key   text,
    suffix         text,
    actor          text,
    emit_mode      text DEFAULT 'live'
) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    -- BUG 1: invent a suffix instead of refusing a missing one.
    RETURN iu_core.fn_iu_auto_instantiate_from_event_strict(
        $1, $2, $3, coalesce(nullif(btrim($4), ''), $1::text), $5, $6);
EXCEPTION WHEN OTHERS THEN
    -- BUG 2: swallow the error and report it as a status.
    RETURN jsonb_build_object('status', 'error', 'sqlstate', SQLSTATE, 'message', SQLERRM);
END;
$$;
