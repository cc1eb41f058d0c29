-- gate_key_not_a_key.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: iu_core.iu_gate.gate_key is no longer its primary key (nor unique).
-- The catalogue shows it, whatever the build named the key.
-- Violates: [S1.tbl.gate]
-- Caught by: spec_catalog

\ir lib/drop_unique.sql

SELECT iu_core.fault_drop_unique('iu_core.iu_gate', '{gate_key}');                                                  -- FAULT
DROP FUNCTION iu_core.fault_drop_unique(regclass, text[]);
