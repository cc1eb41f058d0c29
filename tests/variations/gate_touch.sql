-- gate_touch.sql: a conforming variation (loaded with --iu-extra-sql on any build), NOT a fault.
-- iu_gate gets an updated_at column its own trigger bumps: the harness's gate toggles change it,
-- so nothing may compare gate rows beyond SPEC's columns. Every invariant must still hold.

ALTER TABLE iu_core.iu_gate ADD COLUMN updated_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE FUNCTION iu_core.variation_touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END$$;
CREATE TRIGGER variation_touch BEFORE UPDATE ON iu_core.iu_gate FOR EACH ROW EXECUTE FUNCTION iu_core.variation_touch();
