-- baseline_template_loses_a_piece.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the baselines load with one piece fewer in tpl:wf:onboarding/v1 (a trigger drops its first
-- member as it is written): 20 template pieces, not 21, so the seed's end state is not SPEC's.
-- Violates: [S2.templates], [S2.after], [S2.seed-50000x]
-- Caught by: pinned_seed_numbers

CREATE FUNCTION iu_core.fault_skip_first_piece() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position = 1 AND EXISTS (SELECT 1 FROM iu_core.iu_piece_collection c                    -- FAULT
                                     WHERE c.id = NEW.collection_id AND c.collection_key = 'tpl:wf:onboarding/v1') THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER fault_skip_first_piece BEFORE INSERT ON iu_core.iu_piece_membership
    FOR EACH ROW EXECUTE FUNCTION iu_core.fault_skip_first_piece();
