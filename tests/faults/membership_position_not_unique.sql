-- membership_position_not_unique.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: iu_core.iu_piece_membership may hold two members at one (collection_id, position) (SPEC: one).
-- The catalogue shows it, whatever the build named the key.
-- Violates: [S1.tbl.membership]
-- Caught by: spec_catalog

\ir lib/drop_unique.sql

SELECT iu_core.fault_drop_unique('iu_core.iu_piece_membership', '{collection_id,position}');                                                  -- FAULT
DROP FUNCTION iu_core.fault_drop_unique(regclass, text[]);
