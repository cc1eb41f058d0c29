-- A behaviour-preserving edit of one function of our build (iu_core.fn_iu_first_closed_gate): a comment
-- added to its body, so its normalized definition (pg_get_functiondef) changes and nothing else does.
-- Loaded with --iu-extra-sql by the incremental-mutation tests: only this function's mutants run again.
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
    RETURN v_gate;  -- the first closed gate in key order, or NULL when every gate is open
END;
$$;
