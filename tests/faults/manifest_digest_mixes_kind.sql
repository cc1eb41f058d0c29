-- manifest_digest_mixes_kind.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the public iu_core.fn_iu_manifest_digest mixes the kind label into the digest
-- (of workflows; files keep theirs). An instance has its template's kind, so instance ==
-- template still holds through this function; a collection of another kind with the same
-- pieces shows it. Must be caught by: probe_digest_keyed_on_graph (and digest_equality
-- too where the build stores digests it computed without the public function).
-- Violates: [S1.digest.not-labels]
-- Caught by: probe_digest_keyed_on_graph

ALTER FUNCTION iu_core.fn_iu_manifest_digest(uuid) RENAME TO fn_iu_manifest_digest_before_fault;

CREATE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE c.kind WHEN 'file' THEN iu_core.fn_iu_manifest_digest_before_fault($1)
                       ELSE left(md5(iu_core.fn_iu_manifest_digest_before_fault($1) || c.kind), 16) END
      FROM iu_core.iu_piece_collection c WHERE c.id = $1
$$;
