-- digest_ignores_the_graph.sql: a deliberately broken iu_core build (test fixture).
-- Bug: every piece-graph digest is the same constant, so "instance digest ==
-- template digest" holds trivially while the digest proves nothing. Must be
-- caught by: digest_equality, which compares the mix's templates' digests with
-- their piece graphs read independently (tests/test_broken_builds.py).

CREATE OR REPLACE FUNCTION iu_core.fn_iu_piece_graph_digest(graph text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '0123456789abcdef'::text
$$;

CREATE OR REPLACE FUNCTION iu_core.fn_iu_manifest_digest(collection_id uuid)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '0123456789abcdef'::text
$$;
