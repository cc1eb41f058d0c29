-- lib/keep_orchestrator.sql: included (\ir) by the orchestrator faults in the folder above.
-- Keeps the build's own orchestrator under another name, so a fault can wrap it
-- whatever the build does inside (SPEC fixes only its signature).

ALTER FUNCTION iu_core.fn_iu_auto_instantiate_from_event(uuid, text, text, text, text, text)
    RENAME TO fn_iu_auto_instantiate_from_event_before_fault;
