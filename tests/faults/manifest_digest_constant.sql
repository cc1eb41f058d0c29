-- manifest_digest_constant.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the public digest is one constant of the right shape: every instance equals its template,
-- and every template every other (SPEC: two templates with different pieces differ).
-- Violates: [S1.digest.reuse]
-- Caught by: digest_equality, probe_digest_keyed_on_graph

ALTER FUNCTION iu_core.fn_iu_manifest_digest(uuid) RENAME TO fn_iu_manifest_digest_before_fault;
CREATE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '0123456789abcdef'::text                                                              -- FAULT
$$;
