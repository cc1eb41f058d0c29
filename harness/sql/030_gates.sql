-- 030_gates.sql
-- Deploys: iu_core.fn_iu_set_gates, iu_core.fn_iu_first_closed_gate.
-- Needs:   010_tables.sql, 020_reference_data.sql.
-- Gates are opened and closed inside the caller's transaction (the seeds'
-- "in-TX gate toggle"): a committed database never shows a scaleout's gate open.

-- Sets the named gates (default: both) and returns how many rows changed.
-- Rows are locked in gate_key order first: two transactions toggling the
-- same gates then queue instead of deadlocking.
CREATE OR REPLACE FUNCTION iu_core.fn_iu_set_gates(
    p_enabled   boolean,
    p_gate_keys text[] DEFAULT ARRAY['iu_core.auto_instantiate_enabled', 'iu_core.composer_enabled']
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_unknown text;
    v_changed integer;
BEGIN
    IF p_enabled IS NULL OR p_gate_keys IS NULL OR cardinality(p_gate_keys) = 0 THEN
        RAISE EXCEPTION 'fn_iu_set_gates: enabled and gate_keys are required (got enabled=%, gate_keys=%)',
            p_enabled, p_gate_keys USING ERRCODE = 'IU001';
    END IF;

    SELECT k INTO v_unknown
      FROM unnest(p_gate_keys) AS k
     WHERE NOT EXISTS (SELECT 1 FROM iu_core.iu_gate g WHERE g.gate_key = k)
     ORDER BY k LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown gate %', quote_nullable(v_unknown)
            USING ERRCODE = 'IU006',
                  HINT = 'known gates are the rows of iu_core.iu_gate';
    END IF;

    PERFORM 1 FROM iu_core.iu_gate
      WHERE gate_key = ANY (p_gate_keys)
      ORDER BY gate_key
      FOR UPDATE;

    UPDATE iu_core.iu_gate
       SET enabled = p_enabled
     WHERE gate_key = ANY (p_gate_keys);
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    RETURN v_changed;
END;
$$;

-- The first closed gate among those given (a missing gate row counts as
-- closed), or NULL when all are open. No gates named is an error, not "all open".
CREATE OR REPLACE FUNCTION iu_core.fn_iu_first_closed_gate(p_gate_keys text[])
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_gate text;
BEGIN
    IF p_gate_keys IS NULL OR cardinality(p_gate_keys) = 0 THEN
        RAISE EXCEPTION 'fn_iu_first_closed_gate: argument gate_keys is required, got %', quote_nullable(p_gate_keys)
            USING ERRCODE = 'IU001';
    END IF;
    SELECT k INTO v_gate
      FROM unnest(p_gate_keys) AS k
      LEFT JOIN iu_core.iu_gate g ON g.gate_key = k
     WHERE g.enabled IS NOT TRUE
     ORDER BY k
     LIMIT 1;
    RETURN v_gate;
END;
$$;
