-- manifest_digest_mixes_key.sql: a SPEC-only fault (loaded with --iu-extra-sql on ANY build).
-- Fault: the public iu_core.fn_iu_manifest_digest mixes the collection key into the digest,
-- so it is no longer keyed on the piece graph only. A build whose orchestrator never calls
-- the public function still stores the right digests; only a harness that recomputes
-- through SPEC's own function notices. Must be caught by: digest_equality.
-- Uses SPEC names only: the build's function is kept under another name and wrapped.
-- Violates: [S1.digest.not-labels]
-- Caught by: digest_equality

ALTER FUNCTION iu_core.fn_iu_manifest_digest(uuid) RENAME TO fn_iu_manifest_digest_before_fault;

CREATE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT left(md5(iu_core.fn_iu_manifest_digest_before_fault($1) || c.collection_key), 16)
      FROM iu_core.iu_piece_collection c WHERE c.id = $1
$$;
