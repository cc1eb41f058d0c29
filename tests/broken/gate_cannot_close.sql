-- gate_cannot_close.sql: a deliberately broken iu_core build (test fixture).
-- Bug: once iu_core.composer_enabled is open, a trigger on iu_gate keeps it
-- open, so a scaleout commits with the gate left open, however the caller
-- closes it (UPDATE of iu_gate or fn_iu_set_gates). Must be caught by:
-- gates_closed_in_tx and gates_closed_after_commit (tests/test_broken_builds.py).

CREATE OR REPLACE FUNCTION iu_core.fn_broken_keep_composer_open()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.gate_key = 'iu_core.composer_enabled' AND OLD.enabled THEN
        NEW.enabled := true;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER broken_keep_composer_open
    BEFORE UPDATE ON iu_core.iu_gate
    FOR EACH ROW EXECUTE FUNCTION iu_core.fn_broken_keep_composer_open();
