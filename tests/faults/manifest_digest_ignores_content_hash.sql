-- manifest_digest_ignores_content_hash.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the public digest is keyed on the members' (position, iu id) in order, without the units'
-- content_hash (SPEC: every part counts). Instances still equal their templates, distinct templates
-- still differ; only a unit whose content changed shows it.
-- Violates: [S1.digest.graph]
-- Caught by: probe_digest_keyed_on_graph

ALTER FUNCTION iu_core.fn_iu_manifest_digest(uuid) RENAME TO fn_iu_manifest_digest_before_fault;
CREATE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT left(md5(coalesce(string_agg(m.position || ':' || m.iu_id, ',' ORDER BY m.position), '')), 16)  -- FAULT
      FROM iu_core.iu_piece_membership m WHERE m.collection_id = $1
$$;
