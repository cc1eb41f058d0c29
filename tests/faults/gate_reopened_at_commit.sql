-- gate_reopened_at_commit.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: a deferred trigger on iu_core.iu_gate opens auto_instantiate_enabled again at COMMIT of a
-- transaction that closed it: inside a scaleout the gates read closed, committed state shows one open.
-- Violates: [S1.gate.in-tx], [S1.gate.rows]
-- Caught by: gates_closed_after_commit

CREATE FUNCTION iu_core.fault_reopen_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE iu_core.iu_gate SET enabled = true                                                    -- FAULT
     WHERE gate_key = 'iu_core.auto_instantiate_enabled' AND NOT enabled;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER fault_reopen_gate AFTER UPDATE ON iu_core.iu_gate
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.gate_key = 'iu_core.auto_instantiate_enabled' AND OLD.enabled AND NOT NEW.enabled)
    EXECUTE FUNCTION iu_core.fault_reopen_gate();
