-- manifest_digest_ignores_positions.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the public digest is keyed on the members' (iu id, content_hash) in position order, but not
-- on the position numbers themselves (SPEC: a different position gives a different digest).
-- Violates: [S1.digest.graph]
-- Caught by: probe_digest_keyed_on_graph

ALTER FUNCTION iu_core.fn_iu_manifest_digest(uuid) RENAME TO fn_iu_manifest_digest_before_fault;
CREATE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT left(md5(coalesce(string_agg(m.iu_id || ':' || i.content_hash, ',' ORDER BY m.position), '')), 16)  -- FAULT
      FROM iu_core.iu_piece_membership m JOIN iu_core.iu i ON i.id = m.iu_id WHERE m.collection_id = $1
$$;
