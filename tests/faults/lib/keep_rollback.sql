-- lib/keep_rollback.sql: included (\ir) by the rollback faults in the folder above.
-- Keeps the build's own rollback under another name, so a fault can wrap it.

ALTER FUNCTION iu_core.fn_iu_auto_instantiate_rollback_by_actor(text, boolean)
    RENAME TO fn_iu_auto_instantiate_rollback_by_actor_before_fault;
