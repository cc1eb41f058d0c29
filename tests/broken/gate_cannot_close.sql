-- gate_cannot_close.sql: a deliberately broken iu_core build (test fixture).
-- Bug: fn_iu_set_gates ignores requests to close the composer gate, so a
-- scaleout commits with iu_core.composer_enabled left open. Must be caught
-- by: gates_closed_in_tx and gates_closed_after_commit (tests/test_broken_builds.py).

CREATE OR REPLACE FUNCTION iu_core.fn_iu_set_gates(
    p_enabled   boolean,
    p_gate_keys text[] DEFAULT ARRAY['iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled']
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_changed integer;
BEGIN
    UPDATE iu_core.iu_gate
       SET enabled = p_enabled
     WHERE gate_key = ANY (p_gate_keys)
       AND (p_enabled OR gate_key <> 'iu_core.composer_enabled');
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    RETURN v_changed;
END;
$$;
