-- 20_gate_rows.sql
-- Deploys: the two gate rows of [S1.gate.rows], both closed.
-- Needs:   10_tables.sql.

INSERT INTO iu_core.iu_gate (gate_key, enabled, purpose) VALUES
    ('iu_core.auto_instantiate_enabled', false, 'fn_iu_auto_instantiate_from_event may write'),
    ('iu_core.composer_enabled',         false, 'instances may be composed from templates')
ON CONFLICT (gate_key) DO NOTHING;
