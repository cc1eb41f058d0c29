-- manifest_digest_upper_case.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the public digest is the build's own, in upper case (SPEC: 16 lowercase hexadecimal
-- characters). It is as distinct and as stable as before.
-- Violates: [S1.digest.shape]
-- Caught by: probe_digest_keyed_on_graph

ALTER FUNCTION iu_core.fn_iu_manifest_digest(uuid) RENAME TO fn_iu_manifest_digest_before_fault;
CREATE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT upper(iu_core.fn_iu_manifest_digest_before_fault($1))                                  -- FAULT
$$;
