-- 020_reference_data.sql
-- Deploys: the two feature gates (closed at rest) and the defined emit modes.
-- Needs:   010_tables.sql.
-- ON CONFLICT DO NOTHING: re-running never reopens or resets a gate.

INSERT INTO iu_core.iu_gate (gate_key, enabled) VALUES
    ('iu_core.auto_instantiate_enabled', false),
    ('iu_core.composer_enabled', false)
ON CONFLICT (gate_key) DO NOTHING;

INSERT INTO iu_core.iu_emit_mode (emit_mode, description) VALUES
    ('live', 'composed in reaction to a live event'),
    ('backfill', 'composed while replaying historical events')
ON CONFLICT (emit_mode) DO NOTHING;
